package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// progress shows how far a long operation got, on stderr (never stdout,
// which may carry --json): a bar with the bytes, rate and time left when
// stderr is a terminal, else a plain line every few seconds, for logs.
type progress struct {
	w     io.Writer
	what  string
	tty   bool
	start time.Time

	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	last time.Time // of the last plain line
	done bool      // the last plain line, at 100%, is out
}

// progressEvery is how often a plain progress line is written.
const progressEvery = 3 * time.Second

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, tty: isTerminal(w), start: time.Now()}
}

// report is a service.Progress: done of total bytes, and what is happening.
func (p *progress) report(done, total float64, message string) {
	// What a restore waits for names sessions and tables of the database;
	// only the bar itself writes escape sequences.
	message = display.Escape(message)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions64(int64(total),
				progressbar.OptionSetWriter(p.w), // it writes to stdout unless told
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		p.bar.Describe(message)
		p.bar.Set64(int64(done))
		return
	}
	now := time.Now()
	if p.done || done < total && now.Sub(p.last) < progressEvery {
		return
	}
	p.last, p.done = now, done >= total
	line := fmt.Sprintf("%s: %s; %s of %s (%.0f%%)", p.what, message, layout.HumanSize(int64(done)), layout.HumanSize(int64(total)), 100*done/max(total, 1))
	// A rate needs time and bytes behind it: the first report comes after a
	// few bytes (the collection file), and would promise days.
	if elapsed := now.Sub(p.start).Seconds(); elapsed >= 1 && done >= total/100 && done > 0 {
		rate := done / elapsed
		line += fmt.Sprintf(", %s/s", layout.HumanSize(int64(rate)))
		if left := time.Duration((total - done) / rate * float64(time.Second)); left >= time.Second {
			line += fmt.Sprintf(", about %s left", left.Round(time.Second))
		}
	}
	fmt.Fprintln(p.w, line)
}

// finish clears the bar.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
