package main

// The readers section's run: each round restores B over A once per mode,
// and the summary of what the readers saw.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// readers runs the section: --reader-rounds rounds, each restoring B over A
// once per mode, the modes' order alternating.
func (b *bencher) readers(ctx context.Context, sets *readerSets) (*readersResult, error) {
	res := &readersResult{
		Rows: len(sets.a.truth.Embeddings), Dims: sets.a.truth.Dim, Rounds: b.cfg.readerRounds,
		Collection:  sets.collection.Name + " (" + sets.collection.UUID + ")",
		CountBefore: int64(len(sets.a.truth.Embeddings)), CountAfter: int64(len(sets.b.truth.Embeddings)),
		LegacyMiB: float64(sets.b.legacyBytes) / (1 << 20),
		Queries:   []string{readerCountSQL, readerKNNSQL},
	}
	dbA, dbB := *b.db, *b.db
	dbA.ds, dbB.ds = sets.a, sets.b
	for round := 1; round <= b.cfg.readerRounds; round++ {
		modes := slices.Clone(readerModes)
		if round%2 == 0 {
			slices.Reverse(modes)
		}
		for _, mode := range modes {
			r, err := b.readersRun(ctx, sets, &dbA, &dbB, round, mode)
			if err != nil {
				return nil, fmt.Errorf("readers, round %d, %s: %w", round, mode, err)
			}
			res.Runs = append(res.Runs, r)
			logf("readers round %d %-8s restore %6.2f s; %d reads during it: count p99 %.0f ms max %.0f ms, kNN p99 %.0f ms max %.0f ms (baseline p99 %.0f / %.0f ms); counts %v, kNN %v",
				round, mode, r.WallS, r.ReadsDuring, r.During.Count.P99, r.During.Count.Max, r.During.KNN.P99, r.During.KNN.Max,
				r.Baseline.Count.P99, r.Baseline.KNN.P99, r.Counts, r.KNN)
			if r.BadReads > 0 {
				logf("!!! readers round %d %s: %d READS SAW A STATE OTHER THAN BEFORE OR AFTER THE RESTORE (counts %v, kNN %v) !!!",
					round, mode, r.BadReads, r.Counts, r.KNN)
			}
		}
	}
	res.summarize()
	return res, nil
}

// readersRun loads A (untimed), starts the reader, waits the baseline,
// restores B (timed, as its own process), reads on for 2 s, stops the
// reader, and verifies the tables hold B.
func (b *bencher) readersRun(ctx context.Context, sets *readerSets, dbA, dbB *benchDB, round int, mode string) (*readerRun, error) {
	if err := dbA.reset(ctx); err != nil {
		return nil, fmt.Errorf("loading set A before the run: %w", err)
	}
	if err := warmFiles(sets.b.legacyColl, sets.b.legacyEmb); err != nil {
		return nil, err
	}
	onB := *b
	onB.ds, onB.db = sets.b, dbB
	args := append(onB.restoreArgs(), "--snapshot=false")
	if mode == "online" {
		args = append(args, "--online")
	}
	base := filepath.Join(b.runsDir, fmt.Sprintf("readers-r%d-%s", round, mode))
	load := loadAvg()

	rd, err := startReader(ctx, b.db.url, sets)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	var samples []readSample
	stopped := false
	stop := func() {
		if !stopped {
			samples, stopped = rd.finish(), true
		}
	}
	defer stop()
	if err := sleepCtx(ctx, readerBaseline); err != nil {
		return nil, err
	}
	t0 := time.Now()
	ps, err := timed(ctx, b.cfg.timeout, base, os.Environ(), b.cfg.binary, args...)
	t1 := time.Now()
	if err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, readerAfter); err != nil {
		return nil, err
	}
	stop()
	if ps.ExitCode != 0 {
		return nil, fmt.Errorf("restore exited with status %d:\n%s%s", ps.ExitCode, tail(ps.Stdout), tail(ps.Stderr))
	}
	extra := map[string]any{}
	if err := checkOurs(&onB, ps, extra, false); err != nil {
		return nil, err
	}
	r := &readerRun{
		Round: round, Mode: mode, WallS: ps.WallS, PeakRSSMiB: float64(ps.MaxRSSKiB) / 1024,
		ClientCPUS: ps.UserS + ps.SysS, LoadAvg1: load, Reads: len(samples),
		Counts: map[int64]int{}, KNN: map[string]int{},
	}
	if d, ok := extra["reported_duration_s"].(float64); ok {
		r.ReportedS = d
	}
	overlaps := func(s *readSample) bool { return s.Start.Before(t1) && s.End.After(t0) }
	r.Baseline = window(samples, func(s *readSample) bool { return !s.End.After(t0) })
	r.During = window(samples, overlaps)
	r.After = window(samples, func(s *readSample) bool { return !s.Start.Before(t1) })
	countA, countB := int64(len(sets.a.truth.Embeddings)), int64(len(sets.b.truth.Embeddings))
	for i := range samples {
		s := &samples[i]
		if overlaps(s) {
			r.ReadsDuring++
		}
		r.Counts[s.Count]++
		r.KNN[s.KNN]++
		if (s.Count >= 0 && s.Count != countA && s.Count != countB) || s.KNN == knnOther {
			r.BadReads++
		}
		if s.Err != "" {
			r.Errors++
			if len(r.FirstErr) < 5 {
				r.FirstErr = append(r.FirstErr, fmt.Sprintf("+%.3f s: %s", s.Start.Sub(began).Seconds(), s.Err))
			}
		}
	}
	if err := writeSamples(base+".reads.csv", samples, began, t0, t1); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(b.cfg.seed, uint64(round)<<8|uint64(slices.Index(readerModes, mode))|0x80))
	if err := dbB.verify(ctx, rng, b.cfg.sample); err != nil {
		return nil, fmt.Errorf("after restoring set B: %w", err)
	}
	r.Verified = true
	return r, nil
}

// writeSamples keeps every read of a run as CSV, times in ms from the
// reader's start; the restore ran from restore_start_ms to restore_end_ms.
func writeSamples(path string, samples []readSample, began, t0, t1 time.Time) error {
	var b strings.Builder
	ms := func(t time.Time) string { return strconv.FormatFloat(t.Sub(began).Seconds()*1000, 'f', 1, 64) }
	fmt.Fprintf(&b, "# restore_start_ms=%s restore_end_ms=%s\n", ms(t0), ms(t1))
	b.WriteString("start_ms,end_ms,count_ms,knn_ms,count,knn,error\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%s,%s,%.2f,%.2f,%d,%s,%q\n", ms(s.Start), ms(s.End), s.CountMS, s.KNNMS, s.Count, s.KNN, s.Err)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// summarize computes each mode's medians and the checks.
func (r *readersResult) summarize() {
	byMode := map[string]*readerMode{}
	for _, mode := range readerModes {
		var runs []*readerRun
		for _, x := range r.Runs {
			if x.Mode == mode {
				runs = append(runs, x)
			}
		}
		if len(runs) == 0 {
			continue
		}
		m := &readerMode{Mode: mode, KNN: map[string]int{}}
		med := func(f func(x *readerRun) float64) float64 {
			v := make([]float64, len(runs))
			for i, x := range runs {
				v[i] = f(x)
			}
			return median(v)
		}
		medLat := func(f func(x *readerRun) latStats) latStats {
			return latStats{
				N:   int(med(func(x *readerRun) float64 { return float64(f(x).N) })),
				P50: med(func(x *readerRun) float64 { return f(x).P50 }),
				P99: med(func(x *readerRun) float64 { return f(x).P99 }),
				Max: med(func(x *readerRun) float64 { return f(x).Max }),
			}
		}
		m.WallS = med(func(x *readerRun) float64 { return x.WallS })
		m.ReportedS = med(func(x *readerRun) float64 { return x.ReportedS })
		m.During = windowStats{Count: medLat(func(x *readerRun) latStats { return x.During.Count }), KNN: medLat(func(x *readerRun) latStats { return x.During.KNN })}
		m.Baseline = windowStats{Count: medLat(func(x *readerRun) latStats { return x.Baseline.Count }), KNN: medLat(func(x *readerRun) latStats { return x.Baseline.KNN })}
		m.ReadsDuring = med(func(x *readerRun) float64 { return float64(x.ReadsDuring) })
		for _, x := range runs {
			for c := range x.Counts {
				if !slices.Contains(m.Counts, c) {
					m.Counts = append(m.Counts, c)
				}
			}
			for k, n := range x.KNN {
				m.KNN[k] += n
			}
			m.BadReads += x.BadReads
			m.Errors += x.Errors
		}
		slices.Sort(m.Counts)
		r.Modes = append(r.Modes, m)
		byMode[mode] = m
	}

	on, tr := byMode["online"], byMode["truncate"]
	if on != nil {
		for _, q := range []struct {
			name           string
			during, before latStats
		}{{"count query", on.During.Count, on.Baseline.Count}, {"kNN query", on.During.KNN, on.Baseline.KNN}} {
			limit := max(readerP99Times*q.before.P99, readerP99FloorMS)
			r.Checks = append(r.Checks, &readerCheck{
				Name:     "online: " + q.name + " p99 during the restore",
				Target:   fmt.Sprintf("<= max(%.0f x baseline p99, %.0f ms)", readerP99Times, readerP99FloorMS),
				Measured: fmt.Sprintf("%.1f ms (limit %.0f ms; baseline p99 %.1f ms)", q.during.P99, limit, q.before.P99),
				Pass:     q.during.N > 0 && q.during.P99 <= limit,
			})
		}
		if tr != nil {
			ratio := on.WallS / tr.WallS
			r.Checks = append(r.Checks, &readerCheck{
				Name:     "online restore's wall time",
				Target:   fmt.Sprintf("<= %.1f x TRUNCATE mode's", readerWallMax),
				Measured: fmt.Sprintf("%.2f s / %.2f s = %.2f x", on.WallS, tr.WallS, ratio),
				Pass:     ratio <= readerWallMax,
			})
		}
		r.Checks = append(r.Checks, &readerCheck{
			Name:     "online: no reader query failed",
			Target:   "0 errors",
			Measured: fmt.Sprintf("%d", on.Errors),
			Pass:     on.Errors == 0,
		})
	}
	var counts []int64
	var other, reads int
	for _, x := range r.Runs {
		reads += x.Reads
		for c := range x.Counts {
			if c >= 0 && c != r.CountBefore && c != r.CountAfter && !slices.Contains(counts, c) {
				counts = append(counts, c)
			}
		}
		other += x.KNN[knnOther]
	}
	slices.Sort(counts)
	measured := fmt.Sprintf("%s reads in %d runs, no other count", thousands(reads), len(r.Runs))
	if len(counts) > 0 {
		measured = fmt.Sprintf("OTHER COUNTS SEEN: %v", counts)
	}
	r.Checks = append(r.Checks, &readerCheck{
		Name:     "every count a reader saw is before's or after's (both modes)",
		Target:   countTarget(r.CountBefore, r.CountAfter),
		Measured: measured,
		Pass:     len(counts) == 0,
		Fatal:    true,
	})
	measured = "all before's or all after's"
	if other > 0 {
		measured = fmt.Sprintf("%d ANSWERS WERE NEITHER", other)
	}
	r.Checks = append(r.Checks, &readerCheck{
		Name:     "every kNN answer is all before's ids or all after's (both modes)",
		Target:   "0 mixed or short answers",
		Measured: measured,
		Pass:     other == 0,
		Fatal:    true,
	})
	r.Checks = append(r.Checks, &readerCheck{
		Name:     "the tables hold set B after every restore",
		Target:   "verified",
		Measured: fmt.Sprintf("%d of %d runs", len(r.Runs), len(r.Runs)),
		Pass:     true, // a failed verification stops the benchmark
		Fatal:    true,
	})
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// warmFiles reads files into the page cache.
func warmFiles(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func countTarget(before, after int64) string {
	if before == after {
		return fmt.Sprintf("only %s (before and after alike: the sets are the same size, so the count catches an empty, partial or doubled table; the kNN answer tells before from after)", thousands(int(before)))
	}
	return fmt.Sprintf("only %s or %s", thousands(int(before)), thousands(int(after)))
}
