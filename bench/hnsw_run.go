package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// onlineTarget is the target: an online restore within 1.3 x the
// wall time of the same restore in TRUNCATE mode.
const onlineTarget = 1.3

// indexReport is the index section's results.
type indexReport struct {
	Key        string             `json:"key"`
	Started    string             `json:"started"`
	DurationS  float64            `json:"duration_s"`
	Profile    string             `json:"pg_profile"`
	Machine    machine            `json:"machine"`
	Rounds     int                `json:"rounds"`
	SlowRounds int                `json:"slow_rounds"`
	Sample     int                `json:"sample"`
	Sizes      []*indexSizeResult `json:"sizes"`
}

type indexSizeResult struct {
	Key       string      `json:"key"`
	LegacyMiB float64     `json:"legacy_set_mib"`
	Index     string      `json:"index,omitempty"` // pg_get_indexdef of the HNSW index
	Runs      []*indexRun `json:"runs"`
}

// runIndexSection is --index-only: every size of --index-sizes in a
// database of its own (the dimensions are the schema's), the results
// written after every run, so a stopped run keeps what it measured.
func runIndexSection(ctx context.Context, cfg *config, started time.Time) error {
	ic := &cfg.index
	var keys []string
	for _, sz := range ic.sizes {
		keys = append(keys, fmt.Sprintf("%dx%d", sz[0], sz[1]))
	}
	rep := &indexReport{Started: started.UTC().Format(time.RFC3339), Rounds: ic.rounds, SlowRounds: ic.slowRounds, Sample: cfg.sample}
	var runsDir, mdPath, jsonPath string
	save := func() error {
		rep.DurationS = time.Since(started).Seconds()
		if err := os.WriteFile(mdPath, []byte(rep.markdown()), 0o644); err != nil {
			return err
		}
		return writeJSON(jsonPath, rep)
	}
	if err := os.MkdirAll(cfg.outDir, 0o755); err != nil {
		return err
	}
	for i, sz := range ic.sizes {
		c := *cfg
		c.rows, c.dims = sz[0], sz[1]
		logf("index: the set %s (seed %d)", keys[i], c.seed)
		ds, err := prepareData(&c)
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		db, err := openBench(ctx, &c, ds)
		if err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if i == 0 {
			rep.Machine = describeMachine(ctx, cfg, db)
			rep.Profile = pgProfile(rep.Machine.Settings)
			rep.Key = "index-" + strings.Join(keys, "_") + "-" + rep.Profile
			runsDir = filepath.Join(cfg.outDir, "runs-"+rep.Key)
			mdPath = filepath.Join(cfg.outDir, "results-"+rep.Key+".md")
			jsonPath = filepath.Join(cfg.outDir, "results-"+rep.Key+".json")
			if err := os.RemoveAll(runsDir); err != nil {
				return err
			}
			if err := os.MkdirAll(runsDir, 0o755); err != nil {
				return err
			}
		}
		b := &bencher{cfg: &c, ds: ds, db: db, runsDir: runsDir, tick: clockTick()}
		if err := b.server.init(cfg.pgdata); err != nil {
			logf("server CPU not measured: %v", err)
		}
		rep.Machine.ServerCPU = b.server.pid != 0
		res := &indexSizeResult{Key: keys[i], LegacyMiB: float64(ds.legacyBytes) / (1 << 20)}
		rep.Sizes = append(rep.Sizes, res)
		err = indexSizeRuns(ctx, b, res, ic, save)
		db.close(context.WithoutCancel(ctx), cfg.keepDB)
		if err != nil {
			save()
			return fmt.Errorf("index section, %s: %w", keys[i], err)
		}
	}
	if err := save(); err != nil {
		return err
	}
	fmt.Print(rep.markdown())
	logf("results: %s, %s (run logs in %s); %.0f s in all", mdPath, jsonPath, runsDir, rep.DurationS)
	return nil
}

// indexSizeRuns runs the cases with the HNSW index, --index-rounds rounds
// in the order given, then those without it, their order alternating by
// round.
func indexSizeRuns(ctx context.Context, b *bencher, res *indexSizeResult, ic *indexConfig, save func() error) error {
	x := &idxSize{b: b}
	var withIndex, plain []*indexCase
	for _, id := range ic.cases {
		if c := indexCaseByID(id); c.HNSW {
			withIndex = append(withIndex, c)
		} else {
			plain = append(plain, c)
		}
	}
	one := func(round int, c *indexCase) error {
		r, err := x.runCase(ctx, res.Key, round, c)
		if err != nil {
			return fmt.Errorf("round %d, %s: %w", round, c.ID, err)
		}
		res.Index = x.def
		res.Runs = append(res.Runs, r)
		logf("index %s round %d %-18s %7.2f s  its %s  client CPU %6.2f s  server CPU %s  other %s  RSS %4.0f MiB  verified, indexes %d",
			res.Key, round, c.ID, r.WallS, fmtOpt(r.ReportedS, "%.2f s"), r.ClientCPUS, fmtOpt(r.ServerCPUS, "%.2f s"),
			fmtOpt(r.OtherCPUS, "%.2f s"), r.PeakRSSMiB, len(r.Indexes))
		return save()
	}
	for round := 1; round <= ic.rounds && len(withIndex) > 0; round++ {
		for _, c := range withIndex {
			if c.Slow && round > ic.slowRounds {
				continue
			}
			if err := one(round, c); err != nil {
				return err
			}
		}
	}
	for round := 1; round <= ic.rounds && len(plain) > 0; round++ {
		order := slices.Clone(plain)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, c := range order {
			if err := one(round, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rep *indexReport) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := rep.Machine
	p("## Restore benchmark, vector index section\n\n%s; %d rounds (the slow cases: %d); %s in all.\n\n", rep.Started, rep.Rounds, rep.SlowRounds,
		(time.Duration(rep.DurationS) * time.Second).String())
	p("Machine: %s, %d cores, %s RAM, Linux %s. %s; pgvector %s. Binary: %s (commit %s). %s.\n\n",
		orDash(m.CPU), m.Cores, orDash(m.RAM), orDash(m.Kernel), orDash(m.Postgres), orDash(m.Pgvector), orDash(m.Binary), orDash(m.Commit), orDash(m.Psql))
	p("**Every figure below ran under %s.**\n\n", (&report{Machine: m, Profile: rep.Profile}).profileLabel())
	p("Before each run (untimed) the tables hold the set's rows, vacuumed, analyzed and checkpointed, with the HNSW index for the `hnsw-*` cases (after a truncating case that left the set and the index, only VACUUM (ANALYZE) and CHECKPOINT). After each run: the rows verified against the generator (counts, collections, %d random rows), and the table's vector indexes: exactly the HNSW index with its first `pg_get_indexdef` (valid), or none. psql's CREATE INDEX runs with maintenance_work_mem = '%s', the restore's default --index-memory.\n\n", rep.Sample, baselineIndexMemory)
	for _, s := range rep.Sizes {
		p("### %s (legacy set %.1f MiB)\n\n", s.Key, s.LegacyMiB)
		if s.Index != "" {
			p("Index: `%s`.\n\n", s.Index)
		}
		p("| case | runs | median wall s (min-max) | x build alone | x psql drop/copy/rebuild | its duration s | client CPU s | server CPU s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, id := range s.cases() {
			var wall, its, ccpu, scpu, rss, xb, xr []float64
			for _, r := range s.Runs {
				if r.Case != id {
					continue
				}
				wall, ccpu, rss = append(wall, r.WallS), append(ccpu, r.ClientCPUS), append(rss, r.PeakRSSMiB)
				if r.ReportedS != nil {
					its = append(its, *r.ReportedS)
				}
				if r.ServerCPUS != nil {
					scpu = append(scpu, *r.ServerCPUS)
				}
				if v := s.ratio(r, "hnsw-build"); v > 0 {
					xb = append(xb, v)
				}
				if v := s.ratio(r, "hnsw-psql-rebuild"); v > 0 {
					xr = append(xr, v)
				}
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", indexCaseByID(id).Title, len(wall), spread(wall, "%.2f"), spread(xb, "%.2f"),
				spread(xr, "%.2f"), spread(its, "%.2f"), spread(ccpu, "%.2f"), spread(scpu, "%.2f"), spread(rss, "%.0f"))
		}
		p("\nx build alone, x psql drop/copy/rebuild: wall time over that case's in the same round. its duration: what the restore reports.\n\n")
		s.onlineTable(p)
		p("Every run:\n\n| round | case | wall s | its duration s | client CPU s | server CPU s | other CPU s | load | vector indexes after |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range s.Runs {
			p("| %d | %s | %.2f | %s | %.2f | %s | %s | %.2f | %d, verified |\n", r.Round, r.Case, r.WallS, fmtOpt(r.ReportedS, "%.2f"), r.ClientCPUS,
				fmtOpt(r.ServerCPUS, "%.2f"), fmtOpt(r.OtherCPUS, "%.2f"), r.LoadAvg1, len(r.Indexes))
		}
		p("\n")
	}
	return b.String()
}

// onlineTable compares --online with TRUNCATE mode, without and with the
// index, when both ran.
func (s *indexSizeResult) onlineTable(p func(string, ...any)) {
	header := false
	for _, pair := range [][3]string{{"plain-ours", "plain-ours-online", "no vector index"}, {"hnsw-ours", "hnsw-ours-online", "HNSW index"}} {
		// Only the rounds that ran both.
		var tr, on, ratios []float64
		for _, r := range s.Runs {
			if r.Case != pair[1] {
				continue
			}
			if v := s.ratio(r, pair[0]); v > 0 {
				on, tr, ratios = append(on, r.WallS), append(tr, r.WallS/v), append(ratios, v)
			}
		}
		if len(tr) == 0 || len(on) == 0 {
			continue
		}
		if !header {
			p("| online against TRUNCATE, snapshot off (rounds that ran both) | TRUNCATE wall s | online wall s | ratio of medians | per-round ratios | target <= %.1f x |\n|---|---|---|---|---|---|\n", onlineTarget)
			header = true
		}
		ratio := median(on) / median(tr)
		var rs []string
		for _, v := range ratios {
			rs = append(rs, fmt.Sprintf("%.2f", v))
		}
		p("| %s | %s | %s | %.2f | %s | %s |\n", pair[2], spread(tr, "%.2f"), spread(on, "%.2f"), ratio, strings.Join(rs, ", "), met(ratio <= onlineTarget))
	}
	if header {
		p("\n")
	}
}

// ratio is r's wall time over that of case base in the same round; 0 when
// base did not run in that round.
func (s *indexSizeResult) ratio(r *indexRun, base string) float64 {
	for _, o := range s.Runs {
		if o.Round == r.Round && o.Case == base {
			return r.WallS / o.WallS
		}
	}
	return 0
}

// cases lists the cases that ran, in the order they first ran.
func (s *indexSizeResult) cases() []string {
	var ids []string
	for _, r := range s.Runs {
		if !slices.Contains(ids, r.Case) {
			ids = append(ids, r.Case)
		}
	}
	return ids
}
