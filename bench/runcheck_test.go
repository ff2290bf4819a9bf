package bench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		state      RunState
		force      bool
		wantErr    bool
		wantReason []string // substrings, one per reason, in order
	}{
		{"clean to results", RunState{LoadAvg: "0.4 0.3 0.2", Cores: 2, ToResults: true}, false, false, nil},
		{"load at half the cores is quiet", RunState{LoadAvg: "1.00 0.9 0.8", Cores: 2, ToResults: true}, false, false, nil},
		{"dirty to results refused", RunState{Dirty: true, LoadAvg: "0.10 0.1 0.1", Cores: 2, ToResults: true}, false, true, []string{"uncommitted"}},
		{"busy to results refused", RunState{LoadAvg: "1.01 0.5 0.5", Cores: 2, ToResults: true}, false, true, []string{"load average 1.01"}},
		{"dirty and busy forced", RunState{Dirty: true, LoadAvg: "13.9 12 10", Cores: 2, ToResults: true}, true, false, []string{"uncommitted", "load average 13.90"}},
		{"busy elsewhere is recorded, not refused", RunState{LoadAvg: "3.00 2 1", Cores: 2}, false, false, []string{"half of the 2 cores"}},
		{"unknown load", RunState{LoadAvg: "", Cores: 2, ToResults: true}, false, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why, err := CheckRun(tc.state, tc.force)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!errors.Is(err, ErrUncleanRun) || !strings.Contains(err.Error(), "--force")) {
				t.Errorf("error %q: want ErrUncleanRun naming --force", err)
			}
			if len(why) != len(tc.wantReason) {
				t.Fatalf("reasons %q, want %d like %q", why, len(tc.wantReason), tc.wantReason)
			}
			for i, w := range tc.wantReason {
				if !strings.Contains(why[i], w) {
					t.Errorf("reason %d = %q, want it to contain %q", i, why[i], w)
				}
			}
		})
	}
}

func TestIsWithin(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "repo", ResultsDir)
	if err := os.MkdirAll(results, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(results, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{results, true},
		{filepath.Join(results, "ann-scale", "new"), true}, // not created yet
		{link, true},
		{filepath.Join(link, "sub"), true},
		{filepath.Join(dir, "repo", "bench"), false},
		{filepath.Join(dir, "repo", "bench", "results-old"), false},
		{filepath.Join(dir, "elsewhere"), false},
	} {
		if got := isWithin(tc.path, results); got != tc.want {
			t.Errorf("isWithin(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
