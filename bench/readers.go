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
	"math/rand/v2"
	"os"
	"path/filepath"
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
