package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressBar shows how far a long step is, on stderr. Its methods are safe for concurrent use
// (the bar locks itself); the no-op bar of a run without progress costs nothing.
type progressBar struct {
	bar *progressbar.ProgressBar
}

// Set moves the bar to n.
func (p *progressBar) Set(n int64) {
	if p.bar != nil {
		_ = p.bar.Set64(n)
	}
}

// SetTotal changes the bar's end, for work whose size is estimated as it goes.
func (p *progressBar) SetTotal(n int64) {
	if p.bar != nil && n > 0 {
		p.bar.ChangeMax64(n)
	}
}

// Finish fills the bar and ends its line.
func (p *progressBar) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// showProgress says whether progress bars are wanted: --progress always or never, or auto
// (the default) when stderr is a terminal.
func (a *app) showProgress() (bool, error) {
	switch a.progress {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		f, ok := a.stderr.(*os.File)
		return ok && term.IsTerminal(int(f.Fd())), nil
	}
	return false, fmt.Errorf("--progress %q: want auto, always or never", a.progress)
}

// newProgress starts a bar of max steps described by desc, or a no-op bar when progress is off.
func (a *app) newProgress(max int64, desc string) (*progressBar, error) {
	show, err := a.showProgress()
	if err != nil || !show {
		return &progressBar{}, err
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.stderr) }),
	)
	return &progressBar{bar: bar}, nil
}
