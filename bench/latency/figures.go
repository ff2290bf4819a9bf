package latency

// Figures returns the headline's numbers by name.
func (r *Result) Figures() map[string]float64 {
	return map[string]float64{
		"items":               float64(r.Items),
		"p50_ms":              r.P50Ms,
		"p90_ms":              r.P90Ms,
		"p99_ms":              r.P99Ms,
		"mean_ms":             r.MeanMs,
		"text_encoder_p50_ms": r.TextOnlyP50Ms,
	}
}
