package retrieval

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestScorer(t *testing.T) {
	tests := []struct {
		name   string
		ks     []int
		ranks  []int
		ties   []bool // per rank; nil: none tie
		recall []KValue
		mrr    float64
		r1Ties float64
	}{
		{"none", []int{1, 5}, nil, nil, []KValue{{1, 0}, {5, 0}}, 0, 0},
		{"all first", []int{1, 10}, []int{1, 1, 1}, nil, []KValue{{1, 1}, {10, 1}}, 1, 1},
		{"mixed", []int{1, 5, 10}, []int{1, 2, 0, 7}, nil, []KValue{{1, 0.25}, {5, 0.5}, {10, 0.75}}, (1 + 0.5 + 1.0/7) / 4, 0.25},
		{"beyond depth is a miss", []int{1, 5}, []int{6, 5}, []bool{true, true}, []KValue{{1, 0}, {5, 0.5}}, 0.2 / 2, 0.5},
		{"unsorted ks", []int{10, 1, 10}, []int{3}, nil, []KValue{{1, 0}, {10, 1}}, 1.0 / 3, 0},
		{"ties count only for R1Ties", []int{1, 5}, []int{2, 3, 0, 1}, []bool{true, false, true, false}, []KValue{{1, 0.25}, {5, 0.75}}, (0.5 + 1.0/3 + 1) / 4, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := NewScorer(tt.ks)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range tt.ranks {
				sc.Add(r, tt.ties != nil && tt.ties[i])
			}
			s := sc.Score()
			if s.Queries != len(tt.ranks) || !reflect.DeepEqual(s.Recall, tt.recall) || math.Abs(s.MRR-tt.mrr) > 1e-12 || s.R1Ties != tt.r1Ties {
				t.Errorf("score %+v, want recall %v mrr %v r1 with ties %v", s, tt.recall, tt.mrr, tt.r1Ties)
			}
			if s.Depth != tt.recall[len(tt.recall)-1].K {
				t.Errorf("depth %d", s.Depth)
			}
			if s.At(tt.recall[0].K) != tt.recall[0].Value || s.At(999) != -1 {
				t.Errorf("At: %v %v", s.At(tt.recall[0].K), s.At(999))
			}
		})
	}
}

func TestNormalizeKsErrors(t *testing.T) {
	for _, ks := range [][]int{nil, {0}, {5, -1}} {
		if _, err := NormalizeKs(ks); err == nil {
			t.Errorf("NormalizeKs(%v) accepted", ks)
		}
	}
	got, err := NormalizeKs([]int{10, 5, 1, 5})
	if err != nil || !reflect.DeepEqual(got, []int{1, 5, 10}) {
		t.Errorf("NormalizeKs = %v, %v", got, err)
	}
}

func TestFirstHit(t *testing.T) {
	keys := []string{"a", "b", "c", "b"}
	for want, k := range map[int]string{1: "a", 2: "b", 3: "c", 0: "z"} {
		if got := FirstHit(keys, func(s string) bool { return s == k }); got != want {
			t.Errorf("FirstHit(%q) = %d, want %d", k, got, want)
		}
	}
}

func TestRankOf(t *testing.T) {
	type hit struct {
		ok    bool
		score float32
	}
	tests := []struct {
		name string
		got  []hit
		rank int
		tie  bool
	}{
		{"first", []hit{{true, 0.9}, {false, 0.8}}, 1, true},
		{"second, tied", []hit{{false, 0.9}, {true, 0.9}}, 2, true},
		{"third, tied within epsilon", []hit{{false, 0.5}, {false, 0.5}, {true, 0.4999996}}, 3, true},
		{"second, lower", []hit{{false, 0.9}, {true, 0.89}}, 2, false},
		{"none", []hit{{false, 0.9}}, 0, false},
	}
	for _, tt := range tests {
		r, tie := RankOf(tt.got, func(h hit) bool { return h.ok }, func(h hit) float32 { return h.score })
		if r != tt.rank || tie != tt.tie {
			t.Errorf("%s: RankOf = %d, %v; want %d, %v", tt.name, r, tie, tt.rank, tt.tie)
		}
	}
}

func TestReadLines(t *testing.T) {
	var got []int
	err := ReadLines(strings.NewReader("a\n\n  \nb\r\nc"), "f", func(line []byte, n int) error {
		got = append(got, n)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, []int{1, 4, 5}) {
		t.Errorf("lines %v, %v", got, err)
	}
}
