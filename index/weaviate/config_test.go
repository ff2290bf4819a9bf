package weaviate

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, key string
		want    Config
		err     string // substring of the error; "" = no error
	}{
		{in: "weaviate://127.0.0.1:8080/Photos", want: Config{Scheme: "http", Host: "127.0.0.1:8080", Collection: "Photos", Consistency: "QUORUM"}},
		{in: "weaviate://localhost:8080/Photos?shards=3&replicas=2&consistency=one&ef=64", want: Config{Scheme: "http", Host: "localhost:8080", Collection: "Photos", Shards: 3, Replicas: 2, Consistency: "ONE", Ef: 64}},
		{in: "https://[::1]:443/P_2", want: Config{Scheme: "https", Host: "[::1]:443", Collection: "P_2", Consistency: "QUORUM"}},
		{in: "weaviate+https://db.example:443/Photos", key: "k", want: Config{Scheme: "https", Host: "db.example:443", Collection: "Photos", Consistency: "QUORUM", APIKey: "k"}},
		{in: "weaviate://db.example:8080/Photos", err: "API key is required"},
		{in: "weaviate://10.0.0.5:8080/Photos", err: "API key is required"},
		{in: "weaviate://user:pw@127.0.0.1:8080/Photos", err: "credentials do not go in the URL"},
		{in: "weaviate://127.0.0.1/Photos", err: "want HOST:PORT"},
		{in: "weaviate://127.0.0.1:99999/Photos", err: "port"},
		{in: "ftp://127.0.0.1:8080/Photos", err: "scheme"},
		{in: "weaviate://127.0.0.1:8080/photos", err: "capital letter"},
		{in: "weaviate://127.0.0.1:8080/", err: "collection"},
		{in: "weaviate://127.0.0.1:8080/P?shards=x", err: "not a number"},
		{in: "weaviate://127.0.0.1:8080/P?shards=5000", err: "shards 5000 out of range"},
		{in: "weaviate://127.0.0.1:8080/P?replicas=-1", err: "replicas -1 out of range"},
		{in: "weaviate://127.0.0.1:8080/P?consistency=some", err: "consistency"},
		{in: "weaviate://127.0.0.1:8080/P?ef=100000", err: "ef 100000 out of range"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseURL(tc.in)
			if err == nil && tc.key != "" {
				t.Fatalf("accepted without the key")
			}
			if tc.key != "" {
				got.APIKey = tc.key
				err = got.Validate()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestUUIDRoundTrip(t *testing.T) {
	ids := []uint64{0, 1, 42, 1<<48 - 1, 1 << 48, 1<<60 + 7, 1<<64 - 1}
	for range 1000 {
		ids = append(ids, rand.Uint64())
	}
	for _, id := range ids {
		u := UUID(id)
		if len(u) != 36 || u[14] != '8' || u[19] != '8' {
			t.Fatalf("UUID(%d) = %s: not a version-8, RFC-variant UUID", id, u)
		}
		back, ok := parseUUID(u)
		if !ok || back != id {
			t.Fatalf("parseUUID(UUID(%d)=%s) = %d, %v", id, u, back, ok)
		}
	}
	for _, bad := range []string{"", "12345678-0000-8000-8000-000000000001", "00000000-0000-4000-8000-000000000001", "00000000-0000-8000-9000-000000000001", "00000000-0000-8000-8000-00000000000g"} {
		if _, ok := parseUUID(bad); ok {
			t.Fatalf("parseUUID(%q) accepted a UUID mmsearch did not make", bad)
		}
	}
}

func TestIDSet(t *testing.T) {
	s := newIDSet()
	want := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		id := rng.Uint64N(300000)
		if rng.IntN(3) == 0 {
			if s.Remove(id) != want[id] {
				t.Fatalf("Remove(%d) disagrees", id)
			}
			delete(want, id)
		} else {
			if s.Add(id) == want[id] {
				t.Fatalf("Add(%d) disagrees", id)
			}
			want[id] = true
		}
	}
	if s.Len() != len(want) {
		t.Fatalf("Len %d, want %d", s.Len(), len(want))
	}
	prev, n := uint64(0), 0
	s.Each(func(id uint64) {
		if !want[id] || n > 0 && id <= prev {
			t.Fatalf("Each gave %d (after %d)", id, prev)
		}
		prev = id
		n++
	})
	if n != len(want) {
		t.Fatalf("Each gave %d ids, want %d", n, len(want))
	}
}
