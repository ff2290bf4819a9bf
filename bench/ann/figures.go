package ann

import "fmt"

// Figures returns the headline's numbers by name: for each backend, the
// smallest ef reaching recall@10 ≥ TargetRecall and ≥ HighRecall with the
// recall and single-thread queries/s there, its build times and speed-up;
// the ours/hnswlib ratios; our index's memory and save/load figures.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{}
	for i := range r.Backends {
		b := &r.Backends[i]
		for _, target := range []float64{TargetRecall, HighRecall} {
			if p, ok := b.firstReaching(target); ok {
				at := fmt.Sprintf("at_recall10_%.2f", target)
				f[b.Name+".ef_"+at] = float64(p.Ef)
				f[b.Name+".recall10_"+at] = p.Recall10
				f[b.Name+".qps_1_thread_"+at] = p.QPS1
				f[b.Name+".qps_all_threads_"+at] = p.QPSAll
			}
		}
		if b.Build1Seconds > 0 {
			f[b.Name+".build_seconds_1_thread"] = b.Build1Seconds
		}
		if s := b.BuildSpeedup(); s > 0 {
			f[b.Name+".build_speedup"] = s
		}
		if m := b.Memory; m != nil {
			f[b.Name+".memory_bytes"] = float64(m.IndexBytes)
			f[b.Name+".memory_ratio"] = m.Ratio
			if m.Source == "" {
				f[b.Name+".heap_ratio"] = m.HeapRatio
			}
		}
		if p := b.Persist; p != nil {
			f[b.Name+".file_bytes"] = float64(p.FileBytes)
			f[b.Name+".save_seconds"] = p.SaveSeconds
			f[b.Name+".load_seconds"] = p.LoadSeconds
		}
	}
	h := r.Headline
	if h.QPSRatio > 0 {
		f[fmt.Sprintf("qps_ratio_ours_over_hnswlib_at_recall10_%.2f", TargetRecall)] = h.QPSRatio
	}
	if h.BuildRatio > 0 {
		f["build_ratio_ours_over_hnswlib"] = h.BuildRatio
	}
	// Every peer's ratio with its range over paired repetitions (reports
	// made before repetitions carry none).
	for _, pr := range h.Peers {
		if !pr.Reached {
			continue
		}
		key := fmt.Sprintf("qps_ratio_ours_over_%s_at_recall10_%.2f", pr.Peer, pr.Recall)
		f[key] = pr.QPS1.Median
		if pr.QPS1.Pairs > 1 {
			f[key+".min"], f[key+".max"] = pr.QPS1.Min, pr.QPS1.Max
		}
	}
	return f
}
