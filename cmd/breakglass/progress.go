package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows how far a long scan has come, on a terminal only: piped
// output and CI logs stay clean.
type progress struct {
	w       io.Writer
	total   int64
	mu      sync.Mutex
	sources []interface{ Progress() int64 }
	done    chan struct{}
	once    sync.Once
	start   time.Time
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, inputs []string) *progress {
	p := &progress{w: w, done: make(chan struct{}), start: time.Now()}
	if !isTerminal(w) {
		close(p.done)
		return p
	}
	for _, in := range inputs {
		if fi, err := os.Stat(in); err == nil {
			p.total += fi.Size()
		}
	}
	go p.loop()
	return p
}

func (p *progress) add(s interface{ Progress() int64 }) {
	p.mu.Lock()
	p.sources = append(p.sources, s)
	p.mu.Unlock()
}

func (p *progress) loop() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			var n int64
			for _, s := range p.sources {
				n += s.Progress()
			}
			p.mu.Unlock()
			rate := float64(n) / 1e6 / time.Since(p.start).Seconds()
			if p.total > 0 {
				fmt.Fprintf(p.w, "\rscanning: %s of %s (%.0f%%), %.0f MB/s ", humanBytes(n), humanBytes(p.total), 100*float64(n)/float64(p.total), rate)
			} else {
				fmt.Fprintf(p.w, "\rscanning: %s, %.0f MB/s ", humanBytes(n), rate)
			}
		}
	}
}

func (p *progress) stop() {
	p.once.Do(func() {
		select {
		case <-p.done:
			return // not a terminal
		default:
		}
		close(p.done)
		fmt.Fprint(p.w, "\r\033[K")
	})
}
