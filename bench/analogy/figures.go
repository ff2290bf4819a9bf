package analogy

import (
	"fmt"
	"strings"
)

// Figures returns every family's numbers in every mode by name,
// FAMILY.MODE.METRIC (such as "colour.add.R@10", "mean_of_families.mul.R@1"), with the
// family's analogy count as FAMILY.MODE.n and each mode's speed as
// MODE.queries_per_s.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{}
	for _, s := range r.Scores {
		prefix := fmt.Sprintf("%s.%s.", strings.ReplaceAll(s.Family, " ", "_"), s.Mode)
		for name, v := range s.Score.Figures() {
			f[prefix+name] = v
		}
		f[prefix+"n"] = float64(s.Queries)
	}
	for _, t := range r.Times {
		if t.QPS > 0 {
			f[string(t.Mode)+".queries_per_s"] = t.QPS
		}
	}
	return f
}
