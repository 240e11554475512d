//go:build linux

package main

// Fault injection against the real binary over stdio: the server killed at
// chosen points of a restore, its PostgreSQL session terminated, the call
// cancelled, PostgreSQL itself stopped and restarted, and the backup file
// changed while it streams. Every fault ends with the tables compared, byte
// for byte, against their state before (or, where the restore may
// legitimately have committed, against exactly the full restored state), and
// with every backup file checked: none lost or changed, no half-written
// snapshot listed as a set, and any snapshot that is listed complete,
// matching its manifest and restorable.
//
// The points are reached deterministically rather than by timing: PostgreSQL
// sessions are watched in pg_stat_activity and pg_stat_progress_copy; a
// conflicting lock, or a test trigger that waits on an advisory lock the test
// holds, parks the restore's transaction at a chosen statement or row; and
// the server process is frozen with SIGSTOP (which PostgreSQL cannot tell
// from a slow client) where the point must be held while the fault is set up.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const (
	faultDim = 256

	// The set in the tables before each fault ("A"): 4 collections of 2,500
	// embeddings, about 30 MB as CSV, so that its snapshot's COPY TO lasts.
	faultSeedPer = 2500
	// The set restored over it ("B"): 5,000 collections (a collection file
	// with a middle to stop in) of 6 embeddings, 30,000 in all, about 90 MB.
	faultBigCollections = 5000
	faultBigPer         = 6

	faultSeedPath = "./data_pipeline/training_data/global_vector_bak"
	faultSeedTS   = "20250720_080000"
	faultBigDir   = "task_big/vector_bak"
	faultBigPath  = "./data_pipeline/training_data/task_big/vector_bak"
	faultBigTS    = "20250721_215758"

	// snapshotDir is where restores write their snapshots (the global
	// location), relative to the backup root.
	snapshotDir = "global_vector_bak"

	// pauseLock is the advisory lock (two-int form, apart from the server's
	// bigint lock) the test holds and a test trigger waits on.
	pauseLock = "4242, 1"
)

// faultRig is the shared setup of TestFaults: one project with both sets,
// and the counts reported at the end.
type faultRig struct {
	p      *pgtest.Project
	cat    *catalog.Catalog
	seed   *sample.Dataset // A
	big    *sample.Dataset // B
	faults int
	rows   int64
	online bool // restores replace rows online
}

// TestFaults injects every fault; see the file's comment.
func TestFaults(t *testing.T) {
	pgtest.URL(t) // skip before writing 120 MB when there is no database
	start := time.Now()
	r := &faultRig{p: newProject(t)}
	names := make([]string, faultBigCollections)
	for i := range names {
		names[i] = fmt.Sprintf("coll_%05d", i)
	}
	r.seed = sample.Generate(50, []string{"sql", "ddl", "documentation", "error_sql"}, faultSeedPer, faultDim)
	r.big = sample.Generate(51, names, faultBigPer, faultDim)
	r.p.Write(t, r.seed, snapshotDir, faultSeedTS)
	r.p.Write(t, r.big, faultBigDir, faultBigTS)
	r.cat = r.p.Catalog(t)
	t.Logf("sets written in %v: A %d collections/%d embeddings, B %d collections/%d embeddings (%s)",
		time.Since(start).Round(time.Millisecond), len(r.seed.Collections), len(r.seed.Embeddings),
		len(r.big.Collections), len(r.big.Embeddings), setSize(t, filepath.Join(r.p.Backups, faultBigDir), faultBigTS))

	// Every fault in both ways of replacing the rows: TRUNCATE, and online
	// (DELETE under a lock that lets readers read).
	for _, online := range []bool{false, true} {
		r.online = online
		t.Run(fmt.Sprintf("online=%v", online), func(t *testing.T) {
			t.Run("KillServer", r.testKill)
			t.Run("TerminateBackend", r.testTerminate)
			t.Run("Cancel", r.testCancel)
			t.Run("CommitFails", r.testCommitFails)
			t.Run("BackupFileChanges", r.testFileChanges)
			t.Run("PostgresRestart", r.testPostgresRestart)
		})
	}
	t.Logf("faults injected: %d; rows compared: %d; in %v", r.faults, r.rows, time.Since(start).Round(time.Millisecond))
}

// bigArgs restores B over whatever is in the tables, with a snapshot, in
// the rig's mode.
func (r *faultRig) bigArgs() map[string]any {
	return map[string]any{"backup_path": faultBigPath, "timestamp": faultBigTS, "truncate_before_restore": true, "online": r.online}
}

// fault counts one injected fault.
func (r *faultRig) fault(t *testing.T, format string, args ...any) {
	t.Helper()
	r.faults++
	t.Logf("fault %d: %s", r.faults, fmt.Sprintf(format, args...))
}

// newDB makes a database with the tables of A's shape on the shared server.
func (r *faultRig) newDB(t *testing.T) string {
	t.Helper()
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(faultDim))
	return db
}

// unattended runs the server with confirmations off, as a pipeline does.
func (r *faultRig) unattended(t *testing.T, db string) *stdioServer {
	t.Helper()
	return startServer(t, protocols[0], serverOptions{db: db, projectRoot: r.p.Root, args: []string{"--confirm=none"}})
}

// seedTables puts A in the tables (no snapshot) and returns their dump.
func (r *faultRig) seedTables(t *testing.T, s *stdioServer, db string) string {
	t.Helper()
	s.restore(t, map[string]any{"backup_path": faultSeedPath, "timestamp": faultSeedTS, "truncate_before_restore": true, "snapshot": false})
	r.compare(t, db, r.seed)
	return pgtest.Dump(t, db)
}

// same checks the tables are byte for byte the dump before.
func (r *faultRig) same(t *testing.T, db, before string) {
	t.Helper()
	after := pgtest.Dump(t, db)
	n := rowCount(t, db)
	r.rows += n
	if after != before {
		t.Errorf("the tables changed (now %d rows; dumps differ from byte %d)", n, firstDiff(before, after))
	}
}

// rowCount is the rows of both tables.
func rowCount(t *testing.T, db string) int64 {
	t.Helper()
	var n int64
	err := pgtest.Connect(t, db).QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM langchain_pg_collection) + (SELECT count(*) FROM langchain_pg_embedding)").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// compare checks the tables hold exactly d.
func (r *faultRig) compare(t *testing.T, db string, d *sample.Dataset) {
	t.Helper()
	pgtest.Compare(t, db, d, sample.Default)
	r.rows += int64(len(d.Collections) + len(d.Embeddings))
}

func firstDiff(a, b string) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// --- the server's calls and process ---

type callResult struct {
	res *mcp.CallToolResult
	err error
}

// callAsync calls a tool in the background; cancel ends the call's context
// (mcp-go then sends notifications/cancelled).
func (s *stdioServer) callAsync(name string, args map[string]any) (<-chan callResult, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	ch := make(chan callResult, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = name
		req.Params.Arguments = args
		res, err := s.c.CallTool(ctx, req)
		ch <- callResult{res, err}
	}()
	return ch, cancel
}

func waitCall(t *testing.T, ch <-chan callResult, timeout time.Duration) callResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(timeout):
		t.Fatalf("the call did not end within %v", timeout)
	}
	return callResult{}
}

// wantError checks a call ended with an isError result of type typ whose
// message contains every one of subs, and returns the error object.
func wantError(t *testing.T, got callResult, typ string, subs ...string) map[string]any {
	t.Helper()
	if got.err != nil {
		t.Fatalf("the call failed at the protocol level (%v), want an isError result %s", got.err, typ)
	}
	out := structured(t, got.res)
	if !got.res.IsError || out["error_type"] != typ {
		t.Fatalf("result %v (isError %v), want %s", out, got.res.IsError, typ)
	}
	msg, _ := out["message"].(string)
	for _, sub := range subs {
		if !strings.Contains(msg, sub) {
			t.Errorf("%s message lacks %q: %s", typ, sub, msg)
		}
	}
	return out
}

func saysRolledBack(msg string) bool {
	return strings.Contains(msg, "rolled back") || strings.Contains(msg, "rolls back")
}

// freeze stops the server process (SIGSTOP) until thaw, or the test's end.
func freeze(t *testing.T, s *stdioServer) (thaw func()) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	thaw = func() { once.Do(func() { s.cmd.Process.Signal(syscall.SIGCONT) }) }
	t.Cleanup(thaw)
	return thaw
}

func kill(t *testing.T, s *stdioServer, ch <-chan callResult) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := waitCall(t, ch, 20*time.Second); got.err == nil {
		t.Errorf("the killed server's call returned a result: %s", text(got.res))
	}
}

// readPos is the offset of the server's open file path (from /proc), that
// is how much of it the server has read.
func readPos(t *testing.T, pid int, path string) int64 {
	t.Helper()
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil || target != path {
			continue
		}
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "pos:"); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
	}
	t.Fatalf("the server does not have %s open", path)
	return 0
}

// --- watching PostgreSQL ---

// backend is one session as pg_stat_activity and pg_stat_progress_copy show it.
type backend struct {
	pid                          int32
	state, query, waitType, wait string
	tuples, bytes                int64
}

func (b backend) String() string {
	q := b.query
	if len(q) > 70 {
		q = q[:70] + "…"
	}
	return fmt.Sprintf("pid %d %s %q wait=%s/%s rows=%d bytes=%d", b.pid, b.state, q, b.waitType, b.wait, b.tuples, b.bytes)
}

// watcher watches the sessions of one database other than the test's own.
type watcher struct {
	db   string
	conn *pgx.Conn
	mine []int32 // the test's sessions: never the server's
}

func newWatcher(t *testing.T, db string) *watcher {
	t.Helper()
	w := &watcher{db: db}
	w.conn = w.session(t)
	return w
}

// session opens a test session the watcher ignores.
func (w *watcher) session(t *testing.T) *pgx.Conn {
	t.Helper()
	c := pgtest.Connect(t, w.db)
	w.mine = append(w.mine, int32(c.PgConn().PID()))
	return c
}

func (w *watcher) sessions(t *testing.T) []backend {
	t.Helper()
	rows, err := w.conn.Query(context.Background(), `
		SELECT a.pid, coalesce(a.state, ''), coalesce(a.query, ''), coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''),
		       coalesce(p.tuples_processed, 0), coalesce(p.bytes_processed, 0)
		FROM pg_stat_activity a LEFT JOIN pg_stat_progress_copy p ON p.pid = a.pid
		WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.pid <> ALL($1)`, w.mine)
	if err != nil {
		t.Fatalf("watch sessions: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (backend, error) {
		var b backend
		err := row.Scan(&b.pid, &b.state, &b.query, &b.waitType, &b.wait, &b.tuples, &b.bytes)
		return b, err
	})
	if err != nil {
		t.Fatalf("watch sessions: %v", err)
	}
	return out
}

// await polls until a session matches, failing if the call ends first.
func (w *watcher) await(t *testing.T, ch <-chan callResult, what string, match func(backend) bool) backend {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, b := range w.sessions(t) {
			if match(b) {
				return b
			}
		}
		select {
		case got := <-ch:
			t.Fatalf("the call ended before %s: err=%v %s", what, got.err, text(got.res))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session reached %s within 60 s: %v", what, w.sessions(t))
		}
		time.Sleep(300 * time.Microsecond)
	}
}

// get returns the session pid, if it is still there.
func (w *watcher) get(t *testing.T, pid int32) (backend, bool) {
	t.Helper()
	for _, b := range w.sessions(t) {
		if b.pid == pid {
			return b, true
		}
	}
	return backend{}, false
}

// waitGone waits until PostgreSQL has ended session pid (and so rolled back
// its transaction), and no other session of the database is in one.
// frozenIn returns an arrive step that waits until the server's COPY
// matching stmt has moved rows rows, freezes the server, and checks the COPY
// is still under way, so a kill lands inside it.
func (w *watcher) frozenIn(t *testing.T, what string, rows int64, stmt ...string) func(*stdioServer, <-chan callResult) backend {
	return func(s *stdioServer, ch <-chan callResult) backend {
		b := w.await(t, ch, what, copying(rows, stmt...))
		freeze(t, s)
		time.Sleep(100 * time.Millisecond)
		got, ok := w.get(t, b.pid)
		if !ok || !running(stmt...)(got) {
			t.Fatalf("%s ended under a frozen server: %v", what, got)
		}
		return got
	}
}

func (w *watcher) waitGone(t *testing.T, pid int32) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, alive := w.get(t, pid)
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL still runs the server's session 20 s after the fault: %v", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitIdle(t, w.db)
}

// running matches a session executing a statement that contains every one
// of subs.
func running(subs ...string) func(backend) bool {
	return func(b backend) bool {
		if b.state != "active" {
			return false
		}
		for _, sub := range subs {
			if !strings.Contains(b.query, sub) {
				return false
			}
		}
		return true
	}
}

// copying matches a session in a COPY (see running) with at least rows rows
// through it.
func copying(rows int64, subs ...string) func(backend) bool {
	return func(b backend) bool { return running(subs...)(b) && b.tuples >= rows }
}

// waitingIn matches a session waiting on a lock in a statement (see running).
func waitingIn(subs ...string) func(backend) bool {
	return func(b backend) bool { return running(subs...)(b) && b.waitType == "Lock" }
}

// What the restore's statements look like in pg_stat_activity: loose enough
// to survive rewording of the SQL, tight enough to tell the phases apart.
var (
	lockEmbeddings   = []string{"LOCK TABLE", "langchain_pg_embedding"}
	truncateStmt     = []string{"TRUNCATE"}
	deleteEmbeddings = []string{"DELETE FROM", "langchain_pg_embedding"}
	snapshotCopy     = []string{"COPY (SELECT", "langchain_pg_embedding", "TO STDOUT"}
	collectionsCopy  = []string{`COPY "langchain_pg_collection"`, "FROM STDIN"}
	collectionsMerge = []string{`INSERT INTO "langchain_pg_collection"`, "ON CONFLICT"}
	embeddingsCopy   = []string{`COPY "langchain_pg_embedding"`, "FROM STDIN"}
)

// pause installs a test trigger (create is its CREATE TRIGGER, using
// fault_pause()) that parks the restore's transaction on pauseLock, which the
// returned session holds until release. drop removes the trigger once the
// server's session is gone.
func pause(t *testing.T, w *watcher, create string) (release, drop func()) {
	t.Helper()
	pgtest.Exec(t, w.db, `CREATE OR REPLACE FUNCTION fault_pause() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_advisory_xact_lock(`+pauseLock+`); RETURN NEW; END $$;`+create)
	holder := w.session(t)
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock("+pauseLock+")"); err != nil {
		t.Fatal(err)
	}
	trigger := regexp.MustCompile(`TRIGGER (\w+) .*? ON (\w+)`).FindStringSubmatch(create)
	release = func() {
		if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_unlock("+pauseLock+")"); err != nil {
			t.Fatal(err)
		}
	}
	drop = func() { pgtest.Exec(t, w.db, fmt.Sprintf("DROP TRIGGER %s ON %s", trigger[1], trigger[2])) }
	return release, drop
}

// --- the backup files ---

// fileState is every file under the backup root with its SHA-256, and the
// complete sets the catalog lists in the snapshot folder.
type fileState struct {
	sums map[string]string // path relative to the backup root → SHA-256
	sets []string          // timestamps of the snapshot folder's complete sets
}

func (r *faultRig) files(t *testing.T) fileState {
	t.Helper()
	st := fileState{sums: map[string]string{}}
	err := filepath.WalkDir(r.p.Backups, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(r.p.Backups, p)
		st.sums[filepath.ToSlash(rel)] = sha256File(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	loc := r.snapshotLocation(t)
	for _, s := range loc.Sets {
		st.sets = append(st.sets, s.Timestamp)
	}
	return st
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (r *faultRig) snapshotLocation(t *testing.T) catalog.Location {
	t.Helper()
	scan, err := r.cat.Scan(context.Background(), catalog.Filter{GlobalOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range scan.Locations {
		if filepath.Base(loc.Dir) == snapshotDir {
			return loc
		}
	}
	t.Fatalf("the catalog lists no %s: %+v", snapshotDir, scan.Locations)
	return catalog.Location{}
}

// What a failed restore may leave in the snapshot folder.
type leftover string

const (
	nothingLeft  leftover = "nothing"      // no new file: no snapshot, or it was removed
	halfWritten  leftover = "half-written" // a killed restore's snapshot: the server's .tmp files only, listed incomplete, never a set
	completeSet  leftover = "complete set" // a snapshot published because the restore may have committed: a valid set of the unchanged rows
	snapshotLogs          = snapshotDir + "/" + layout.LogName
)

// Snapshots are binary COPY (.pgcopy); while one is written, its folder
// also holds the collection's .csv.mcp.tmp, which reserves the timestamp.
var snapshotFileRE = regexp.MustCompile(`^(?:langchain_pg_(?:collection|embedding)_|vector_snapshot_manifest_)([0-9]{8}_[0-9]{6})\.(?:csv|pgcopy|json)(\.(?:[0-9]+\.|mcp\.)?tmp)?$`)

// checkFiles compares the backup root with before: no file lost or changed
// (except mutated, changed on purpose), new files only in the snapshot folder
// and only what want allows. For a complete snapshot it checks the set
// against its manifest and the rows it must hold (A's), and returns its
// timestamp.
func (r *faultRig) checkFiles(t *testing.T, before fileState, want leftover, mutated ...string) string {
	t.Helper()
	after := r.files(t)
	for rel, sum := range before.sums {
		if rel == snapshotLogs || slices.Contains(mutated, rel) {
			continue
		}
		if _, ok := after.sums[rel]; !ok && layout.IsServerTmp(path.Base(rel)) {
			continue // a killed server's leftover, which the server removes
		}
		switch got, ok := after.sums[rel]; {
		case !ok:
			t.Errorf("backup file %s was lost", rel)
		case got != sum:
			t.Errorf("backup file %s changed", rel)
		}
	}
	var added []string
	stamps := map[string]bool{}
	tmp := 0
	for rel := range after.sums {
		if _, ok := before.sums[rel]; ok {
			continue
		}
		if strings.HasPrefix(rel, layout.StateDir+"/") || strings.HasPrefix(rel, layout.AuditDir+"/") {
			continue // the server's own state (its seal key, spent tokens) and the audit trail's records
		}
		added = append(added, rel)
		dir, name := path.Split(rel)
		m := snapshotFileRE.FindStringSubmatch(name)
		if dir != snapshotDir+"/" || m == nil {
			t.Errorf("unexpected new file %s", rel)
			continue
		}
		stamps[m[1]] = true
		if m[2] != "" {
			tmp++
		}
	}
	sort.Strings(added)
	got := nothingLeft
	switch {
	case len(added) == 0:
	case tmp == len(added):
		got = halfWritten
	default:
		got = completeSet
	}
	if got != want || len(stamps) > 1 {
		t.Errorf("the snapshot folder gained %v (%s), want %s", added, got, want)
	}
	loc := r.snapshotLocation(t)
	var ts string
	for s := range stamps {
		ts = s
	}
	var newSets []string
	for _, s := range loc.Sets {
		if !slices.Contains(before.sets, s.Timestamp) {
			newSets = append(newSets, s.Timestamp)
		}
	}
	logChanged := after.sums[snapshotLogs] != before.sums[snapshotLogs]
	switch got {
	case nothingLeft, halfWritten:
		if len(newSets) > 0 {
			t.Errorf("the catalog lists new complete sets %v after a failed restore", newSets)
		}
		if got == halfWritten && !slices.ContainsFunc(loc.Incomplete, func(i catalog.Incomplete) bool { return i.Timestamp == ts }) {
			t.Errorf("the half-written snapshot %s is not listed as incomplete: %+v", ts, loc.Incomplete)
		}
		if logChanged {
			logText, _ := os.ReadFile(filepath.Join(r.p.Backups, snapshotLogs))
			t.Errorf("the failed restore left %s changed, no longer describing the folder's sets (its snapshot is gone):\n%s", snapshotLogs, logText)
		}
		t.Logf("backup files intact (%d files); snapshot folder: %s %v", len(before.sums), got, added)
	case completeSet:
		if !slices.Equal(newSets, []string{ts}) {
			t.Errorf("the catalog lists new sets %v, want the snapshot %s", newSets, ts)
		}
		r.checkSnapshot(t, loc, ts, after)
		if logChanged {
			logText, _ := os.ReadFile(filepath.Join(r.p.Backups, snapshotLogs))
			if !strings.Contains(string(logText), layout.DataFileName(layout.EmbeddingTable, ts, layout.FormatPGCopy)) { // snapshots are binary COPY
				t.Errorf("%s changed but does not describe the snapshot %s:\n%s", snapshotLogs, ts, logText)
			}
		}
		t.Logf("backup files intact (%d files); snapshot folder: complete snapshot %s", len(before.sums), ts)
	}
	return ts
}

// checkSnapshot checks a snapshot set against its manifest (sizes, SHA-256)
// and that it holds A's rows.
func (r *faultRig) checkSnapshot(t *testing.T, loc catalog.Location, ts string, st fileState) {
	t.Helper()
	i := slices.IndexFunc(loc.Sets, func(s catalog.Set) bool { return s.Timestamp == ts })
	if i < 0 {
		t.Fatalf("snapshot %s is not a complete set", ts)
	}
	set := loc.Sets[i]
	if set.ManifestFile == "" {
		t.Fatalf("snapshot %s has no manifest", ts)
	}
	dir := r.cat.Name(set.Dir)
	m, err := layout.ReadManifest(filepath.Join(dir, set.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	wantRows := map[string]int{layout.CollectionTable: len(r.seed.Collections), layout.EmbeddingTable: len(r.seed.Embeddings)}
	for table, f := range m.Files {
		fi, err := os.Stat(filepath.Join(dir, f.File))
		if err != nil {
			t.Errorf("snapshot %s: %v", ts, err)
			continue
		}
		if fi.Size() != f.Bytes || st.sums[snapshotDir+"/"+f.File] != f.SHA256 {
			t.Errorf("snapshot %s: %s does not match its manifest (%d bytes, want %d)", ts, f.File, fi.Size(), f.Bytes)
		}
		if f.Rows != int64(wantRows[table]) {
			t.Errorf("snapshot %s: %s holds %d rows, want %d", ts, table, f.Rows, wantRows[table])
		}
	}
}

// restoreSnapshot restores snapshot ts (truncating, no new snapshot) and
// checks the tables are then again exactly before: the snapshot is usable.
func (r *faultRig) restoreSnapshot(t *testing.T, db, ts, before string) {
	t.Helper()
	s := r.unattended(t, db)
	out := s.restore(t, map[string]any{"backup_path": faultSeedPath, "timestamp": ts, "truncate_before_restore": true, "snapshot": false})
	emb := out["restore_results"].(map[string]any)[layout.EmbeddingTable].(map[string]any)
	if emb["rows_restored"] != float64(len(r.seed.Embeddings)) {
		t.Errorf("restoring snapshot %s wrote %v embeddings, want %d", ts, emb["rows_restored"], len(r.seed.Embeddings))
	}
	r.same(t, db, before)
}

// --- the faults ---

// testKill kills the server (SIGKILL) at five points of a truncating restore
// with a snapshot.
func (r *faultRig) testKill(t *testing.T) {
	db := r.newDB(t)
	before := r.seedTables(t, r.unattended(t, db), db)
	w := newWatcher(t, db)
	midCollection := r.big.Collections[len(r.big.Collections)/2].Name

	// A point's prepare runs before the restore starts (the restore's
	// locks would block setting anything up later); arrive waits until the
	// restore is held at the point and returns its session; after runs once
	// the server is dead, releasing what prepare holds.
	type hold struct {
		arrive func(s *stdioServer, ch <-chan callResult) backend
		after  func(b backend)
	}
	noop := func(backend) {}
	points := []struct {
		name    string
		prepare func(t *testing.T) hold
		left    leftover
	}{
		{
			name: "waiting for the table lock",
			prepare: func(t *testing.T) hold {
				// The application reading the table holds the restore's
				// ACCESS EXCLUSIVE lock back; online, its writer holds
				// the EXCLUSIVE lock back.
				mode := "ACCESS SHARE"
				if r.online {
					mode = "ROW EXCLUSIVE"
				}
				reader := w.session(t)
				if _, err := reader.Exec(context.Background(), "BEGIN; LOCK TABLE langchain_pg_embedding IN "+mode+" MODE"); err != nil {
					t.Fatal(err)
				}
				return hold{
					arrive: func(s *stdioServer, ch <-chan callResult) backend {
						return w.await(t, ch, "the lock wait", waitingIn(lockEmbeddings...))
					},
					after: func(b backend) {
						// PostgreSQL cannot notice the client is gone while
						// the session waits for a lock, but the restore
						// waits in short tries: the session ends with the
						// try, while the reader still holds its lock.
						for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
							if _, ok := w.get(t, b.pid); !ok {
								break
							}
							if time.Now().After(deadline) {
								t.Fatalf("the killed server's session still waits for the lock 5 s later")
							}
						}
						if _, err := reader.Exec(context.Background(), "COMMIT"); err != nil {
							t.Fatal(err)
						}
					},
				}
			},
			left: nothingLeft,
		},
		{
			name: "after the TRUNCATE",
			prepare: func(t *testing.T) hold {
				// Online, the rows are deleted instead.
				event, stmt := "TRUNCATE", truncateStmt
				if r.online {
					event, stmt = "DELETE", deleteEmbeddings
				}
				release, drop := pause(t, w, "CREATE TRIGGER fault_pause AFTER "+event+" ON langchain_pg_embedding FOR EACH STATEMENT EXECUTE FUNCTION fault_pause()")
				return hold{
					arrive: func(s *stdioServer, ch <-chan callResult) backend {
						return w.await(t, ch, "the "+event, waitingIn(stmt...))
					},
					after: func(b backend) {
						release()
						w.waitGone(t, b.pid)
						drop()
					},
				}
			},
			left: halfWritten, // published only once the restore commits
		},
		{
			name: "during the snapshot's COPY TO",
			prepare: func(t *testing.T) hold {
				return hold{
					// Frozen, the server reads no more: the COPY TO
					// cannot end.
					arrive: w.frozenIn(t, "the snapshot", 1, snapshotCopy...),
					after:  noop,
				}
			},
			left: halfWritten,
		},
		{
			name: "in the middle of the collection COPY",
			prepare: func(t *testing.T) hold {
				release, drop := pause(t, w, fmt.Sprintf(
					"CREATE TRIGGER fault_pause BEFORE INSERT ON langchain_pg_collection FOR EACH ROW WHEN (NEW.name = '%s') EXECUTE FUNCTION fault_pause()", midCollection))
				return hold{
					arrive: func(s *stdioServer, ch <-chan callResult) backend {
						if r.online {
							// Online, the collections the tables keep are
							// updated in place: staged, then merged.
							return w.await(t, ch, "the collections' merge", waitingIn(collectionsMerge...))
						}
						b := w.await(t, ch, "the collection COPY", waitingIn(collectionsCopy...))
						if b.tuples != int64(len(r.big.Collections)/2) {
							t.Errorf("parked after %d collection rows, want %d", b.tuples, len(r.big.Collections)/2)
						}
						return b
					},
					after: func(b backend) {
						release()
						w.waitGone(t, b.pid)
						drop()
					},
				}
			},
			left: halfWritten, // published only once the restore commits
		},
		{
			name: "during the embedding COPY",
			prepare: func(t *testing.T) hold {
				return hold{
					arrive: w.frozenIn(t, "the embedding COPY", 1000, embeddingsCopy...),
					after:  noop,
				}
			},
			left: halfWritten, // published only once the restore commits
		},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			files := r.files(t)
			h := pt.prepare(t)
			s := r.unattended(t, db)
			ch, cancel := s.callAsync("restore_vector_backup", r.bigArgs())
			defer cancel()
			b := h.arrive(s, ch)
			kill(t, s, ch)
			r.fault(t, "SIGKILL of the server %s (%v)", pt.name, b)
			h.after(b)
			w.waitGone(t, b.pid)
			r.same(t, db, before)
			if ts := r.checkFiles(t, files, pt.left); pt.left == completeSet && ts != "" {
				r.restoreSnapshot(t, db, ts, before)
			}
		})
	}
}

// testTerminate ends the server's PostgreSQL session from another one in the
// middle of the embedding COPY, under the confirmation flow: the call fails
// cleanly, nothing changed, the server serves on, and the same confirmation
// then restores B in full.
func (r *faultRig) testTerminate(t *testing.T) {
	db := r.newDB(t)
	s := startServer(t, protocols[1], serverOptions{db: db, projectRoot: r.p.Root})
	before := r.seedTables(t, s, db)
	w := newWatcher(t, db)

	res, out := s.call(t, "restore_vector_backup", r.bigArgs())
	token := confirmToken(t, res, out)
	if token == "" {
		t.Fatalf("a truncating restore over 10,000 rows ran without confirmation: %s", text(res))
	}
	args := withToken(r.bigArgs(), token)
	files := r.files(t)
	ch, cancel := s.callAsync("restore_vector_backup", args)
	defer cancel()
	b := w.await(t, ch, "the embedding COPY", copying(1000, embeddingsCopy...))
	var terminated bool
	if err := w.conn.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", b.pid).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("pg_terminate_backend(%d): %v %v", b.pid, terminated, err)
	}
	r.fault(t, "pg_terminate_backend of the server's session mid embedding COPY (%v)", b)
	got := wantError(t, waitCall(t, ch, 30*time.Second), "DATABASE_ERROR")
	t.Logf("result: %v", got["message"])
	if msg, _ := got["message"].(string); !saysRolledBack(msg) {
		t.Errorf("the message should say the transaction was rolled back: %s", msg)
	}
	w.waitGone(t, b.pid)
	r.same(t, db, before)
	r.checkFiles(t, files, nothingLeft)

	if res, list := s.call(t, "list_vector_backups", map[string]any{}); res.IsError || !slices.Contains(sets(list), faultBigPath+"@"+faultBigTS) {
		t.Fatalf("list after the terminated restore: %s", text(res))
	}
	// The confirmation was not spent by the failed restore: it still
	// describes the world, and now runs to the end.
	s.restore(t, args)
	r.compare(t, db, r.big)
}

// testCancel cancels the call from the client during the snapshot's COPY TO
// and during the embedding COPY.
func (r *faultRig) testCancel(t *testing.T) {
	db := r.newDB(t)
	s := startServer(t, protocols[1], serverOptions{db: db, projectRoot: r.p.Root, args: []string{"--confirm=none"}})
	before := r.seedTables(t, s, db)
	w := newWatcher(t, db)
	for _, pt := range []struct {
		name string
		stmt []string
	}{
		{"during the snapshot's COPY TO", snapshotCopy},
		{"during the embedding COPY", embeddingsCopy},
	} {
		t.Run(pt.name, func(t *testing.T) {
			files := r.files(t)
			logFrom := s.stderr.Len()
			ch, cancel := s.callAsync("restore_vector_backup", r.bigArgs())
			b := w.await(t, ch, pt.name, copying(1000, pt.stmt...))
			cancel()
			cancelled := time.Now()
			r.fault(t, "client cancel %s (%v)", pt.name, b)
			got := waitCall(t, ch, 10*time.Second)
			if got.err == nil {
				// mcp-go returns the context's error; a result, if one
				// came, must say CANCELLED.
				wantError(t, got, "CANCELLED")
			}
			switch s.stderr.WaitFor(logFrom, 30*time.Second, "restore committed", "tool call failed") {
			case "tool call failed":
				if logs := s.stderr.String()[logFrom:]; !strings.Contains(logs, "error_type=CANCELLED") {
					t.Errorf("the cancelled restore should end as CANCELLED:\n%s", logs)
				}
				// Promptly: not after reading the rest of a 90 MB file.
				if d := time.Since(cancelled); d > 5*time.Second {
					t.Errorf("the server took %v to stop after the cancel", d)
				} else {
					t.Logf("the server rolled back within %v of the cancel", d.Round(time.Millisecond))
				}
			case "restore committed":
				t.Fatalf("the restore committed although it was cancelled mid-COPY (%v)", b)
			default:
				t.Fatalf("the server logged no end of the cancelled restore:\n%s", s.stderr.String()[logFrom:])
			}
			w.waitGone(t, b.pid)
			r.same(t, db, before)
			r.checkFiles(t, files, nothingLeft)
		})
	}
	if names := s.toolNames(t); !slices.Contains(names, "restore_vector_backup") {
		t.Errorf("tools/list after the cancels: %v", names)
	}
}

// testCommitFails makes COMMIT itself fail cleanly, as a deferred
// constraint does: PostgreSQL answers with an error and rolls back. The
// server says so, and since nothing changed it must not leave the snapshot
// it took as a new set, as for any other failure before COMMIT.
func (r *faultRig) testCommitFails(t *testing.T) {
	db := r.newDB(t)
	s := r.unattended(t, db)
	before := r.seedTables(t, s, db)
	pgtest.Exec(t, db, `CREATE FUNCTION fault_reject() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'deferred check failed' USING ERRCODE = 'check_violation'; END $$;
		CREATE CONSTRAINT TRIGGER fault_reject AFTER INSERT ON langchain_pg_collection
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.name = '`+r.big.Collections[0].Name+`') EXECUTE FUNCTION fault_reject()`)
	files := r.files(t)
	ch, cancel := s.callAsync("restore_vector_backup", r.bigArgs())
	defer cancel()
	r.fault(t, "a deferred constraint fails at COMMIT")
	got := waitCall(t, ch, 60*time.Second)
	if got.err != nil || !got.res.IsError {
		t.Fatalf("the restore succeeded although its COMMIT failed: %v %s", got.err, text(got.res))
	}
	e := structured(t, got.res)
	msg, _ := e["message"].(string)
	t.Logf("result: %v: %s", e["error_type"], msg)
	if !saysRolledBack(msg) || !strings.Contains(msg, "deferred check failed") {
		t.Errorf("the message should give PostgreSQL's reason and say the transaction was rolled back: %s", msg)
	}
	r.same(t, db, before)
	r.checkFiles(t, files, nothingLeft)
}

// testFileChanges changes B's embedding file while a restore streams it:
// rows appended or the file cut short, with and without a manifest, and
// under a confirmation token.
func (r *faultRig) testFileChanges(t *testing.T) {
	db := r.newDB(t)
	s := r.unattended(t, db)
	before := r.seedTables(t, s, db)
	w := newWatcher(t, db)

	src := filepath.Join(r.p.Backups, faultBigDir, "langchain_pg_embedding_"+faultBigTS+".csv")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	ends := recordEnds(data)
	if len(ends) != len(r.big.Embeddings)+1 {
		t.Fatalf("found %d records in B's embedding file, want %d and the header", len(ends)-1, len(r.big.Embeddings))
	}
	size := int64(len(data))
	half := len(r.big.Embeddings) / 2
	boundary := ends[half] // just after the header and the first half of the records
	midRecord := size / 2
	for slices.Contains(ends, midRecord) {
		midRecord++
	}
	extra := extraRows(t, r.big.Collections[0].UUID)

	cases := []struct {
		name     string
		manifest bool
		token    bool
		mutate   func(path string) error
		limit    int64 // the server must not have read this far when the file changes
		want     string
		subs     []string
		asOpened bool // the change is past the bytes the file had when opened: the restore reads those, and commits them
	}{
		{
			name: "rows appended, with a manifest", manifest: true,
			mutate: func(p string) error {
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					return err
				}
				if _, err := f.Write(extra); err != nil {
					f.Close()
					return err
				}
				return f.Close()
			},
			// The server reads a file as it was when opened, which
			// its manifest vouches for: rows appended later are not
			// read.
			limit: size, asOpened: true,
		},
		{
			name: "cut at a record boundary, with a manifest", manifest: true,
			mutate: func(p string) error { return os.Truncate(p, boundary) },
			limit:  boundary, want: "BACKUP_CORRUPT", subs: []string{"does not match its manifest", "row count"},
		},
		{
			name:   "cut in the middle of a record, no manifest",
			mutate: func(p string) error { return os.Truncate(p, midRecord) },
			limit:  midRecord, want: "BACKUP_CORRUPT", subs: []string{"langchain_pg_embedding_" + faultBigTS + ".csv", "line "},
		},
		{
			name: "cut at a record boundary, no manifest, under a confirmation token", token: true,
			mutate: func(p string) error { return os.Truncate(p, boundary) },
			// The folder log's row count (checked first) or the sealed
			// SHA-256 catches it.
			limit: boundary, want: "BACKUP_CORRUPT", subs: []string{"does not match its", "nothing was restored"},
		},
		{
			// Last: the folder log's row count refuses this one. A set
			// without a log could commit what it read, and then exactly the
			// first half, never a torn row: both outcomes are checked.
			name:   "cut at a record boundary, no manifest",
			mutate: func(p string) error { return os.Truncate(p, boundary) },
			limit:  boundary,
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task := fmt.Sprintf("task_change_%d_online_%v", i, r.online)
			setPath, embPath := r.copyBig(t, task, tc.manifest)
			files := r.files(t)
			args := r.bigArgs()
			args["backup_path"] = setPath
			srv := s
			if tc.token {
				srv = startServer(t, protocols[0], serverOptions{db: db, projectRoot: r.p.Root})
				res, out := srv.call(t, "restore_vector_backup", args)
				token := confirmToken(t, res, out)
				if token == "" {
					t.Fatalf("no confirmation asked: %s", text(res))
				}
				args = withToken(args, token)
			}
			logFrom := srv.stderr.Len()
			ch, cancel := srv.callAsync("restore_vector_backup", args)
			defer cancel()
			b := w.await(t, ch, "the embedding COPY", copying(100, embeddingsCopy...))
			thaw := freeze(t, srv)
			pos := readPos(t, srv.cmd.Process.Pid, embPath)
			if pos >= tc.limit {
				t.Fatalf("the server had read %d bytes of the file, past %d, before it could be changed", pos, tc.limit)
			}
			if err := tc.mutate(embPath); err != nil {
				t.Fatal(err)
			}
			thaw()
			r.fault(t, "embedding file %s while the server had read %d of its %d bytes (%v)", tc.name, pos, size, b)
			got := waitCall(t, ch, 60*time.Second)
			mutated := []string{task + "/vector_bak/" + filepath.Base(embPath)}
			if tc.want != "" {
				e := wantError(t, got, tc.want, tc.subs...)
				t.Logf("result: %v", e["message"])
				w.waitGone(t, b.pid)
				r.same(t, db, before)
				r.checkFiles(t, files, nothingLeft, mutated...)
				return
			}
			// No manifest, no token: the file is all there is.
			if got.err != nil {
				t.Fatal(got.err)
			}
			out := structured(t, got.res)
			if got.res.IsError {
				// A server that checked the folder log's row count (30,000)
				// would refuse here; that too leaves the tables unchanged.
				t.Logf("refused: %v", out["message"])
				if out["error_type"] != "BACKUP_CORRUPT" {
					t.Errorf("error_type %v, want BACKUP_CORRUPT", out["error_type"])
				}
				w.waitGone(t, b.pid)
				r.same(t, db, before)
				r.checkFiles(t, files, nothingLeft, mutated...)
				return
			}
			if srv.stderr.WaitFor(logFrom, 10*time.Second, "restore committed") == "" {
				t.Errorf("no commit logged")
			}
			emb := out["restore_results"].(map[string]any)[layout.EmbeddingTable].(map[string]any)
			want := &sample.Dataset{Dim: r.big.Dim, Collections: r.big.Collections, Embeddings: r.big.Embeddings[:half]}
			if tc.asOpened {
				want.Embeddings = r.big.Embeddings
			}
			t.Logf("committed %v rows (the log of the set says %d)", emb["rows_restored"], len(r.big.Embeddings))
			if emb["rows_restored"] != float64(len(want.Embeddings)) {
				t.Errorf("rows_restored %v, want %d", emb["rows_restored"], len(want.Embeddings))
			}
			r.compare(t, db, want)
			// The snapshot of A is the way back.
			ts := r.checkFiles(t, files, completeSet, mutated...)
			r.restoreSnapshot(t, db, ts, before)
		})
	}
}

// copyBig copies set B into task's vector_bak (the embedding file copied, to
// be changed; the rest linked), with a manifest if asked, and returns the
// set's backup_path and the embedding file's path.
func (r *faultRig) copyBig(t *testing.T, task string, manifest bool) (string, string) {
	t.Helper()
	from := filepath.Join(r.p.Backups, faultBigDir)
	dir := filepath.Join(r.p.Backups, task, "vector_bak")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	coll := "langchain_pg_collection_" + faultBigTS + ".csv"
	emb := "langchain_pg_embedding_" + faultBigTS + ".csv"
	for _, name := range []string{coll, layout.LogName} {
		if err := os.Link(filepath.Join(from, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	in, err := os.Open(filepath.Join(from, emb))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outFile, err := os.Create(filepath.Join(dir, emb))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(outFile, in); err != nil {
		t.Fatal(err)
	}
	if err := outFile.Close(); err != nil {
		t.Fatal(err)
	}
	if manifest {
		m := layout.Manifest{
			FormatVersion: layout.FormatVersion, Timestamp: faultBigTS, CreatedAt: time.Now().UTC().Format(time.RFC3339),
			Database: "faults", VectorDimension: faultDim, Tables: layout.Tables(), Files: map[string]layout.FileEntry{},
		}
		for table, name := range map[string]string{layout.CollectionTable: coll, layout.EmbeddingTable: emb} {
			p := filepath.Join(dir, name)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			rows, cols := len(r.big.Collections), sample.Default.CollectionColumns()
			if table == layout.EmbeddingTable {
				rows, cols = len(r.big.Embeddings), sample.Default.EmbeddingColumns()
			}
			m.Files[table] = layout.FileEntry{File: name, Rows: int64(rows), Bytes: fi.Size(), SHA256: sha256File(t, p), Columns: cols}
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, layout.ManifestName(layout.KindBackup, faultBigTS)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return "./data_pipeline/training_data/" + task + "/vector_bak", filepath.Join(dir, emb)
}

// recordEnds returns the offset just after each record of a CSV file (the
// header's first): the CRLF that ends a record lies outside quotes.
func recordEnds(data []byte) []int64 {
	var ends []int64
	quoted := false
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '"':
			quoted = !quoted
		case !quoted && data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			ends = append(ends, int64(i+2))
			i++
		}
	}
	return ends
}

// extraRows is 50 valid embedding rows of collection collID in B's file
// format, new ids, without a header.
func extraRows(t *testing.T, collID string) []byte {
	t.Helper()
	d := sample.Generate(77, []string{"extra"}, 50, faultDim)
	for i := range d.Embeddings {
		d.Embeddings[i].CollectionID = collID
	}
	dir := t.TempDir()
	if err := d.WriteLegacy(dir, faultBigTS, sample.Default); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "langchain_pg_embedding_"+faultBigTS+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, rows, _ := bytes.Cut(b, []byte("\r\n"))
	return rows
}

// testPostgresRestart stops PostgreSQL (fast, then immediate) in the middle
// of the embedding COPY, and in immediate mode during COMMIT, on a private
// cluster: the call fails saying what is known, and after the restart the
// tables are as before. Then the same server restores B in full.
func (r *faultRig) testPostgresRestart(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	db := cluster.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(faultDim))
	s := r.unattended(t, db)
	before := r.seedTables(t, s, db)

	for _, mode := range []string{"fast", "immediate"} {
		t.Run("stop -m "+mode+" mid embedding COPY", func(t *testing.T) {
			w := newWatcher(t, db)
			files := r.files(t)
			ch, cancel := s.callAsync("restore_vector_backup", r.bigArgs())
			defer cancel()
			b := w.await(t, ch, "the embedding COPY", copying(1000, embeddingsCopy...))
			thaw := freeze(t, s)
			cluster.StopMode(mode)
			thaw()
			r.fault(t, "PostgreSQL stopped (-m %s) mid embedding COPY (%v)", mode, b)
			e := wantError(t, waitCall(t, ch, 60*time.Second), "DATABASE_ERROR")
			msg, _ := e["message"].(string)
			t.Logf("result: %s", msg)
			if !saysRolledBack(msg) {
				t.Errorf("the message should say the transaction was rolled back: %s", msg)
			}
			if strings.Contains(msg, "unknown") {
				t.Errorf("a connection lost before COMMIT is a rollback, not an unknown outcome: %s", msg)
			}
			cluster.Start()
			r.same(t, db, before)
			r.checkFiles(t, files, nothingLeft)
		})
	}

	t.Run("stop -m immediate during COMMIT", func(t *testing.T) {
		w := newWatcher(t, db)
		// A deferred trigger runs inside COMMIT, before the commit record:
		// it parks the COMMIT.
		_, drop := pause(t, w, fmt.Sprintf(
			"CREATE CONSTRAINT TRIGGER fault_pause AFTER INSERT ON langchain_pg_collection DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.name = '%s') EXECUTE FUNCTION fault_pause()",
			r.big.Collections[0].Name))
		files := r.files(t)
		ch, cancel := s.callAsync("restore_vector_backup", r.bigArgs())
		defer cancel()
		b := w.await(t, ch, "the COMMIT", func(b backend) bool {
			return b.waitType == "Lock" && strings.EqualFold(strings.TrimSpace(b.query), "commit")
		})
		cluster.StopMode("immediate")
		r.fault(t, "PostgreSQL stopped (-m immediate) during COMMIT (%v)", b)
		e := wantError(t, waitCall(t, ch, 60*time.Second), "DATABASE_ERROR", "unknown")
		t.Logf("result: %v", e["message"])
		cluster.Start()
		// The commit record was never written: the tables are as before.
		r.same(t, db, before)
		drop()
		// With the outcome unknown the snapshot is kept: it must be whole.
		if ts := r.checkFiles(t, files, completeSet); ts != "" {
			r.restoreSnapshot(t, db, ts, before)
		}
	})

	// The server kept serving through all of it.
	s.restore(t, map[string]any{"backup_path": faultBigPath, "timestamp": faultBigTS, "truncate_before_restore": true, "snapshot": false})
	r.compare(t, db, r.big)
}

// setSize is the size of set ts's files in dir, for the log.
func setSize(t *testing.T, dir, ts string) string {
	t.Helper()
	var n int64
	for _, table := range layout.Tables() {
		fi, err := os.Stat(filepath.Join(dir, table+"_"+ts+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return layout.HumanSize(n)
}
