package main

// The vector index section (--index-only): a truncating restore of a table
// with a pgvector HNSW index, which the restore now drops after its
// TRUNCATE and builds again after the load (restore/indexes.go), against
// psql with the index kept (the naive baseline) and psql dropping and
// building it by hand in one transaction (the careful operator), and the
// index build alone; and the online restore against TRUNCATE mode.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// hnswDDL is the index the section puts on the embedding table.
const hnswDDL = "CREATE INDEX ON " + embTable + " USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"

// baselineIndexMemory is maintenance_work_mem for the psql baselines' and
// the build alone's CREATE INDEX: the restore's default --index-memory.
const baselineIndexMemory = "1GB"

// indexConfig is the section's flags.
type indexConfig struct {
	only       bool
	sizes      [][2]int
	rounds     int
	slowRounds int
	cases      []string
}

func indexFlags(fs *flag.FlagSet, c *indexConfig) (parse func() error) {
	var sizes, cases string
	fs.BoolVar(&c.only, "index-only", false, "run only the vector index section: restores of a table with an HNSW index against psql, and --online against TRUNCATE mode; results in results-index-<sizes>-<profile>.*")
	fs.StringVar(&sizes, "index-sizes", "20000x1024", "the index section's sets, ROWSxDIMS comma-separated")
	fs.IntVar(&c.rounds, "index-rounds", 3, "rounds of the index section")
	fs.IntVar(&c.slowRounds, "index-slow-rounds", 1, "rounds (the first ones) that also run the slow cases: psql \\copy into the kept HNSW index, --online with it")
	fs.StringVar(&cases, "index-methods", strings.Join(indexCaseIDs(false), ","), "the index section's cases, in order (opt-in: hnsw-ours-online)")
	return func() error {
		for _, sz := range strings.Split(sizes, ",") {
			var n, d int
			if _, err := fmt.Sscanf(strings.TrimSpace(sz), "%dx%d", &n, &d); err != nil || n < 4 || d < 1 || d > 2000 || n%4 != 0 {
				return fmt.Errorf("--index-sizes: %q is not ROWSxDIMS (ROWS a multiple of 4, DIMS at most 2,000 for HNSW)", sz)
			}
			c.sizes = append(c.sizes, [2]int{n, d})
		}
		for _, id := range strings.Split(cases, ",") {
			if id = strings.TrimSpace(id); id == "" {
				continue
			}
			if indexCaseByID(id) == nil {
				return fmt.Errorf("--index-methods: unknown case %q (known: %s)", id, strings.Join(indexCaseIDs(true), ", "))
			}
			c.cases = append(c.cases, id)
		}
		if len(c.cases) == 0 || c.rounds < 1 || c.slowRounds < 0 {
			return fmt.Errorf("--index-methods must name a case, --index-rounds be positive")
		}
		return nil
	}
}

// indexCase is one way to replace the rows in the index section.
type indexCase struct {
	ID, Title string
	HNSW      bool // the table has the HNSW index before and after
	Slow      bool // only in the first --index-slow-rounds rounds
	OptIn     bool
	Dirty     bool                                        // leaves dead rows: the next case reloads the table
	pre       func(ctx context.Context, x *idxSize) error // untimed, before the command
	command   func(x *idxSize, scratch string) (string, []string, error)
	// rebuilt: whether the restore must report the index as rebuilt; nil
	// for psql.
	rebuilt  *bool
	snapshot bool
}

var yes, no = true, false

var indexCases = []*indexCase{
	{ID: "hnsw-ours", Title: "ours, truncate, snapshot off (drops and rebuilds the index)", HNSW: true, command: oursCmd("--snapshot=false"), rebuilt: &yes},
	{ID: "hnsw-ours-snapshot", Title: "ours, truncate, default snapshot (drops and rebuilds)", HNSW: true, command: oursCmd(), rebuilt: &yes, snapshot: true},
	{ID: "hnsw-psql-rebuild", Title: "psql: TRUNCATE, DROP INDEX, \\copy, CREATE INDEX in one transaction", HNSW: true, command: psqlRebuild},
	{ID: "hnsw-build", Title: "the index build alone (CREATE INDEX on the full table)", HNSW: true, command: psqlBuild,
		pre: func(ctx context.Context, x *idxSize) error { return x.exec(ctx, "DROP INDEX "+x.name, "CHECKPOINT") }},
	{ID: "hnsw-psql-keep", Title: "psql: TRUNCATE, \\copy into the kept index", HNSW: true, Slow: true, command: psqlKeep},
	{ID: "hnsw-ours-online", Title: "ours, --online, snapshot off (index kept)", HNSW: true, Slow: true, OptIn: true, Dirty: true,
		command: oursCmd("--snapshot=false", "--online"), rebuilt: &no},
	{ID: "plain-ours", Title: "ours, truncate, snapshot off, no vector index", command: oursCmd("--snapshot=false"), rebuilt: &no},
	{ID: "plain-ours-online", Title: "ours, --online, snapshot off, no vector index", Dirty: true, command: oursCmd("--snapshot=false", "--online"), rebuilt: &no},
}

func indexCaseIDs(all bool) []string {
	var ids []string
	for _, c := range indexCases {
		if all || !c.OptIn {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func indexCaseByID(id string) *indexCase {
	for _, c := range indexCases {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func oursCmd(extra ...string) func(x *idxSize, _ string) (string, []string, error) {
	return func(x *idxSize, _ string) (string, []string, error) {
		return x.b.cfg.binary, append(x.b.restoreArgs(), extra...), nil
	}
}

func (x *idxSize) psqlFile(scratch, body string) (string, []string, error) {
	path := filepath.Join(scratch, "load.sql")
	if err := os.WriteFile(path, []byte("\\set ON_ERROR_STOP on\n"+body), 0o644); err != nil {
		return "", nil, err
	}
	return x.b.cfg.psql, []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", x.b.db.url, "-f", path}, nil
}

func (x *idxSize) copyLines() string {
	ds := x.b.ds
	return fmt.Sprintf("\\copy %s (%s) FROM %s WITH (FORMAT csv, HEADER)\n\\copy %s (%s) FROM %s WITH (FORMAT csv, HEADER)\n",
		collTable, strings.Join(ds.layout.CollectionColumns(), ", "), sqlLiteral(ds.twinColl),
		embTable, strings.Join(ds.layout.EmbeddingColumns(), ", "), sqlLiteral(ds.twinEmb))
}

func psqlRebuild(x *idxSize, scratch string) (string, []string, error) {
	return x.psqlFile(scratch, fmt.Sprintf("BEGIN;\nTRUNCATE %s, %s;\nDROP INDEX %s;\n%sSET maintenance_work_mem = '%s';\n%s;\nCOMMIT;\n",
		collTable, embTable, x.name, x.copyLines(), baselineIndexMemory, x.def))
}

func psqlBuild(x *idxSize, scratch string) (string, []string, error) {
	return x.psqlFile(scratch, fmt.Sprintf("SET maintenance_work_mem = '%s';\n%s;\n", baselineIndexMemory, x.def))
}

func psqlKeep(x *idxSize, scratch string) (string, []string, error) {
	return x.psqlFile(scratch, fmt.Sprintf("BEGIN;\nTRUNCATE %s, %s;\n%sCOMMIT;\n", collTable, embTable, x.copyLines()))
}

// idxSize is one set of the section, its database and the table's state.
type idxSize struct {
	b         *bencher
	def, name string // the HNSW index: pg_get_indexdef, and its name
	state     string // "hnsw": the set's rows and the index; "plain": the rows, no index; "": reload
}

func (x *idxSize) exec(ctx context.Context, stmts ...string) error {
	for _, q := range stmts {
		if _, err := x.b.db.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// vectorIndexes is the embedding table's pgvector indexes' definitions,
// each with " INVALID" appended when not valid.
func (x *idxSize) vectorIndexes(ctx context.Context) ([]string, error) {
	rows, err := x.b.db.conn.Query(ctx, `SELECT pg_get_indexdef(x.indexrelid) || CASE WHEN x.indisvalid THEN '' ELSE ' INVALID' END
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
		WHERE x.indrelid = $1::regclass AND am.amname IN ('hnsw', 'ivfflat') ORDER BY 1`, embTable)
	if err != nil {
		return nil, err
	}
	defs := []string{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, err
		}
		defs = append(defs, d)
	}
	rows.Close()
	return defs, rows.Err()
}

// prepare puts the set's rows in the tables, with the HNSW index when the
// case needs it, vacuumed, analyzed and checkpointed. After a truncating
// case the tables already hold the set (verified) with the index: then
// only VACUUM (ANALYZE) and CHECKPOINT, instead of a reload and a build.
func (x *idxSize) prepare(ctx context.Context, c *indexCase) error {
	if c.HNSW && x.state == "hnsw" {
		return x.exec(ctx, "VACUUM (ANALYZE) "+collTable+", "+embTable, "CHECKPOINT")
	}
	if x.name != "" {
		if err := x.exec(ctx, "DROP INDEX IF EXISTS "+x.name); err != nil {
			return err
		}
	}
	x.state = ""
	if err := x.b.db.reset(ctx); err != nil {
		return err
	}
	if !c.HNSW {
		x.state = "plain"
		return nil
	}
	t0 := time.Now()
	ddl := x.def
	if ddl == "" {
		ddl = hnswDDL
	}
	if err := x.exec(ctx, "SET maintenance_work_mem = '4GB'", ddl, "RESET maintenance_work_mem", "CHECKPOINT"); err != nil {
		return err
	}
	if x.def == "" {
		err := x.b.db.conn.QueryRow(ctx, `SELECT pg_get_indexdef(x.indexrelid), x.indexrelid::regclass::text
			FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
			WHERE x.indrelid = $1::regclass AND am.amname = 'hnsw'`, embTable).Scan(&x.def, &x.name)
		if err != nil {
			return fmt.Errorf("the HNSW index: %w", err)
		}
		logf("index: %s", x.def)
	}
	logf("index: reloaded the tables and built the index (untimed, maintenance_work_mem 4GB) in %.1f s", time.Since(t0).Seconds())
	x.state = "hnsw"
	return nil
}

// indexRun is one timed run of the section.
type indexRun struct {
	Size       string   `json:"size"`
	Round      int      `json:"round"`
	Case       string   `json:"case"`
	WallS      float64  `json:"wall_s"`
	ReportedS  *float64 `json:"reported_duration_s,omitempty"` // the restore's own duration
	PeakRSSMiB float64  `json:"peak_rss_mib"`
	ClientCPUS float64  `json:"client_cpu_s"`
	ServerCPUS *float64 `json:"server_cpu_s"`
	OtherCPUS  *float64 `json:"other_cpu_s"`
	LoadAvg1   float64  `json:"load_avg_1m_before"`
	Indexes    []string `json:"indexes_after"` // verified: the HNSW index's definition, or none
	Rebuilt    []string `json:"indexes_rebuilt,omitempty"`
	Verified   bool     `json:"verified"`
}

// runCase prepares the tables, times the case's command, and verifies the
// rows and the index afterwards.
func (x *idxSize) runCase(ctx context.Context, key string, round int, c *indexCase) (*indexRun, error) {
	b := x.b
	base := filepath.Join(b.runsDir, fmt.Sprintf("%s-r%d-%s", key, round, c.ID))
	scratch := base + ".d"
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(b.ds.snapshotDir); err != nil {
		return nil, err
	}
	if err := x.prepare(ctx, c); err != nil {
		return nil, fmt.Errorf("preparing the tables: %w", err)
	}
	if c.pre != nil {
		if err := c.pre(ctx, x); err != nil {
			return nil, err
		}
	}
	x.state = ""
	name, args, err := c.command(x, scratch)
	if err != nil {
		return nil, err
	}
	if err := warm(b.ds); err != nil {
		return nil, err
	}
	r := &indexRun{Size: key, Round: round, Case: c.ID, LoadAvg1: loadAvg()}
	ps, cpu, err := b.runTimed(ctx, base, name, args...)
	if err != nil {
		return nil, err
	}
	r.WallS, r.PeakRSSMiB, r.ClientCPUS = ps.WallS, float64(ps.MaxRSSKiB)/1024, ps.UserS+ps.SysS
	r.ServerCPUS, r.OtherCPUS = cpu.of(r.ClientCPUS)
	if c.rebuilt != nil {
		extra := map[string]any{}
		if err := checkOurs(b, ps, extra, c.snapshot); err != nil {
			return nil, err
		}
		if d, ok := extra["reported_duration_s"].(float64); ok {
			r.ReportedS = &d
		}
		var res struct {
			Rebuilt []string `json:"indexes_rebuilt"`
		}
		json.Unmarshal(ps.Stdout, &res)
		r.Rebuilt = res.Rebuilt
		if got := len(res.Rebuilt) == 1 && res.Rebuilt[0] == x.name; got != *c.rebuilt || (!*c.rebuilt && len(res.Rebuilt) > 0) {
			return nil, fmt.Errorf("the restore reports indexes_rebuilt %q; want %s rebuilt: %v", res.Rebuilt, x.name, *c.rebuilt)
		}
	}
	// Verified: the rows, and the index as it was (or none).
	rng := rand.New(rand.NewPCG(b.cfg.seed, uint64(round)<<8|uint64(slices.Index(indexCases, c))))
	if err := b.db.verify(ctx, rng, b.cfg.sample); err != nil {
		return nil, err
	}
	if r.Indexes, err = x.vectorIndexes(ctx); err != nil {
		return nil, err
	}
	want := []string{}
	if c.HNSW {
		want = []string{x.def}
	}
	if !slices.Equal(r.Indexes, want) {
		return nil, fmt.Errorf("after %s the table's vector indexes are %q, want %q", c.ID, r.Indexes, want)
	}
	r.Verified = true
	switch {
	case c.Dirty:
		x.state = ""
	case c.HNSW:
		x.state = "hnsw"
	default:
		x.state = "plain"
	}
	return r, os.RemoveAll(b.ds.snapshotDir)
}
