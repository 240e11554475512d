// Command bench measures a full restore of a LangChain PGVector backup set
// with the real mcp-server binary against the ways to load the same rows
// without it: psql \copy of the same set with clean JSON metadata, psql
// \copy of a binary COPY file (the floor), and the old Python service's
// algorithm. Every run starts from full tables, is timed as a separate
// process under /usr/bin/time -v, and is verified against the generator's
// truth afterwards. It also times `mcp-server inspect` on the same set and
// `mcp-server list` over 10,000 sets. With --readers it also measures what
// the application's readers see during a truncating restore, with and
// without --online (readers.go).
//
// Run it through bench/run.sh, which provides the database; see
// bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is what the flags say.
type config struct {
	rows, dims, collections int
	rounds                  int
	seed                    uint64
	dataDir, outDir         string
	binary                  string
	psql                    string
	python                  string
	databaseURL             string
	dbName                  string
	pgdata                  string
	methods                 []string
	sample                  int
	skipInspect, skipList   bool
	listRuns                int
	keepDB                  bool
	timeout                 time.Duration
	quick                   bool
	checkArgs               bool
	readers, readersOnly    bool // the readers section; only it
	readerRows              int
	readerRounds            int
	bucket, bucketOnly      bool     // the bucket section; only it
	bucketSizes             [][2]int // rows x dims of its restores
	bucketRounds            int
	index                   indexConfig // the vector index section (hnsw.go)
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if cfg.checkArgs {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := &config{}
	var methods string
	fs.IntVar(&cfg.rows, "rows", 50000, "embedding rows N of the set (--quick: 5000)")
	fs.IntVar(&cfg.dims, "dims", 1024, "vector dimensions D (--quick: 256)")
	fs.IntVar(&cfg.collections, "collections", 4, "collections the rows are spread over (N must be a multiple)")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds; each round runs every method once, in order")
	fs.Uint64Var(&cfg.seed, "seed", 20250721, "generator seed")
	fs.BoolVar(&cfg.quick, "quick", false, "quick mode: 5,000 x 256 unless --rows/--dims say otherwise")
	fs.StringVar(&cfg.dataDir, "data", "bench/data", "where generated data is kept (reused, keyed by N x D)")
	fs.StringVar(&cfg.outDir, "out", "bench/data", "where results-<N>x<D>.md/.json and run logs go")
	fs.StringVar(&cfg.binary, "binary", "", "the mcp-server binary (default: go build ./cmd/mcp-server into the data dir)")
	fs.StringVar(&cfg.psql, "psql", defaultPsql(), "psql client")
	fs.StringVar(&cfg.python, "python", "python3", "Python 3 with psycopg2, for the old algorithm")
	fs.StringVar(&cfg.databaseURL, "database-url", firstEnv("BENCH_PG_URL", "PG_URL"), "superuser URL of the cluster (env BENCH_PG_URL, PG_URL); the bench database is created there")
	fs.StringVar(&cfg.dbName, "db", "bench_restore", "database to create (dropped first, and at the end unless --keep-db); must start with bench_")
	fs.StringVar(&cfg.pgdata, "pgdata", firstEnv("PGDATA_DIR", "TEST_PGDATA"), "the cluster's data directory, to find the postmaster for server CPU (env PGDATA_DIR, TEST_PGDATA); empty: server CPU not measured")
	fs.StringVar(&methods, "methods", strings.Join(methodIDs(false), ","), "methods to run, in this order each round (opt-in: ours-online, the restore with --online)")
	fs.IntVar(&cfg.sample, "sample", 200, "random embedding rows compared with the truth after each run")
	fs.BoolVar(&cfg.skipInspect, "skip-inspect", false, "skip the inspect section")
	fs.BoolVar(&cfg.skipList, "skip-list", false, "skip the list section")
	fs.IntVar(&cfg.listRuns, "list-runs", 7, "runs of each list measurement (median reported)")
	fs.BoolVar(&cfg.keepDB, "keep-db", false, "keep the bench database at the end")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "limit for one timed command")
	fs.BoolVar(&cfg.readers, "readers", false, "also run the readers section: the application's queries every 20 ms during a truncating restore, TRUNCATE mode vs --online")
	fs.BoolVar(&cfg.readersOnly, "readers-only", false, "run only the readers section (no methods, inspect or list); results go to results-readers-<N>x<D>.*")
	fs.IntVar(&cfg.readerRows, "reader-rows", 20000, "embedding rows of the readers section's sets (--quick: 5000); dimensions are --dims")
	fs.IntVar(&cfg.readerRounds, "reader-rounds", 3, "rounds of the readers section; each restores once per mode, the order alternating")
	fs.BoolVar(&cfg.bucket, "bucket", false, "also run the bucket section: restore from a bucket on a loopback S3 store against the same restore from the folder, and list over 10,000 sets in the bucket (needs S3_ENDPOINT, S3_BUCKET and AWS keys: bench/run.sh --bucket starts SeaweedFS)")
	fs.BoolVar(&cfg.bucketOnly, "bucket-only", false, "run only the bucket section (no methods, inspect, folder list or readers); results go to results-bucket-<N>x<D>-<profile>.*")
	var bucketSizes string
	fs.StringVar(&bucketSizes, "bucket-sizes", "", "the bucket section's sets, ROWSxDIMS comma-separated; the dimensions must be --dims (default: --rows x --dims and 20000 x --dims; --quick: 5000x256,2000x256)")
	fs.IntVar(&cfg.bucketRounds, "bucket-rounds", 3, "rounds of the bucket section; each restores from the folder and from the bucket, snapshot off and on")
	parseIndex := indexFlags(fs, &cfg.index)
	fs.BoolVar(&cfg.checkArgs, "check-args", false, "only check the other arguments (bench/run.sh does, before starting the database)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./bench [flags]   (normally through bench/run.sh, which starts the database)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := parseIndex(); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		if !set["rows"] {
			cfg.rows = 5000
		}
		if !set["dims"] {
			cfg.dims = 256
		}
		if !set["reader-rows"] {
			cfg.readerRows = 5000
		}
	}
	if cfg.readersOnly {
		cfg.readers = true
	}
	if cfg.bucketOnly {
		cfg.bucket = true
	}
	if bucketSizes == "" {
		bucketSizes = fmt.Sprintf("%dx%d", cfg.rows, cfg.dims)
		if cfg.quick && !set["rows"] && !set["dims"] {
			bucketSizes += ",2000x256"
		} else if cfg.rows != 20000 {
			bucketSizes += fmt.Sprintf(",20000x%d", cfg.dims)
		}
	}
	for _, sz := range strings.Split(bucketSizes, ",") {
		var n, d int
		if _, err := fmt.Sscanf(strings.TrimSpace(sz), "%dx%d", &n, &d); err != nil || n < 1 || d != cfg.dims || n%cfg.collections != 0 {
			return nil, fmt.Errorf("--bucket-sizes: %q is not ROWSxDIMS with DIMS the --dims (%d) and ROWS a multiple of --collections", sz, cfg.dims)
		}
		cfg.bucketSizes = append(cfg.bucketSizes, [2]int{n, d})
	}
	for _, m := range strings.Split(methods, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if methodByID(m) == nil {
			return nil, fmt.Errorf("unknown method %q (known: %s)", m, strings.Join(methodIDs(true), ", "))
		}
		cfg.methods = append(cfg.methods, m)
	}
	switch {
	case cfg.rows < 1 || cfg.dims < 1 || cfg.collections < 1 || cfg.rounds < 1:
		return nil, errors.New("--rows, --dims, --collections and --rounds must be positive")
	case cfg.rows%cfg.collections != 0:
		return nil, fmt.Errorf("--rows %d is not a multiple of --collections %d", cfg.rows, cfg.collections)
	case cfg.collections > len(collectionNames):
		return nil, fmt.Errorf("at most %d collections", len(collectionNames))
	case cfg.dims > 16000:
		return nil, errors.New("pgvector's vector holds at most 16,000 dimensions")
	case !strings.HasPrefix(cfg.dbName, "bench_"):
		return nil, errors.New("--db must start with bench_")
	case cfg.databaseURL == "" && !cfg.checkArgs:
		return nil, errors.New("no database: pass --database-url or set PG_URL (bench/run.sh starts one)")
	case len(cfg.methods) == 0:
		return nil, errors.New("no methods")
	case cfg.readers && (cfg.readerRows < 1 || cfg.readerRounds < 1):
		return nil, errors.New("--reader-rows and --reader-rounds must be positive")
	case cfg.bucketOnly && cfg.readersOnly:
		return nil, errors.New("--bucket-only and --readers-only exclude each other")
	case cfg.bucket && cfg.bucketRounds < 1:
		return nil, errors.New("--bucket-rounds must be positive")
	case cfg.readers && cfg.readerRows%cfg.collections != 0:
		return nil, fmt.Errorf("--reader-rows %d is not a multiple of --collections %d", cfg.readerRows, cfg.collections)
	}
	return cfg, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func defaultPsql() string {
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/psql"); err == nil {
		return "/usr/lib/postgresql/15/bin/psql"
	}
	return "psql"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, cfg *config) error {
	started := time.Now()
	key := fmt.Sprintf("%dx%d", cfg.rows, cfg.dims)
	if err := os.MkdirAll(cfg.outDir, 0o755); err != nil {
		return err
	}
	if cfg.binary == "" {
		cfg.binary = filepath.Join(cfg.dataDir, "bin", "mcp-server")
		logf("building %s", cfg.binary)
		if out, err := exec.Command("go", "build", "-o", cfg.binary, "./cmd/mcp-server").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/mcp-server: %v\n%s", err, out)
		}
	}
	var err error
	if cfg.binary, err = filepath.Abs(cfg.binary); err != nil {
		return err
	}
	if cfg.index.only {
		return runIndexSection(ctx, cfg, started)
	}

	if cfg.bucket {
		if _, err := bucketEnvFromOS(); err != nil { // fail before generating anything
			return err
		}
	}
	var sets *readerSets
	if cfg.readers {
		logf("generating the readers section's sets A and B: %d rows x %d dims in %d collections", cfg.readerRows, cfg.dims, cfg.collections)
		if sets, err = prepareReaderSets(cfg); err != nil {
			return fmt.Errorf("readers data: %w", err)
		}
	}
	var ds *dataset
	if cfg.readersOnly {
		// Only the readers section: its set A is the set (the schema, the
		// self-check), and the results get their own files.
		ds = sets.a
		cfg.rows = cfg.readerRows
		key = fmt.Sprintf("readers-%dx%d", cfg.rows, cfg.dims)
	} else {
		logf("generating the truth: %d rows x %d dims in %d collections (seed %d)", cfg.rows, cfg.dims, cfg.collections, cfg.seed)
		if ds, err = prepareData(cfg); err != nil {
			return fmt.Errorf("data: %w", err)
		}
	}
	logf("data in %s: legacy set %s (%s), JSON twin %s, binary COPY %s", ds.root, mib(ds.legacyBytes), ds.setDir,
		mib(ds.twinBytes), mib(ds.binaryBytes))

	db, err := openBench(ctx, cfg, ds)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer db.close(context.WithoutCancel(ctx), cfg.keepDB)

	rep := &report{
		Key:         key,
		Rows:        cfg.rows,
		Dims:        cfg.dims,
		Coll:        cfg.collections,
		Rounds:      cfg.rounds,
		OnlyReaders: cfg.readersOnly,
		Started:     started.UTC().Format(time.RFC3339),
		Quick:       cfg.quick,
		LegacyMiB:   float64(ds.legacyBytes) / (1 << 20),
	}
	rep.Machine = describeMachine(ctx, cfg, db)
	// The results are labelled with the cluster's settings profile, so a
	// fast run never overwrites a durable one.
	rep.Profile = pgProfile(rep.Machine.Settings)
	if cfg.bucketOnly {
		key = "bucket-" + key
		rep.OnlyBucket = true
	}
	key += "-" + rep.Profile
	rep.Key = key

	runsDir := filepath.Join(cfg.outDir, "runs-"+key)
	if err := os.RemoveAll(runsDir); err != nil {
		return err
	}
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return err
	}
	b := &bencher{cfg: cfg, ds: ds, db: db, runsDir: runsDir, tick: clockTick()}
	if err := b.server.init(cfg.pgdata); err != nil {
		logf("server CPU not measured: %v", err)
	}
	rep.Machine.ServerCPU = b.server.pid != 0
	if err := db.reset(ctx); err != nil {
		return fmt.Errorf("loading the tables: %w", err)
	}
	if err := db.selfCheck(ctx); err != nil {
		return err
	}
	logf("self-check: the verification notices a wrong vector, document, metadata, collection and a missing row")

	only := cfg.readersOnly || cfg.bucketOnly
	for round := 1; round <= cfg.rounds && !only; round++ {
		for _, id := range cfg.methods {
			r, err := b.runMethod(ctx, round, methodByID(id))
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, id, err)
			}
			rep.Runs = append(rep.Runs, r)
			logf("round %d %-14s %7.2f s  %8.0f rows/s  RSS %7.1f MiB  client CPU %6.2f s  server CPU %s  other CPU %s  verified",
				round, id, r.WallS, r.RowsPerS, r.PeakRSSMiB, r.ClientCPUS, fmtOpt(r.ServerCPUS, "%.2f s"), fmtOpt(r.OtherCPUS, "%.2f s"))
		}
	}
	if !cfg.skipInspect && !only {
		if rep.Inspect, err = b.inspect(ctx); err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
	}
	if !cfg.skipList && !only {
		if rep.List, err = b.list(ctx); err != nil {
			return fmt.Errorf("list: %w", err)
		}
	}
	if cfg.readers {
		if rep.Readers, err = b.readers(ctx, sets); err != nil {
			return err
		}
	}
	if cfg.bucket {
		if rep.Bucket, err = b.bucketSection(ctx); err != nil {
			return err
		}
	}
	rep.DurationS = time.Since(started).Seconds()
	md := rep.markdown()
	fmt.Print(md)
	mdPath := filepath.Join(cfg.outDir, "results-"+key+".md")
	jsonPath := filepath.Join(cfg.outDir, "results-"+key+".json")
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		return err
	}
	if err := writeJSON(jsonPath, rep); err != nil {
		return err
	}
	logf("results: %s, %s (run logs in %s); %.0f s in all", mdPath, jsonPath, runsDir, rep.DurationS)
	if rep.Readers != nil {
		// The timing targets only report PASS or FAIL; a reader that saw
		// a state other than before or after the restore fails the run.
		return rep.Readers.consistencyErr()
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func fmtOpt(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}
