package ingest

// Figures returns the headline's numbers by name: ingest and encoder-alone
// images/s of the median round, their ratio and its range over the rounds,
// and the re-run figures when measured.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{
		"ingest_images_per_s":       r.IngestPerSec,
		"encoder_only_images_per_s": r.EncoderPerSec,
		"ratio_ingest_over_encoder": r.Ratio,
		"rounds":                    float64(len(r.Rounds)),
	}
	if len(r.Rounds) > 0 {
		lo, hi := r.Rounds[0].Ratio, r.Rounds[0].Ratio
		for _, rd := range r.Rounds {
			lo, hi = min(lo, rd.Ratio), max(hi, rd.Ratio)
		}
		f["ratio_min"], f["ratio_max"] = lo, hi
	}
	if r.RerunSeconds > 0 {
		f["rerun_seconds"] = r.RerunSeconds
		f["rerun_first_run_seconds"] = r.RerunFirst
		f["rerun_fraction_of_first"] = r.RerunFraction
	}
	return f
}
