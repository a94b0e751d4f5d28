package main

import (
	"strings"
	"testing"
	"time"
)

// TestVerdict shows each bound failing the run on its own, and a healthy run
// passing: growth counts from the first sample after the warm-up.
func TestVerdict(t *testing.T) {
	o := options{rate: 10000, warmup: 5 * time.Minute, maxRSSGrowth: 64, maxGoroutineGrowth: 50, maxFDGrowth: 16, maxP99: 5 * time.Second}
	healthy := func() *report {
		return &report{Rate: 10000, Achieved: 9990, Expected: 3600, Delivered: 3600, Samples: []sample{
			{At: time.Minute, RSS: 20 << 20, Goroutines: 30, OpenFiles: 20, P99: time.Second}, // warm-up: not the base
			{At: 5 * time.Minute, RSS: 100 << 20, Goroutines: 40, OpenFiles: 24, P99: time.Second},
			{At: time.Hour, RSS: 150 << 20, Goroutines: 80, OpenFiles: 30, P99: 2 * time.Second},
		}}
	}
	cases := []struct {
		name string
		edit func(*report)
		want string // "" passes
	}{
		{"healthy", func(*report) {}, ""},
		{"lost alert", func(r *report) { r.Delivered = 3599 }, "1 of 3600 alerts never reached"},
		{"duplicate", func(r *report) { r.Duplicates = 2 }, "2 alerts reached the webhook more than once"},
		{"nothing measured", func(r *report) { r.Expected, r.Delivered = 0, 0 }, "no probe was sent"},
		{"slow", func(r *report) { r.Achieved = 8000 }, "reached only 8000 of 10000"},
		{"rss", func(r *report) { r.Samples[2].RSS = 200 << 20 }, "RSS grew 100 MiB"},
		{"goroutines", func(r *report) { r.Samples[2].Goroutines = 91 }, "goroutines grew by 51"},
		{"fds", func(r *report) { r.Samples[2].OpenFiles = 41 }, "open files grew by 17"},
		{"p99", func(r *report) { r.Samples[1].P99 = 6 * time.Second }, "p99 was 6s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := healthy()
			c.edit(r)
			got := strings.Join(verdict(o, r), "; ")
			if c.want == "" && got != "" {
				t.Fatalf("healthy run failed: %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("verdict %q, want it to say %q", got, c.want)
			}
		})
	}
}
