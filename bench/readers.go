package main

// The readers section: what the application's readers see while a
// truncating restore replaces the rows, in TRUNCATE mode and with --online.
//
// The tables hold set A; `mcp-server restore --truncate-before-restore`
// puts set B (the same collections, other embeddings of the same number and
// dimension) in their place, while a reader with its own connection runs
// the application's two queries every 20 ms: a count, and a nearest-
// neighbour search within one collection. Every read is timed and what it
// saw is kept: the count, and whether the five ids the search returned are
// all A's (before), all B's (after), or anything else.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const (
	readerEvery    = 20 * time.Millisecond // the reader's period
	readerTimeout  = 60 * time.Second      // statement_timeout of every read
	readerBaseline = 3 * time.Second       // reads before the restore: the baseline
	readerAfter    = 2 * time.Second       // reads after the restore ended
	readerK        = 5                     // LIMIT of the nearest-neighbour search

	// The targets: during an online restore, the readers' p99 at most
	// max(readerP99Times x their p99 without a restore, readerP99FloorMS),
	// and the online restore's wall time at most readerWallMax x TRUNCATE's.
	readerP99Times   = 5.0
	readerP99FloorMS = 250.0
	readerWallMax    = 1.3
)

// readerModes are the two ways to restore, in the order of odd rounds
// (even rounds run them the other way round).
var readerModes = []string{"truncate", "online"}

const (
	readerCountSQL = "SELECT count(*) FROM " + embTable
	readerKNNSQL   = "SELECT id FROM " + embTable + " WHERE collection_id = $1::uuid ORDER BY embedding <-> $2::vector LIMIT 5"
)

// What a read's nearest-neighbour answer was.
const (
	knnBefore = "before" // k ids, all set A's
	knnAfter  = "after"  // k ids, all set B's
	knnOther  = "other"  // anything else: a mix, too few rows, unknown ids
	knnFailed = "failed" // the query failed
)

// readerSets are the section's two sets and what the reader asks.
type readerSets struct {
	a, b       *dataset
	aIDs, bIDs map[string]bool
	collection sample.Collection // the kNN query's, in both sets
	vector     string            // the kNN query's vector, as pgvector text
	k          int               // rows a kNN answer has: min(5, the collection's rows)
}

// prepareReaderSets generates (or reuses) set A, readerRows x dims exactly as
// the main set is generated (same seed: with the main set's size it is the
// main set), and set B, A.Later: the same collections, other embeddings.
func prepareReaderSets(cfg *config) (*readerSets, error) {
	c := *cfg
	c.rows = cfg.readerRows
	a, err := prepareData(&c)
	if err != nil {
		return nil, fmt.Errorf("set A: %w", err)
	}
	b, err := prepareLater(&c, a, cfg.seed+1)
	if err != nil {
		return nil, fmt.Errorf("set B: %w", err)
	}
	s := &readerSets{a: a, b: b, aIDs: map[string]bool{}, bIDs: map[string]bool{}, collection: a.truth.Collections[0]}
	for _, e := range a.truth.Embeddings {
		s.aIDs[e.ID] = true
		if e.CollectionID == s.collection.UUID {
			s.k++
		}
	}
	s.k = min(s.k, readerK)
	for _, e := range b.truth.Embeddings {
		if s.aIDs[e.ID] {
			return nil, fmt.Errorf("sets A and B share the id %s", e.ID)
		}
		s.bIDs[e.ID] = true
	}
	if b.truth.Collections[0].UUID != s.collection.UUID {
		return nil, errors.New("sets A and B have different collections")
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x5eade5))
	v := make([]float32, cfg.dims)
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	s.vector = sample.VectorText(v)
	return s, nil
}

// laterParams identify a generated set B.
type laterParams struct {
	genParams
	LaterSeed uint64 `json:"later_seed"`
}

// prepareLater writes (or reuses) the legacy set of a.truth.Later(seed)
// under <data>/sets/<N>x<D>-later/, laid out like a's. Only the legacy set:
// B is only ever restored by mcp-server, and verified against its truth.
func prepareLater(cfg *config, a *dataset, seed uint64) (*dataset, error) {
	root, err := filepath.Abs(filepath.Join(cfg.dataDir, "sets", fmt.Sprintf("%dx%d-later", cfg.rows, cfg.dims)))
	if err != nil {
		return nil, err
	}
	ds := &dataset{truth: a.truth.Later(seed), layout: a.layout, root: root, projectRoot: filepath.Join(root, "project")}
	ds.backupRoot = filepath.Join(ds.projectRoot, "data_pipeline", "training_data")
	ds.setDir = filepath.Join(ds.backupRoot, taskFolder, "vector_bak")
	ds.snapshotDir = filepath.Join(ds.backupRoot, "global_vector_bak")
	ds.legacyColl = filepath.Join(ds.setDir, "langchain_pg_collection_"+setTimestamp+".csv")
	ds.legacyEmb = filepath.Join(ds.setDir, "langchain_pg_embedding_"+setTimestamp+".csv")
	params := laterParams{genParams{
		Version: genVersion, Rows: cfg.rows, Dims: cfg.dims, Collections: cfg.collections,
		Seed: cfg.seed, Layout: ds.layout.Name, Timestamp: setTimestamp, Generator: generatorHash(),
	}, seed}
	marker := filepath.Join(root, "gen.json")
	var cached laterParams
	if b, err := os.ReadFile(marker); err == nil && json.Unmarshal(b, &cached) == nil && cached == params {
		logf("reusing the generated set B in %s", root)
	} else {
		logf("writing set B (other embeddings, the same collections) to %s", root)
		if err := os.RemoveAll(root); err != nil {
			return nil, err
		}
		if err := ds.truth.WriteLegacy(ds.setDir, setTimestamp, ds.layout); err != nil {
			return nil, fmt.Errorf("legacy set: %w", err)
		}
		if err := writeJSON(marker, params); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{ds.legacyColl, ds.legacyEmb} {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w (delete %s to regenerate)", err, root)
		}
		ds.legacyBytes += st.Size()
	}
	return ds, nil
}

// classify says which set a kNN answer came from.
func (s *readerSets) classify(ids []string) string {
	if len(ids) != s.k {
		return knnOther
	}
	inA, inB := 0, 0
	for _, id := range ids {
		if s.aIDs[id] {
			inA++
		}
		if s.bIDs[id] {
			inB++
		}
	}
	switch len(ids) {
	case inA:
		return knnBefore
	case inB:
		return knnAfter
	}
	return knnOther
}

// readSample is one iteration of the reader: the count, then the search.
type readSample struct {
	Start, End time.Time
	CountMS    float64 // -1: not run
	KNNMS      float64 // -1: not run
	Count      int64   // -1: the count failed
	KNN        string
	Err        string
}

// reader is the reader loop running in its goroutine.
type reader struct {
	stop chan struct{}
	done chan []readSample
}

// startReader connects (application_name bench-reader, statement_timeout
// 60 s), runs one untimed warm-up iteration, and starts the loop: an
// iteration every 20 ms (a ticker: after a slow one, the next starts at
// once).
func startReader(ctx context.Context, url string, sets *readerSets) (*reader, error) {
	pc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pc.RuntimeParams["application_name"] = "bench-reader"
	pc.RuntimeParams["statement_timeout"] = strconv.FormatInt(readerTimeout.Milliseconds(), 10)
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("the reader's connection: %w", err)
	}
	if s := readOnce(ctx, conn, sets); s.Err != "" || s.KNN != knnBefore || s.Count != int64(len(sets.a.truth.Embeddings)) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("the reader's warm-up read: count %d, kNN answer %s %s", s.Count, s.KNN, s.Err)
	}
	r := &reader{stop: make(chan struct{}), done: make(chan []readSample, 1)}
	go r.loop(ctx, pc, conn, sets)
	return r, nil
}

func (r *reader) loop(ctx context.Context, pc *pgx.ConnConfig, conn *pgx.Conn, sets *readerSets) {
	var samples []readSample
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
		r.done <- samples
	}()
	tick := time.NewTicker(readerEvery)
	defer tick.Stop()
	for {
		if conn == nil || conn.IsClosed() { // a timed-out query may cost the connection
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			start := time.Now()
			c, err := pgx.ConnectConfig(cctx, pc)
			cancel()
			conn = c
			if err != nil {
				conn = nil
				samples = append(samples, readSample{Start: start, End: time.Now(), CountMS: -1, KNNMS: -1, Count: -1, KNN: knnFailed,
					Err: "reconnect: " + err.Error()})
			}
		}
		if conn != nil {
			samples = append(samples, readOnce(ctx, conn, sets))
		}
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// finish stops the loop after its current iteration and returns the reads.
func (r *reader) finish() []readSample {
	close(r.stop)
	return <-r.done
}

// readOnce runs the two queries, each limited to 60 s by statement_timeout
// (and given up by the client 5 s later).
func readOnce(ctx context.Context, conn *pgx.Conn, sets *readerSets) readSample {
	s := readSample{Start: time.Now(), CountMS: -1, KNNMS: -1, Count: -1, KNN: knnFailed}
	var errs []string
	qctx, cancel := context.WithTimeout(ctx, readerTimeout+5*time.Second)
	defer cancel()
	t := time.Now()
	err := conn.QueryRow(qctx, readerCountSQL).Scan(&s.Count)
	s.CountMS = msSince(t)
	if err != nil {
		s.Count = -1
		errs = append(errs, "count: "+err.Error())
	}
	if !conn.IsClosed() && ctx.Err() == nil {
		t = time.Now()
		rows, err := conn.Query(qctx, readerKNNSQL, sets.collection.UUID, sets.vector)
		var ids []string
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		s.KNNMS = msSince(t)
		if err != nil {
			errs = append(errs, "kNN: "+err.Error())
		} else {
			s.KNN = sets.classify(ids)
		}
	}
	s.End = time.Now()
	s.Err = strings.Join(errs, "; ")
	return s
}

func msSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }

// latStats are latencies in milliseconds; nearest-rank percentiles.
type latStats struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// windowStats are both queries' latencies in one window.
type windowStats struct {
	Count latStats `json:"count"`
	KNN   latStats `json:"knn"`
}

func window(samples []readSample, in func(s *readSample) bool) windowStats {
	var c, k []float64
	for i := range samples {
		s := &samples[i]
		if !in(s) {
			continue
		}
		if s.CountMS >= 0 {
			c = append(c, s.CountMS)
		}
		if s.KNNMS >= 0 {
			k = append(k, s.KNNMS)
		}
	}
	return windowStats{Count: latencyStats(c), KNN: latencyStats(k)}
}

func latencyStats(v []float64) latStats {
	if len(v) == 0 {
		return latStats{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	rank := func(p float64) float64 { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	return latStats{N: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

// readerRun is one restore with the reader running.
type readerRun struct {
	Round      int     `json:"round"`
	Mode       string  `json:"mode"`
	WallS      float64 `json:"wall_s"`
	ReportedS  float64 `json:"reported_duration_s"` // the restore's own duration, until its commit
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	ClientCPUS float64 `json:"client_cpu_s"`
	LoadAvg1   float64 `json:"load_avg_1m_before"`

	Baseline windowStats `json:"baseline"` // reads that ended before the restore started
	During   windowStats `json:"during"`   // reads that overlapped the restore
	After    windowStats `json:"after"`    // reads that started after it ended

	Reads       int `json:"reads"`
	ReadsDuring int `json:"reads_during"`
	// Counts seen by all reads, count -> reads (-1: the count failed).
	Counts map[int64]int `json:"counts_seen"`
	// KNN answers of all reads: before, after, other, failed -> reads.
	KNN map[string]int `json:"knn_answers"`
	// BadReads saw a count other than before's or after's, or a kNN answer
	// neither all before's nor all after's.
	BadReads int      `json:"bad_reads"`
	Errors   int      `json:"errors"`
	FirstErr []string `json:"first_errors,omitempty"`
	Verified bool     `json:"verified"`
}

// readerMode is one mode's medians over the rounds.
type readerMode struct {
	Mode        string         `json:"mode"`
	WallS       float64        `json:"median_wall_s"`
	ReportedS   float64        `json:"median_reported_duration_s"`
	During      windowStats    `json:"median_during"`
	Baseline    windowStats    `json:"median_baseline"`
	ReadsDuring float64        `json:"median_reads_during"`
	Counts      []int64        `json:"counts_seen"`
	KNN         map[string]int `json:"knn_answers"`
	BadReads    int            `json:"bad_reads"`
	Errors      int            `json:"errors"`
}

// readerCheck is one target, PASS or FAIL; a Fatal FAIL fails the benchmark.
type readerCheck struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
	Fatal    bool   `json:"fatal"`
}

// readersResult is the section.
type readersResult struct {
	Rows        int            `json:"rows"`
	Dims        int            `json:"dims"`
	Rounds      int            `json:"rounds"`
	Collection  string         `json:"collection"`
	CountBefore int64          `json:"count_before"`
	CountAfter  int64          `json:"count_after"`
	LegacyMiB   float64        `json:"set_b_legacy_mib"`
	Queries     []string       `json:"queries"`
	Runs        []*readerRun   `json:"runs"`
	Modes       []*readerMode  `json:"modes"`
	Checks      []*readerCheck `json:"checks"`
}

// consistencyErr is non-nil when a reader saw a state other than before or
// after the restore.
func (r *readersResult) consistencyErr() error {
	for _, c := range r.Checks {
		if c.Fatal && !c.Pass {
			return fmt.Errorf("readers during a restore: %s: %s", c.Name, c.Measured)
		}
	}
	return nil
}

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
