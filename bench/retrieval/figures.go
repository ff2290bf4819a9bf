package retrieval

import (
	"fmt"
	"strings"
)

// Figures returns the score's numbers by name: "R@k" for each k measured,
// "MRR@depth" and "R@1_ties". They are what eval.json files and report
// figures hold.
func (s Score) Figures() map[string]float64 {
	f := make(map[string]float64, len(s.Recall)+2)
	for _, r := range s.Recall {
		f[fmt.Sprintf("R@%d", r.K)] = r.Value
	}
	f[fmt.Sprintf("MRR@%d", s.Depth)] = s.MRR
	f["R@1_ties"] = s.R1Ties
	return f
}

// TaskKey writes a task name in ASCII for figure names: "text→image" is
// "text_to_image".
func TaskKey(task string) string {
	return strings.ReplaceAll(strings.ReplaceAll(task, "→", "_to_"), " ", "_")
}

// Figures returns every row's numbers by name,
// TASK.SUBSET.SEARCH.METRIC (such as "text_to_image.all.exact.R@10"), with
// the row's query count as TASK.SUBSET.SEARCH.n and its speed as .qps.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{}
	for _, row := range r.Rows {
		prefix := strings.Join([]string{TaskKey(row.Task), strings.ReplaceAll(row.Subset, " ", "_"), row.Search}, ".") + "."
		for name, v := range row.Score.Figures() {
			f[prefix+name] = v
		}
		f[prefix+"n"] = float64(row.Queries)
		f[prefix+"qps"] = row.QPS
	}
	return f
}
