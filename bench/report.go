package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is everything one benchmark run measured; it is written as JSON
// and rendered as Markdown.
type report struct {
	Key       string         `json:"key"`
	Rows      int            `json:"rows"`
	Dims      int            `json:"dims"`
	Coll      int            `json:"collections"`
	Rounds    int            `json:"rounds"`
	Quick     bool           `json:"quick"`
	Started   string         `json:"started"`
	DurationS float64        `json:"duration_s"`
	LegacyMiB float64        `json:"legacy_set_mib"`
	Machine   machine        `json:"machine"`
	Runs      []*runResult   `json:"runs"`
	Inspect   *inspectResult `json:"inspect,omitempty"`
	List      *listResult    `json:"list,omitempty"`
	Readers   *readersResult `json:"readers,omitempty"`
	// OnlyReaders: --readers-only, no methods, inspect or list.
	OnlyReaders bool `json:"only_readers,omitempty"`
	// Profile labels the cluster's settings: durable, fast or custom.
	Profile    string        `json:"pg_profile"`
	Bucket     *bucketResult `json:"bucket,omitempty"`
	OnlyBucket bool          `json:"only_bucket,omitempty"`
}

// pgProfile names the cluster's settings: "durable" when fsync,
// synchronous_commit and full_page_writes are on (PostgreSQL's defaults,
// what production runs), "fast" when all three are off (bench/run.sh
// --fast, scripts/pg.sh's throwaway cluster), else "custom".
func pgProfile(settings [][2]string) string {
	on, off := 0, 0
	for _, kv := range settings {
		switch kv[0] {
		case "fsync", "synchronous_commit", "full_page_writes":
			switch kv[1] {
			case "on":
				on++
			case "off":
				off++
			}
		}
	}
	switch {
	case on == 3:
		return "durable"
	case off == 3:
		return "fast"
	}
	return "custom"
}

// profileLabel is the one-line label of the results' PostgreSQL settings.
func (rep *report) profileLabel() string {
	var s []string
	for _, kv := range rep.Machine.Settings {
		switch kv[0] {
		case "fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers", "max_wal_size":
			s = append(s, kv[0]+"="+kv[1])
		}
	}
	return fmt.Sprintf("PostgreSQL %s (%s)", rep.Profile, strings.Join(s, ", "))
}

type machine struct {
	CPU        string      `json:"cpu"`
	Cores      int         `json:"cores"`
	RAM        string      `json:"ram"`
	Kernel     string      `json:"kernel"`
	Postgres   string      `json:"postgres"`
	Pgvector   string      `json:"pgvector"`
	Settings   [][2]string `json:"settings"`
	Binary     string      `json:"binary"`
	Commit     string      `json:"commit"`
	Psql       string      `json:"psql"`
	Python     string      `json:"python"`
	GoVersion  string      `json:"go"`
	ServerCPU  bool        `json:"server_cpu_measured"`
	FilesCache string      `json:"files"`
}

func describeMachine(ctx context.Context, cfg *config, db *benchDB) machine {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), FilesCache: "input files read into the page cache before every run"}
	m.CPU = firstMatch("/proc/cpuinfo", "model name")
	if kb := firstMatch("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		fmt.Sscanf(kb, "%d", &n)
		m.RAM = fmt.Sprintf("%.1f GiB", float64(n)/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	db.conn.QueryRow(ctx, "SELECT version()").Scan(&m.Postgres)
	db.conn.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").Scan(&m.Pgvector)
	if s, err := db.settings(ctx); err == nil {
		m.Settings = s
	}
	m.Binary = firstLine(cfg.binary, "version")
	if rev := firstLine("git", "rev-parse", "--short", "HEAD"); rev != "" {
		m.Commit = rev
		if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			m.Commit += " with uncommitted changes"
		}
	}
	m.Psql = firstLine(cfg.psql, "--version")
	m.Python = firstLine(cfg.python, "-c", "import sys, psycopg2; print('Python', sys.version.split()[0], 'psycopg2', psycopg2.__version__.split()[0])")
	return m
}

func firstMatch(file, key string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// ratio is r's wall time over the wall time of method base in the same
// round; nil when base did not run.
func (rep *report) ratio(r *runResult, base string) *float64 {
	for _, o := range rep.Runs {
		if o.Round == r.Round && o.Method == base {
			v := r.WallS / o.WallS
			return &v
		}
	}
	return nil
}

func (rep *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	mode := "full"
	if rep.Quick {
		mode = "quick"
	}
	if rep.OnlyBucket {
		p("## Restore benchmark, bucket section only (%s mode)\n\n", mode)
		p("%s; %s in all.\n\n", rep.Started, (time.Duration(rep.DurationS) * time.Second).String())
	} else if rep.OnlyReaders {
		p("## Restore benchmark, readers only: %s rows x %s dimensions (%s mode)\n\n", thousands(rep.Rows), thousands(rep.Dims), mode)
		p("%s; %d collections; %s in all.\n\n", rep.Started, rep.Coll, (time.Duration(rep.DurationS) * time.Second).String())
	} else {
		p("## Restore benchmark: %s rows x %s dimensions (%s mode)\n\n", thousands(rep.Rows), thousands(rep.Dims), mode)
		p("%s; %d collections; legacy set %.1f MiB (both CSV files; MiB/s below is of this size for every method); %d %s; %s in all.\n\n",
			rep.Started, rep.Coll, rep.LegacyMiB, rep.Rounds, plural(rep.Rounds, "round"), (time.Duration(rep.DurationS) * time.Second).String())
	}
	m := rep.Machine
	p("Machine: %s, %d cores, %s RAM, Linux %s. %s; pgvector %s. Binary: %s (commit %s). %s. %s.\n\n",
		orDash(m.CPU), m.Cores, orDash(m.RAM), orDash(m.Kernel), orDash(m.Postgres), orDash(m.Pgvector), orDash(m.Binary), orDash(m.Commit), orDash(m.Psql), orDash(m.Python))
	if len(m.Settings) > 0 {
		var s []string
		for _, kv := range m.Settings {
			s = append(s, kv[0]+"="+kv[1])
		}
		p("Cluster settings: %s.\n\n", strings.Join(s, ", "))
	}
	p("**Every figure below ran under %s.**\n\n", rep.profileLabel())
	if rep.OnlyBucket {
		if rep.Bucket != nil {
			rep.Bucket.markdown(&b, rep)
		}
		return b.String()
	}
	if rep.OnlyReaders {
		if rep.Readers != nil {
			rep.Readers.markdown(&b)
		}
		return b.String()
	}
	p("Every run starts from full tables (the same rows, loaded untimed by COPY, then VACUUM (ANALYZE) and CHECKPOINT) and is verified afterwards: row counts, embeddings per collection, every collection, and random embedding rows against the generator (vectors as float4, metadata as jsonb, NULL vs empty text).")
	if !m.ServerCPU {
		p(" Server CPU was not measured (no --pgdata).")
	}
	p("\n\n")

	p("| method | median wall s (min-max) | rows/s | MiB/s | peak RSS MiB | client CPU s | server CPU s | x psql \\copy (min-max) | x floor |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, id := range rep.methodsRun() {
		var wall, rss, ccpu, scpu, rp, rf []float64
		for _, r := range rep.Runs {
			if r.Method != id {
				continue
			}
			wall = append(wall, r.WallS)
			rss = append(rss, r.PeakRSSMiB)
			ccpu = append(ccpu, r.ClientCPUS)
			if r.ServerCPUS != nil {
				scpu = append(scpu, *r.ServerCPUS)
			}
			if v := rep.ratio(r, "psql-csv"); v != nil {
				rp = append(rp, *v)
			}
			if v := rep.ratio(r, "psql-binary"); v != nil {
				rf = append(rf, *v)
			}
		}
		mw := median(wall)
		p("| %s | %s | %s | %.1f | %s | %s | %s | %s | %s |\n", methodTitle(id), spread(wall, "%.2f"),
			thousands(int(float64(rep.Rows)/mw)), rep.LegacyMiB/mw, spread(rss, "%.0f"), spread(ccpu, "%.2f"),
			spread(scpu, "%.2f"), spread(rp, "%.2f"), spread(rf, "%.2f"))
	}
	p("\nMedians, with min-max over the rounds in parentheses. x psql \\copy and x floor: wall time over that of psql \\copy of the JSON twin, and of the binary COPY floor, in the same round.\n\n")

	p("### Every run\n\n")
	p("| round | method | wall s | rows/s | MiB/s | peak RSS MiB | client CPU s | server CPU s | x psql \\copy | x floor | other CPU s | load |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Runs {
		p("| %d | %s | %.2f | %s | %.1f | %.0f | %.2f | %s | %s | %s | %s | %.2f |\n", r.Round, methodTitle(r.Method), r.WallS,
			thousands(int(r.RowsPerS)), r.MiBPerS, r.PeakRSSMiB, r.ClientCPUS, fmtOpt(r.ServerCPUS, "%.2f"),
			fmtOpt(rep.ratio(r, "psql-csv"), "%.2f"), fmtOpt(rep.ratio(r, "psql-binary"), "%.2f"),
			fmtOpt(r.OtherCPUS, "%.2f"), r.LoadAvg1)
	}
	p("\nother CPU s: CPU the whole machine used during the run less the client's and the server's (other work on the machine; high values mean a noisy run). load: the 1-minute load average just before the run.\n\n")

	if in := rep.Inspect; in != nil {
		p("### inspect\n\n`mcp-server inspect --truncate-before-restore --json` of the same set against the full tables, %d %s: median %.2f s (%.2f-%.2f), %.1f MiB/s, %s rows/s, client CPU %.2f s, peak RSS %.0f MiB.\n\n",
			len(in.Runs), plural(len(in.Runs), "run"), in.MedianS, slices.Min(in.Runs), slices.Max(in.Runs), in.MiBPerS, thousands(int(in.RowsPerS)), in.ClientCPUS, in.PeakRSSMiB)
	}
	if l := rep.List; l != nil {
		p("### list\n\n`mcp-server list --json` over %s sets in %s task folders (two small CSV files per set, the pipeline's log per folder); %d timed runs each after one warm-up run:\n\n",
			thousands(l.Sets), thousands(l.Locations), len(l.Cases[0].Runs))
		p("| case | median ms | min-max ms | answer bytes | peak RSS MiB |\n|---|---|---|---|---|\n")
		for _, c := range l.Cases {
			p("| %s | %.0f | %.0f-%.0f | %s | %.0f |\n", c.Name, c.MedianS*1000, c.MinS*1000, c.MaxS*1000, thousands(c.Bytes), c.PeakRSSMiB)
		}
		p("\n")
	}
	if rep.Readers != nil {
		rep.Readers.markdown(&b)
	}
	if rep.Bucket != nil {
		rep.Bucket.markdown(&b, rep)
	}
	return b.String()
}

// markdown renders the readers section.
func (r *readersResult) markdown(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("### Readers during a restore\n\n")
	p("The tables hold set A (%s rows x %s dimensions); `mcp-server restore --truncate-before-restore --yes --snapshot=false` (plus `--online` in online mode) replaces them with set B (the same collections, %s other embeddings; legacy set %.1f MiB), while a reader on its own connection runs the application's queries every %d ms: `%s`, then `%s` (collection %s, a fixed query vector). Per run: set A loaded and `VACUUM (ANALYZE)`d (untimed), the reader started (one untimed warm-up read), %.0f s of reads without a restore (the baseline), the restore, %.0f s more reads; then the tables are verified to hold set B. %d %s, the modes' order alternating. Latencies in ms; *during*: reads that overlapped the restore; medians over the rounds. Restore wall s: the process, timed by the harness; its duration s: the `duration` the restore reports in its JSON.\n\n",
		thousands(r.Rows), thousands(r.Dims), thousands(int(r.CountAfter)), r.LegacyMiB, readerEvery.Milliseconds(), r.Queries[0], r.Queries[1], r.Collection,
		readerBaseline.Seconds(), readerAfter.Seconds(), r.Rounds, plural(r.Rounds, "round"))
	p("| mode | restore wall s | its duration s | reads during | count p50 / p99 / max | kNN p50 / p99 / max | baseline p99 count / kNN | counts seen | kNN answers |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range r.Modes {
		p("| %s | %.2f | %.2f | %.0f | %s | %s | %.1f / %.1f | %s | %s |\n", readerModeTitle(m.Mode), m.WallS, m.ReportedS, m.ReadsDuring,
			fmtLat(m.During.Count), fmtLat(m.During.KNN), m.Baseline.Count.P99, m.Baseline.KNN.P99,
			fmtCounts(m.Counts), fmtKNN(m.KNN))
	}
	p("\n| check | target | measured | result |\n|---|---|---|---|\n")
	for _, c := range r.Checks {
		result := "PASS"
		if !c.Pass {
			result = "FAIL"
			if c.Fatal {
				result = "**FAIL**"
			}
		}
		p("| %s | %s | %s | %s |\n", c.Name, c.Target, c.Measured, result)
	}
	p("\nIn TRUNCATE mode the readers are expected to wait for the restore's ACCESS EXCLUSIVE lock (a long max latency): that is the contrast, not a failure. A FAIL of a timing target is reported only; a reader that saw a count or kNN answer other than before's or after's fails the benchmark.\n\n")
	p("Every run:\n\n| round | mode | wall s | its duration s | reads during | count p50 / p99 / max | kNN p50 / p99 / max | baseline p99 count / kNN | after p99 count / kNN | counts seen | kNN answers | errors |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Runs {
		var counts []int64
		for c := range x.Counts {
			counts = append(counts, c)
		}
		slices.Sort(counts)
		p("| %d | %s | %.2f | %.2f | %d | %s | %s | %.1f / %.1f | %.1f / %.1f | %s | %s | %d |\n", x.Round, readerModeTitle(x.Mode), x.WallS, x.ReportedS, x.ReadsDuring,
			fmtLat(x.During.Count), fmtLat(x.During.KNN), x.Baseline.Count.P99, x.Baseline.KNN.P99, x.After.Count.P99, x.After.KNN.P99,
			fmtCounts(counts), fmtKNN(x.KNN), x.Errors)
	}
	p("\nEvery read of a run is in `runs-<key>/readers-r<round>-<mode>.reads.csv`.\n\n")
	for _, x := range r.Runs {
		for _, e := range x.FirstErr {
			p("- round %d %s, reader error: %s\n", x.Round, x.Mode, e)
		}
	}
}

func readerModeTitle(mode string) string {
	if mode == "online" {
		return "online (`--online`)"
	}
	return "TRUNCATE (default)"
}

func fmtLat(l latStats) string {
	if l.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f / %.1f / %.1f", l.P50, l.P99, l.Max)
}

func fmtCounts(counts []int64) string {
	var s []string
	for _, c := range counts {
		if c < 0 {
			s = append(s, "failed")
		} else {
			s = append(s, thousands(int(c)))
		}
	}
	return strings.Join(s, ", ")
}

func fmtKNN(m map[string]int) string {
	var s []string
	for _, k := range []string{knnBefore, knnAfter, knnOther, knnFailed} {
		if m[k] > 0 {
			s = append(s, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(s, ", ")
}

// methodsRun lists the methods that ran, in the order they ran.
func (rep *report) methodsRun() []string {
	var ids []string
	for _, r := range rep.Runs {
		if !slices.Contains(ids, r.Method) {
			ids = append(ids, r.Method)
		}
	}
	return ids
}

func methodTitle(id string) string {
	if m := methodByID(id); m != nil {
		return m.Title
	}
	return id
}

// spread is "median (min-max)", or "-" for no values.
func spread(v []float64, format string) string {
	if len(v) == 0 {
		return "-"
	}
	if len(v) == 1 {
		return fmt.Sprintf(format, v[0])
	}
	return fmt.Sprintf(format+" ("+format+"-"+format+")", median(v), slices.Min(v), slices.Max(v))
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
