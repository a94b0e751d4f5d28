package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/entra"
	"breakglass/internal/simulate"
)

func newSimulateCmd() *cobra.Command {
	var (
		configPath string
		shape      string
		count      int
		rate       float64
		duration   time.Duration
		seed       int64
		bgShare    float64
		outPath    string
		truthPath  string
		start      string
		categories []string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Write synthetic Entra sign-in and audit logs for tests, benchmarks and demos",
		Long: `simulate writes realistic synthetic Microsoft Entra ID sign-in and audit logs
in any shape breakglass reads, with a chosen share of records that involve the
break-glass accounts. The same seed always writes the same bytes.

Shapes: graph (Microsoft Graph list pages), storage (diagnostic settings,
PT1H.json lines), eventhub ({"records":[...]} payloads), la-json, la-ndjson and
la-csv (Log Analytics exports), mixed (graph, storage, eventhub and la-ndjson
lines interleaved).

--truth writes one JSON line per planted break-glass event: its record id,
category, the rules it must trigger (bg.signin, bg.activity, bg.change) and
the account. An output file name ending in .gz is gzip-compressed.`,
		Example: `  breakglass simulate --count 200000 --out signins.json
  breakglass simulate --shape la-csv --count 5000 --bg-share 0.01 --truth truth.jsonl --out export.csv
  breakglass simulate --config breakglass.yaml --shape eventhub --rate 50 --duration 10m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if !slices.Contains(simulate.Shapes, shape) {
				return usageErrorf("--shape: unknown shape %q (want one of %s)", shape, strings.Join(simulate.Shapes, ", "))
			}
			if count < 0 {
				return usageErrorf("--count: must not be negative, got %d", count)
			}
			if rate < 0 {
				return usageErrorf("--rate: must not be negative, got %v", rate)
			}
			if duration < 0 {
				return usageErrorf("--duration: must not be negative, got %v", duration)
			}
			if bgShare < 0 || bgShare > 1 {
				return usageErrorf("--bg-share: must be between 0 and 1, got %v", bgShare)
			}
			for _, c := range categories {
				if !slices.Contains(entra.MonitoredCategories, c) && !slices.Contains(simulate.OtherCategories, c) {
					return usageErrorf("--category: unknown category %q (want one of %s)", c,
						strings.Join(append(slices.Clone(entra.MonitoredCategories), simulate.OtherCategories...), ", "))
				}
			}
			// A rate without an explicit count means a stream, ended by
			// --duration or Ctrl-C.
			if (rate > 0 || duration > 0) && !f.Changed("count") {
				count = 0
			}
			if count == 0 && rate == 0 && duration == 0 {
				return usageErrorf("--count: 0 needs --rate or --duration to end the run")
			}

			o := simulate.Options{
				Seed: seed, Count: count, Rate: rate, Duration: duration, Shape: shape,
				BGShare: bgShare, Categories: categories,
			}
			if bgShare == 0 {
				o.BGShare = -1 // the library reads 0 as "default"; here it means none
			}
			cfg, err := loadOptionalConfig(configPath)
			if err != nil {
				return err
			}
			if cfg != nil {
				// A group entry names no user to put in a record (its
				// members are known only to Graph): skip it, and say so.
				o.Accounts = cfg.Users()
				if n := len(cfg.Groups()); n > 0 {
					if len(o.Accounts) == 0 {
						return usageErrorf("%s: accounts: lists only groups; simulate writes events of users (id, upn), and a group's members are known only to Graph: add a user entry, or run without --config for the demo accounts", cfg.Path)
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "simulate: skipping %d group %s of %s (%s): simulated events name users, and a group's members are known only to Graph\n",
						n, plural(n, "entry", "entries"), cfg.Path, strings.Join(cfg.Groups(), ", "))
				}
			}
			switch {
			case start != "":
				t, err := time.Parse(time.RFC3339, start)
				if err != nil {
					return usageErrorf("--start: want an RFC 3339 time such as 2024-06-20T05:00:00Z: %w", err)
				}
				o.Start = t
			case count > 0 && rate == 0:
				// Let a batch end about now, so that it looks recent to a
				// watcher with a lookback window.
				o.Start = time.Now().UTC().Add(-time.Duration(count) * 200 * time.Millisecond).Truncate(time.Second)
			default:
				o.Start = time.Now().UTC()
			}

			out, closeOut, err := openSimOutput(outPath, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			var truth io.Writer
			closeTruth := func() error { return nil }
			if truthPath != "" {
				truth, closeTruth, err = openSimOutput(truthPath, nil)
				if err != nil {
					_ = closeOut()
					return err
				}
			}

			stderr := cmd.ErrOrStderr()
			tty := simIsTerminal(stderr)
			if tty {
				began := time.Now()
				o.Progress = func(s simulate.Stats) {
					secs := time.Since(began).Seconds()
					fmt.Fprintf(stderr, "\rsimulate: %d records, %.1f MB, %d break-glass events, %.0f records/s ",
						s.Records, float64(s.Bytes)/1e6, s.BGEvents, float64(s.Records)/secs)
				}
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			began := time.Now()
			stats, genErr := simulate.Generate(ctx, out, o, truth)
			elapsed := time.Since(began)
			if errors.Is(genErr, context.Canceled) && ctx.Err() != nil {
				genErr = nil // Ctrl-C ends a stream; the output is complete
			}
			errOut, errTruth := closeOut(), closeTruth()
			if tty {
				fmt.Fprint(stderr, "\r\033[K")
			}
			fmt.Fprintf(stderr, "simulate: %d records (%s), %.1f MB, %d break-glass events, %.2fs (%.0f records/s)\n",
				stats.Records, shape, float64(stats.Bytes)/1e6, stats.BGEvents, elapsed.Seconds(),
				float64(stats.Records)/max(elapsed.Seconds(), 1e-9))
			return errors.Join(genErr, errOut, errTruth)
		},
	}
	f := cmd.Flags()
	addConfigFlagUsage(cmd, &configPath, "take the break-glass accounts from this config file (default $"+configEnv+", else demo accounts)")
	f.StringVar(&shape, "shape", simulate.ShapeStorage, "output shape: "+strings.Join(simulate.Shapes, ", "))
	f.IntVar(&count, "count", 1000, "number of records to write")
	f.Float64Var(&rate, "rate", 0, "records per second (0: as fast as possible); without --count, stream")
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: no limit)")
	f.Int64Var(&seed, "seed", 1, "random seed; the same seed writes the same records")
	f.Float64Var(&bgShare, "bg-share", simulate.DefaultBGShare, "fraction of records that involve a break-glass account (0..1)")
	f.StringVar(&outPath, "out", "-", "output file, - for stdout; a .gz name is compressed")
	f.StringVar(&truthPath, "truth", "", "write ground truth (one JSON line per break-glass event) to this file")
	f.StringVar(&start, "start", "", "event time of the first record, RFC 3339 (default: so that a batch ends now)")
	f.StringSliceVar(&categories, "category", nil, "only these diagnostic categories (repeatable)")
	return cmd
}

// openSimOutput opens path for writing, "-" meaning stdout, and gzips it
// when the name ends in .gz. The returned close flushes and closes.
func openSimOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "-" && stdout != nil {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("simulate: %w", err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, f.Close, nil
	}
	// Best speed: simulate feeds benchmarks, where writing should not be
	// the slow part.
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	return zw, func() error { return errors.Join(zw.Close(), f.Close()) }, nil
}

func simIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
