package ann

import (
	"fmt"
	"slices"
)

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Range is the smallest and largest of a figure over repetitions.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// rangeOf returns the range of xs; the zero Range for none.
func rangeOf(xs []float64) Range {
	if len(xs) == 0 {
		return Range{}
	}
	return Range{Min: slices.Min(xs), Max: slices.Max(xs)}
}

// medianOfReps folds the repetitions of a run into one result per backend:
// every time and q/s figure becomes the median over the repetitions, with
// each repetition's value kept beside it (Point.QPS1Reps, ...), and recall
// the median too (it moves only where a build is not deterministic, as a
// multi-threaded one is not). Memory and the persistence check come from
// the first repetition, load time is the median. With one repetition the
// result is returned as it is.
func medianOfReps(reps [][]BackendResult) ([]BackendResult, error) {
	if len(reps) == 0 {
		return nil, fmt.Errorf("no repetitions")
	}
	if len(reps) == 1 {
		return reps[0], nil
	}
	out := make([]BackendResult, len(reps[0]))
	for bi := range reps[0] {
		b := reps[0][bi]
		b.Points = slices.Clone(b.Points)
		var build1, buildAll, load []float64
		for ri, rep := range reps {
			if len(rep) != len(reps[0]) || rep[bi].Name != b.Name || len(rep[bi].Points) != len(b.Points) {
				return nil, fmt.Errorf("repetition %d measured other backends or points than the first", ri+1)
			}
			build1 = append(build1, rep[bi].Build1Seconds)
			buildAll = append(buildAll, rep[bi].BuildAllSeconds)
			if p := rep[bi].Persist; p != nil {
				load = append(load, p.LoadSeconds)
			}
		}
		if b.Build1Seconds > 0 {
			b.Build1Seconds, b.Build1Reps = median(build1), build1
		}
		if b.BuildAllSeconds > 0 {
			b.BuildAllSeconds, b.BuildAllReps = median(buildAll), buildAll
		}
		if b.Persist != nil && len(load) == len(reps) {
			p := *b.Persist
			p.LoadSeconds, p.LoadReps = median(load), load
			b.Persist = &p
		}
		for pi := range b.Points {
			var r1, r10, r100, q1, qAll, p50, p99 []float64
			for ri, rep := range reps {
				pt := rep[bi].Points[pi]
				if pt.Ef != b.Points[pi].Ef {
					return nil, fmt.Errorf("repetition %d: %s point %d has ef %d, the first has %d", ri+1, b.Name, pi, pt.Ef, b.Points[pi].Ef)
				}
				r1, r10, r100 = append(r1, pt.Recall1), append(r10, pt.Recall10), append(r100, pt.Recall100)
				q1, qAll = append(q1, pt.QPS1), append(qAll, pt.QPSAll)
				p50, p99 = append(p50, pt.P50Ms), append(p99, pt.P99Ms)
			}
			b.Points[pi] = Point{
				Ef: b.Points[pi].Ef, Recall1: median(r1), Recall10: median(r10), Recall100: median(r100),
				QPS1: median(q1), QPSAll: median(qAll), P50Ms: median(p50), P99Ms: median(p99),
				QPS1Reps: q1, QPSAllReps: qAll,
			}
		}
		out[bi] = b
	}
	return out, nil
}

// Ratio is a ratio of two backends' figures: the median over paired
// repetitions (repetition i of one against repetition i of the other, so
// that drift hits both sides of each pair) and its range; with one
// repetition Median is the only value and the range is that value.
type Ratio struct {
	Median float64 `json:"median"`
	Range
	Pairs int `json:"pairs"`
}

// pairedRatio is the ratio a[i]/b[i] over paired repetitions, or, when
// either side has no per-repetition values, aMedian/bMedian.
func pairedRatio(a, b []float64, aMedian, bMedian float64) Ratio {
	if len(a) == 0 || len(a) != len(b) {
		if aMedian <= 0 || bMedian <= 0 {
			return Ratio{}
		}
		r := aMedian / bMedian
		return Ratio{Median: r, Range: Range{r, r}, Pairs: 1}
	}
	rs := make([]float64, 0, len(a))
	for i := range a {
		if a[i] > 0 && b[i] > 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	if len(rs) == 0 {
		return Ratio{}
	}
	return Ratio{Median: median(rs), Range: rangeOf(rs), Pairs: len(rs)}
}

// String prints the ratio as "1.39 (1.31–1.45 over 5 paired repetitions)",
// or just the value for one pair.
func (r Ratio) String() string {
	if r.Pairs <= 1 {
		return fmt.Sprintf("%.2f", r.Median)
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f over %d paired repetitions)", r.Median, r.Min, r.Max, r.Pairs)
}

// spread prints a figure's range over repetitions as " [min–max]", or ""
// with fewer than two.
func spread(xs []float64, format string) string {
	if len(xs) < 2 {
		return ""
	}
	r := rangeOf(xs)
	return " [" + fmt.Sprintf(format, r.Min) + "–" + fmt.Sprintf(format, r.Max) + "]"
}
