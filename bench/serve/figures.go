package serve

// Figures returns the headline's numbers by name: requests/s, latency
// percentiles overall and by query kind, errors, and the process's memory.
func (d *Data) Figures() map[string]float64 {
	f := map[string]float64{
		"clients":             float64(d.Clients),
		"requests_per_second": d.RequestsPerSec,
		"requests":            float64(d.Overall.Requests),
		"errors":              float64(d.Overall.Errors),
		"p50_ms":              d.Overall.P50ms,
		"p90_ms":              d.Overall.P90ms,
		"p99_ms":              d.Overall.P99ms,
	}
	for k, l := range d.ByKind {
		f[k+".p50_ms"], f[k+".p99_ms"] = l.P50ms, l.P99ms
	}
	if d.MemoryBefore.RSSMiB > 0 {
		f["rss_mib_before"] = d.MemoryBefore.RSSMiB
		f["rss_mib_after"] = d.MemoryAfter.RSSMiB
		f["peak_rss_mib"] = d.MemoryAfter.PeakMiB
	}
	return f
}
