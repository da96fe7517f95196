// Package progress is the training progress display: a one-line bar on a terminal,
// plain periodic lines elsewhere (logs, notebooks, Slurm), nothing for a nil writer.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// Bar draws a one-line progress bar on a terminal and plain lines otherwise. It is our
// own few lines rather than a library: it must write whole lines when not on a
// terminal, and nothing at all when w is nil.
type Bar struct {
	w          io.Writer
	tty        bool
	label      string
	total      int
	start      int
	t0         time.Time
	lastPrint  time.Time
	lastLoss   float64
	lastStep   int
	everyLines time.Duration
}

// New starts a bar for steps start+1..total of the run named label.
func New(w io.Writer, label string, total, start int) *Bar {
	p := &Bar{w: w, label: label, total: total, start: start, t0: time.Now(), everyLines: 10 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	if p.label == "" {
		p.label = "train"
	}
	if w != nil && start > 0 {
		fmt.Fprintf(w, "%s: resuming at step %d/%d\n", p.label, start, total)
	}
	return p
}

func (p *Bar) rate(step int) (float64, time.Duration) {
	el := time.Since(p.t0).Seconds()
	done := float64(step - p.start)
	if el <= 0 || done <= 0 {
		return 0, 0
	}
	r := done / el
	return r, time.Duration(float64(p.total-step) / r * float64(time.Second)).Round(time.Second)
}

// Update shows step and its training loss.
func (p *Bar) Update(step int, loss float64) {
	if p.w == nil {
		return
	}
	p.lastLoss, p.lastStep = loss, step
	r, eta := p.rate(step)
	if p.tty {
		if time.Since(p.lastPrint) < 100*time.Millisecond && step < p.total {
			return
		}
		const width = 24
		fill := width * step / max(p.total, 1)
		bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
		fmt.Fprintf(p.w, "\r%s [%s] %d/%d loss %.4f %.1f steps/s ETA %s  ", p.label, bar, step, p.total, loss, r, eta)
		p.lastPrint = time.Now()
		return
	}
	if time.Since(p.lastPrint) >= p.everyLines || step == p.total {
		fmt.Fprintf(p.w, "%s: step %d/%d loss %.4f %.1f steps/s ETA %s\n", p.label, step, p.total, loss, r, eta)
		p.lastPrint = time.Now()
	}
}

// Done ends the bar with the run's status.
func (p *Bar) Done(status string) {
	if p.w == nil {
		return
	}
	if p.tty {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "%s: %s at step %d (%.1fs)\n", p.label, status, p.lastStep, time.Since(p.t0).Seconds())
}
