package train

import (
	"bytes"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotMetrics draws the loss and learning-rate curves into
// out/training.png. A plot is a convenience: failures are ignored.
func plotMetrics(out string, ms []Metric) {
	if len(ms) < 2 {
		return
	}
	loss, lr := make(plotter.XYs, len(ms)), make(plotter.XYs, len(ms))
	for i, m := range ms {
		loss[i] = plotter.XY{X: float64(m.Step), Y: m.Loss}
		lr[i] = plotter.XY{X: float64(m.Step), Y: m.LR}
	}
	mk := func(title, y string, pts plotter.XYs) *plot.Plot {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "step"
		p.Y.Label.Text = y
		p.Add(plotter.NewGrid())
		if l, err := plotter.NewLine(pts); err == nil {
			p.Add(l)
		}
		return p
	}
	plots := [][]*plot.Plot{{mk("training loss", "loss", loss)}, {mk("learning rate", "lr", lr)}}
	img := vgimg.New(8*vg.Inch, 7*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, dc)
	for r := range plots {
		plots[r][0].Draw(canvases[r][0])
	}
	png := vgimg.PngCanvas{Canvas: img}
	var buf bytes.Buffer
	if _, err := png.WriteTo(&buf); err != nil {
		return
	}
	writeFileAtomic(filepath.Join(out, "training.png"), buf.Bytes())
}
