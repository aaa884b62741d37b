package train

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a bar (step, loss, throughput, ETA) on a terminal and
// plain metric lines otherwise.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, total, done int) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("training"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200_000_000),
		)
		p.bar.Set(done)
	}
	return p
}

func (p *progress) update(step int, loss float64) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("loss %.4f", loss))
		p.bar.Set(step)
	}
}

func (p *progress) log(m Metric) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("loss %.4f  %.0f tok/s", m.Loss, m.TokensSec))
		return
	}
	line := fmt.Sprintf("step %d  epoch %.2f  loss %.4f  lr %.3g  grad-norm %.3g  %.0f tok/s  %.0fs",
		m.Step, m.Epoch, m.Loss, m.LR, m.GradNorm, m.TokensSec, m.Elapsed)
	if len(m.Eval) > 0 {
		line += "  " + formatEval(m.Eval)
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
