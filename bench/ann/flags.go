package ann

import (
	"fmt"
	"sort"
)

// ImplausibleRecall is the best recall@10 below which a backend's figures
// are flagged: an HNSW that never finds half of the true neighbours at any
// swept ef is broken or misused, and its queries/s compare with nothing.
const ImplausibleRecall = 0.5

// NonMonotonicSlack is how much faster (as a fraction) a point may be than
// the point at the next smaller ef before it is flagged: a wider beam does
// more work, so a faster result there is noise in the timing, not a finding.
const NonMonotonicSlack = 0.05

// Implausible reports whether the backend's best recall@10 is below
// ImplausibleRecall. The exact index is never implausible.
func (b *BackendResult) Implausible() bool {
	if b.Name == BackendFlat || len(b.Points) == 0 {
		return false
	}
	return bestRecall10(b) < ImplausibleRecall
}

// NonMonotonic lists the ef values at which single-thread queries/s rose by
// more than NonMonotonicSlack over the next smaller ef, or recall@10 fell:
// both go against how a beam search works, so such a point says the
// timing (or the build) was disturbed.
func (b *BackendResult) NonMonotonic() []int {
	pts := append([]Point(nil), b.Points...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Ef < pts[j].Ef })
	var efs []int
	for i := 1; i < len(pts); i++ {
		prev, p := pts[i-1], pts[i]
		if p.Ef == 0 || prev.Ef == 0 {
			continue
		}
		if p.QPS1 > prev.QPS1*(1+NonMonotonicSlack) || p.Recall10 < prev.Recall10-1e-9 {
			efs = append(efs, p.Ef)
		}
	}
	return efs
}

// flagLines are the headline's warnings about implausible backends and
// non-monotonic curves.
func (r *Result) flagLines() []string {
	var lines []string
	for i := range r.Backends {
		b := &r.Backends[i]
		if b.Implausible() {
			lines = append(lines, fmt.Sprintf("FLAG %s: best recall@10 %.4f is below %.1f at every ef: implausible for an HNSW (broken or misused); its q/s are not comparable and it is drawn off the zoomed recall axis", b.Name, bestRecall10(b), ImplausibleRecall))
		}
		if efs := b.NonMonotonic(); len(efs) > 0 {
			lines = append(lines, fmt.Sprintf("FLAG %s: non-monotonic at ef %v (q/s more than %.0f%% above the next smaller ef, or recall lower): timing noise; read those points with care", b.Name, efs, NonMonotonicSlack*100))
		}
	}
	return lines
}
