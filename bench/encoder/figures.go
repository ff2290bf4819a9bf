package encoder

import "fmt"

// Figures returns the headline's numbers by name: images/s per batch size,
// ours and plain ONNX Runtime, their ratio, and the text query latency;
// with an INT8 model also its images/s and its speed-up over float32.
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
	if q := r.Int8; q != nil {
		for i, row := range q.Rows {
			b := fmt.Sprintf("int8.batch_%d.", row.Batch)
			f[b+"images_per_s"] = row.OursPerSec
			if i < len(q.Speedup) {
				f[b+"speedup_over_float32"] = q.Speedup[i]
				f[b+"cpu_speedup_over_float32"] = q.CPUSpeedup[i]
			}
		}
	}
	return f
}
