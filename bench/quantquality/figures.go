package quantquality

import (
	"strings"
	"unicode"
)

// Figures returns the gate's numbers by name: each check's float32 and
// int8 values and their delta (keys from the check's name, e.g.
// "text_to_image_R@10_exact_search.delta"), the per-image cosines, the
// number of images compared, and pass (1) or fail (0).
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{
		"mean_cosine": r.MeanCosine,
		"min_cosine":  r.MinCosine,
		"p1_cosine":   r.P1Cosine,
		"images":      float64(r.Images),
		"pass":        0,
	}
	if r.Pass {
		f["pass"] = 1
	}
	for _, c := range r.Checks {
		k := figureKey(c.Name)
		f[k+".float32"], f[k+".int8"], f[k+".delta"] = c.Float32, c.Int8, c.Delta
	}
	return f
}

// figureKey turns a check's name into a key: "→" becomes "_to_", letters,
// digits and "@" stay, every other run of characters becomes one "_".
func figureKey(name string) string {
	var b strings.Builder
	sep := false
	for _, c := range strings.ReplaceAll(name, "→", " to ") {
		if unicode.IsLetter(c) || unicode.IsDigit(c) || c == '@' {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(c)
			continue
		}
		sep = true
	}
	return b.String()
}
