package quantquality

import "testing"

func TestFigureKey(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"text→image R@10 (exact search)", "text_to_image_R@10_exact_search"},
		{"analogy mean R@10 (add)", "analogy_mean_R@10_add"},
		{"mean cosine(float32, int8) per image", "mean_cosine_float32_int8_per_image"},
	} {
		if got := figureKey(tc.name); got != tc.want {
			t.Errorf("figureKey(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	r := &Result{Pass: true, MeanCosine: 0.999, Checks: []Check{{Name: "analogy mean R@10 (add)", Float32: 0.7, Int8: 0.69, Delta: -0.01}}}
	f := r.Figures()
	if f["pass"] != 1 || f["mean_cosine"] != 0.999 || f["analogy_mean_R@10_add.delta"] != -0.01 || f["analogy_mean_R@10_add.int8"] != 0.69 {
		t.Errorf("figures %v", f)
	}
}
