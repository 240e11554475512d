package restore_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestIndexMemoryCappedByServer: an --index-memory beyond what the
// database server's machine has available is lowered to half of it (the
// test server runs on this machine and its role may read /proc), and the
// default is the default.
func TestIndexMemoryCappedByServer(t *testing.T) {
	e, data := newIndexedEnv(t)
	if queryInt(t, e.db, "SELECT count(*) FROM pg_roles WHERE rolname = current_user AND rolsuper") != 1 {
		t.Fatal("the test server's role is not a superuser, so the server cannot say its memory: this test needs one")
	}
	set := e.legacy(t, data, "task_idx")
	res := e.mustRun(t, restore.Request{Set: set, Truncate: true, IndexMemory: "1000GB"})
	got := kilobytes(t, res.IndexMemory) << 10
	avail := memAvailable(t)
	if got >= 1000<<30 || float64(got) > float64(avail)/2*1.2 {
		t.Errorf("built with maintenance_work_mem %s (%d bytes); this machine has %d bytes available: want at most about half", res.IndexMemory, got, avail)
	}
	res = e.mustRun(t, restore.Request{Set: set, Truncate: true})
	if res.IndexMemory != "1048576kB" {
		t.Errorf("the default built with %s, want 1GB (1048576kB)", res.IndexMemory)
	}
}

// TestIndexBuildOutOfMemory: a server that runs out of memory building a
// vector index again after the load (a parallel HNSW build takes all of
// maintenance_work_mem as shared memory at once; this server's processes
// may map only 1 GiB) rolls the restore back: the rows and every index
// are as they were, and the error says to lower --index-memory.
func TestIndexBuildOutOfMemory(t *testing.T) {
	c := pgtest.StartCluster(t, pgtest.AddressSpace(1<<30))
	db := c.NewDatabase(t)
	p := pgtest.NewProject(t, pgtest.ProjectOptions{DB: db, BackupRoot: "."})
	pgtest.Exec(t, db, p.Layout.DDL(indexDim))
	e := &featEnv{p: p, db: db, layout: p.Layout, root: p.Root, cat: p.Catalog(t), global: layout.GlobalDir}
	names := []string{"sql", "ddl", "documentation"}
	e.load(t, sample.Generate(1, names, 40, indexDim))
	// A parallel build, whatever the table's size.
	pgtest.Exec(t, db, vectorIndexDDL+"ALTER TABLE langchain_pg_embedding SET (parallel_workers = 2);")
	set := e.legacy(t, sample.Generate(2, names, 60, indexDim), "task_oom")
	beforeDefs, beforeRows := indexDefs(t, db), e.dump(t)

	_, err := e.run(t, restore.Request{Set: set, Truncate: true, IndexMemory: "4GB"})
	if err == nil {
		t.Fatal("the restore succeeded on a server that cannot map 4GB")
	}
	fields := apierr.From(err).Fields()
	if fields["reason"] != "out_of_memory" || fields["sqlstate"] != "53200" || !strings.Contains(err.Error(), "--index-memory") {
		t.Errorf("error %v (%v); want reason out_of_memory, SQLSTATE 53200, and advice to lower --index-memory", err, fields)
	}
	if got := indexDefs(t, db); !mapsEqual(got, beforeDefs) {
		t.Errorf("indexes after a build out of memory:\n got %v\nwant %v", got, beforeDefs)
	}
	if e.dump(t) != beforeRows {
		t.Error("a build out of memory changed the rows")
	}
	// The server itself survived: the same restore with less memory works.
	if _, err := e.run(t, restore.Request{Set: set, Truncate: true, IndexMemory: "64MB"}); err != nil {
		t.Errorf("the restore with --index-memory 64MB: %v", err)
	}
}

// TestIndexBuildKilled: the server process of a restore killed while it
// builds an index again (an operator's pg_terminate_backend, a crash) leaves
// the rows and every index as they were.
func TestIndexBuildKilled(t *testing.T) {
	e, data := newIndexedEnv(t)
	// An index whose build takes seconds, so that it can be caught
	// building: its expression sleeps for every row.
	pgtest.Exec(t, e.db, `
		CREATE FUNCTION slow_vec(v vector) RETURNS vector(16) IMMUTABLE LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.01); RETURN v; END $$;
		CREATE INDEX emb_slow ON langchain_pg_embedding USING hnsw ((slow_vec(embedding)::vector(16)) vector_l2_ops);`)
	set := e.legacy(t, data, "task_idx")
	beforeDefs, beforeRows := indexDefs(t, e.db), e.dump(t)

	ctx := context.Background()
	conn := pgtest.Connect(t, e.db)
	pid := conn.PgConn().PID()
	killed := make(chan error, 1)
	req := restore.Request{Set: set, Truncate: true, IndexProgress: func(index, phase string, done, total int64) {
		if index == "emb_slow" && phase == "starting" {
			go func() { killed <- terminateWhenBuilding(e.db, pid) }()
		}
	}}
	_, err := restore.Run(ctx, conn, req)
	if kerr := <-killed; kerr != nil {
		t.Fatalf("could not kill the build: %v (restore: %v)", kerr, err)
	}
	if err == nil {
		t.Fatal("the restore succeeded although its server process was killed")
	}
	if apierr.TypeOf(err) != apierr.DatabaseError {
		t.Errorf("error %v, want DATABASE_ERROR", err)
	}
	if got := indexDefs(t, e.db); !mapsEqual(got, beforeDefs) {
		t.Errorf("indexes after a killed build:\n got %v\nwant %v", got, beforeDefs)
	}
	if e.dump(t) != beforeRows {
		t.Error("a killed build changed the rows")
	}
}

// terminateWhenBuilding waits until server process pid builds an index,
// then terminates it.
func terminateWhenBuilding(db string, pid uint32) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		var building bool
		err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index WHERE pid = $1 AND tuples_done > 0)", int64(pid)).Scan(&building)
		if err != nil {
			return err
		}
		if building {
			_, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(pid))
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kilobytes reads a setting such as "1048576kB".
func kilobytes(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSuffix(s, "kB"), 10, 64)
	if err != nil || !strings.HasSuffix(s, "kB") {
		t.Fatalf("IndexMemory %q is not a number of kB", s)
	}
	return n
}

// memAvailable is MemAvailable of this machine, in bytes.
func memAvailable(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n << 10
		}
	}
	t.Fatal("no MemAvailable in /proc/meminfo")
	return 0
}
