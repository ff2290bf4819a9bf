package encoder

import "fmt"

// Figures returns the headline's numbers by name: images/s per batch size,
// ours and plain ONNX Runtime, their ratio, and the text query latency.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{
		"text_query_p50_ms":         r.TextP50Ms,
		"text_query_p99_ms":         r.TextP99Ms,
		"plain_ort_one_text_p50_ms": r.PlainTextP50,
		"text_templates_per_query":  float64(r.Templates),
	}
	for _, row := range r.Rows {
		b := fmt.Sprintf("batch_%d.", row.Batch)
		f[b+"images_per_s"] = row.OursPerSec
		f[b+"plain_ort_images_per_s"] = row.PlainPerSec
		f[b+"ratio_ours_over_plain_ort"] = row.Ratio
	}
	return f
}
