package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Point is one measurement on a curve, e.g. (recall@10, queries/s) at one ef.
type Point struct {
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Label string  `json:"label,omitempty"` // the parameter setting, e.g. "ef=64"
}

// Series is one named curve: one backend's points in parameter order.
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// LinePlot is a set of curves sharing axes, drawn as lines with point markers,
// in the manner of ann-benchmarks (recall on X, queries/s on a log Y axis).
type LinePlot struct {
	Title  string
	XLabel string
	YLabel string
	LogY   bool     // log-scaled Y axis; every Y must then be > 0
	LogX   bool     // log-scaled X axis; every X must then be > 0
	XMin   *float64 // optional fixed X range; nil means fit the data
	XMax   *float64
	Width  float64 // inches; 0 means 8
	Height float64 // inches; 0 means 6
	Series []Series
	// Footer is a line under the X axis naming the run (PlotFooter).
	Footer string
}

// SavePNG draws the plot and writes it to path as a PNG image.
func (lp LinePlot) SavePNG(path string) error {
	p, err := lp.build()
	if err != nil {
		return fmt.Errorf("plot %q: %w", lp.Title, err)
	}
	return savePNG(p, lp.Width, lp.Height, path)
}

func (lp LinePlot) build() (*plot.Plot, error) {
	if len(lp.Series) == 0 {
		return nil, errors.New("no series to draw")
	}
	p := plot.New()
	p.Title.Text = lp.Title
	p.X.Label.Text = withFooter(lp.XLabel, lp.Footer)
	p.Y.Label.Text = lp.YLabel
	p.Legend.Top = false
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	if lp.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if lp.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	drawn := 0
	for i, s := range lp.Series {
		if len(s.Points) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			if !finite(pt.X) || !finite(pt.Y) {
				return nil, fmt.Errorf("series %q point %d: (%v, %v) is not finite", s.Name, j, pt.X, pt.Y)
			}
			if lp.LogY && pt.Y <= 0 {
				return nil, fmt.Errorf("series %q point %d: y=%v cannot go on a log axis", s.Name, j, pt.Y)
			}
			if lp.LogX && pt.X <= 0 {
				return nil, fmt.Errorf("series %q point %d: x=%v cannot go on a log axis", s.Name, j, pt.X)
			}
			xys[j] = plotter.XY{X: pt.X, Y: pt.Y}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
		drawn++
	}
	if drawn == 0 {
		return nil, errors.New("every series is empty")
	}
	if lp.XMin != nil {
		p.X.Min = *lp.XMin
	}
	if lp.XMax != nil {
		p.X.Max = *lp.XMax
	}
	if p.X.Min > p.X.Max {
		return nil, fmt.Errorf("empty X range [%v, %v]", p.X.Min, p.X.Max)
	}
	// Leave room around the data so markers on the edges stay whole.
	if lp.LogX && lp.XMin == nil && lp.XMax == nil {
		p.X.Min, p.X.Max = p.X.Min/1.3, p.X.Max*1.3
	} else if lp.XMin == nil && lp.XMax == nil {
		pad := (p.X.Max - p.X.Min) * 0.03
		if pad == 0 { // a single X value: centre it
			pad = math.Max(math.Abs(p.X.Min)*0.05, 0.01)
		}
		p.X.Min, p.X.Max = p.X.Min-pad, p.X.Max+pad
	}
	if lp.LogY {
		p.Y.Min, p.Y.Max = p.Y.Min/1.3, p.Y.Max*1.3
	} else {
		pad := (p.Y.Max - p.Y.Min) * 0.05
		if pad == 0 {
			pad = math.Max(math.Abs(p.Y.Min)*0.1, 1)
		}
		p.Y.Min, p.Y.Max = p.Y.Min-pad, p.Y.Max+pad
	}
	return p, nil
}

// BarSeries is one family of bars: its value in each group, in group order.
type BarSeries struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// BarChart is a grouped bar chart: for each group (e.g. k in recall@k) one bar
// per series (e.g. per query family or model), side by side.
type BarChart struct {
	Title  string
	YLabel string
	Groups []string // labels under each group of bars
	Series []BarSeries
	YMin   *float64 // optional fixed Y range; nil means fit the data (from 0)
	YMax   *float64
	Width  float64 // inches; 0 means 8
	Height float64 // inches; 0 means 6
	// Footer is a line under the groups naming the run (PlotFooter).
	Footer string
}

// SavePNG draws the chart and writes it to path as a PNG image.
func (bc BarChart) SavePNG(path string) error {
	p, err := bc.build()
	if err != nil {
		return fmt.Errorf("bar chart %q: %w", bc.Title, err)
	}
	return savePNG(p, bc.Width, bc.Height, path)
}

func (bc BarChart) build() (*plot.Plot, error) {
	if len(bc.Groups) == 0 {
		return nil, errors.New("no groups")
	}
	if len(bc.Series) == 0 {
		return nil, errors.New("no series")
	}
	p := plot.New()
	p.Title.Text = bc.Title
	p.Y.Label.Text = bc.YLabel
	p.X.Label.Text = withFooter("", bc.Footer)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	// Bars of one group share its slot: 0.8 of the distance between groups,
	// estimated from the canvas width less the axis and margins.
	wIn := bc.Width
	if wIn <= 0 {
		wIn = defaultWidth
	}
	slot := math.Max((wIn*72-80)/float64(len(bc.Groups))*0.8, 4)
	width := vg.Points(slot / float64(len(bc.Series)))
	for i, s := range bc.Series {
		if len(s.Values) != len(bc.Groups) {
			return nil, fmt.Errorf("series %q has %d values for %d groups", s.Name, len(s.Values), len(bc.Groups))
		}
		for j, v := range s.Values {
			if !finite(v) {
				return nil, fmt.Errorf("series %q group %q: value %v is not finite", s.Name, bc.Groups[j], v)
			}
		}
		bars, err := plotter.NewBarChart(plotter.Values(s.Values), width)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		bars.LineStyle.Width = vg.Length(0)
		bars.Color = plotutil.Color(i)
		bars.Offset = vg.Points((float64(i) - float64(len(bc.Series)-1)/2) * slot / float64(len(bc.Series)))
		p.Add(bars)
		p.Legend.Add(s.Name, bars)
	}
	p.NominalX(bc.Groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(bc.Groups))-0.5
	p.Y.Max *= 1.15 // room for the legend above the tallest bar
	if bc.YMin != nil {
		p.Y.Min = *bc.YMin
	}
	if bc.YMax != nil {
		p.Y.Max = *bc.YMax
	}
	if p.Y.Min >= p.Y.Max {
		p.Y.Max = p.Y.Min + 1
	}
	return p, nil
}

func savePNG(p *plot.Plot, wIn, hIn float64, path string) (err error) {
	if wIn <= 0 {
		wIn = defaultWidth
	}
	if hIn <= 0 {
		hIn = defaultHeight
	}
	// gonum/plot panics on some degenerate inputs the checks above may miss;
	// report those as errors rather than crash a benchmark at its last step.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw %s: %v", path, r)
		}
	}()
	wt, err := p.WriterTo(vg.Length(wIn)*vg.Inch, vg.Length(hIn)*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("draw %s: %w", path, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return fmt.Errorf("draw %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	return nil
}

// Default plot size in inches.
const (
	defaultWidth  = 8
	defaultHeight = 6
)

// PlotFooter names the run under a plot: machine, load at the start, date
// and revision, and UNCLEAN when the header says so, so that a plot copied
// out of its report still says where its figures come from.
func PlotFooter(h Header) string {
	rev := h.GitRev
	if len(rev) > 12 && !strings.HasSuffix(rev, "-dirty") {
		rev = rev[:12]
	} else if strings.HasSuffix(rev, "-dirty") && len(rev) > 18 {
		rev = rev[:12] + "-dirty"
	}
	cpu := fmt.Sprintf("%s, %d CPUs", h.Machine.CPU, h.Machine.Cores)
	if h.Machine.LoadAvg != "" {
		cpu += ", load " + strings.Fields(h.Machine.LoadAvg)[0]
	}
	s := fmt.Sprintf("%s · %s · rev %s", cpu, h.Date.Format("2006-01-02 15:04 MST"), rev)
	if len(h.Unclean) > 0 {
		s = "UNCLEAN RUN · " + s
	}
	return s
}

// withFooter puts footer on a line of its own under an axis label.
func withFooter(label, footer string) string {
	switch {
	case footer == "":
		return label
	case label == "":
		return footer
	}
	return label + "\n" + footer
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
