package cliproc

// Figures returns the headline's numbers by name: each timed command's wall
// p50 (by its first argument, such as "search.wall_p50_ms" and
// "version.wall_p50_ms", the process-start floor) and the in-process
// breakdown of a search.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{"items": float64(r.Items)}
	for _, c := range r.Commands {
		if len(c.Args) == 0 {
			continue
		}
		f[c.Args[0]+".wall_p50_ms"] = c.P50Ms
		f[c.Args[0]+".cpu_p50_ms"] = c.CPUP50Ms
	}
	b := r.Breakdown
	f["library_open_ms"] = b.OpenMs
	f["first_search_ms"] = b.FirstSearchMs
	f["warm_search_ms"] = b.WarmSearchMs
	return f
}
