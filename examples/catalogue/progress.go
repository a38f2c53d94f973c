package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a long step (the load, the audit's count) has gone: a bar on w, which
// main sets to stderr when that is a terminal. A progress with no writer, or a nil one, shows
// nothing. add may be called from several goroutines at once; start and finish may not.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

// terminalStderr returns os.Stderr when it is a terminal, for the bars, and nil otherwise, so
// that output piped to a file holds only the steps.
func terminalStderr() io.Writer {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return os.Stderr
	}
	return nil
}

// start begins a bar of max steps described by desc.
func (p *progress) start(max int64, desc string) {
	if p == nil || p.w == nil {
		return
	}
	w := p.w
	p.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)
}

// add moves the bar n steps on.
func (p *progress) add(n int) {
	if p != nil && p.bar != nil {
		_ = p.bar.Add(n)
	}
}

// finish takes the bar off the screen, for the step's own line.
func (p *progress) finish() {
	if p != nil && p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
