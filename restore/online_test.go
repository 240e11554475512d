package restore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// countRows counts the embeddings q sees, failing after timeout (a reader
// that would block).
func countRows(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var n int64
	err := q.QueryRow(ctx, "SELECT count(*) FROM langchain_pg_embedding").Scan(&n)
	return n, err
}

// TestOnlineReadersSeeOldThenNew restores over live rows online, with
// readers running all along: every count a reader gets is the old count or
// the new one, a reader asked in the middle of the COPY answers at once with
// the old rows, and a REPEATABLE READ reader that began before still sees
// the old rows after the commit (TRUNCATE would show it an empty table).
// The same mid-COPY read blocks under a TRUNCATE restore.
func TestOnlineReadersSeeOldThenNew(t *testing.T) {
	for _, l := range []sample.Layout{sample.Layouts[0], sample.Layouts[4]} {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			e := newFeatEnv(t, l, 16)
			old := sample.Generate(41, names, 150, 16)
			e.load(t, old)
			next := sample.Generate(42, names[:3], 220, 16)
			set := e.legacy(t, next, "task_next")
			before, after := int64(len(old.Embeddings)), int64(len(next.Embeddings))
			ctx := context.Background()

			snapshotReader := pgtest.Connect(t, e.db)
			rr, err := snapshotReader.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Rollback(ctx)
			if n, err := countRows(ctx, rr, 5*time.Second); err != nil || n != before {
				t.Fatalf("repeatable read reader: %d, %v", n, err)
			}

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var reads atomic.Int64
			var bad sync.Map
			for range 3 {
				conn := pgtest.Connect(t, e.db)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						n, err := countRows(ctx, conn, 10*time.Second)
						if err != nil {
							bad.Store(err.Error(), true)
							return
						}
						if n != before && n != after {
							bad.Store(fmt.Sprintf("a reader saw %d rows, neither %d nor %d", n, before, after), true)
						}
						reads.Add(1)
					}
				}()
			}
			midReader := pgtest.Connect(t, e.db)
			var midCount int64 = -1
			var midErr error
			res := e.mustRun(t, restore.Request{Set: set, Truncate: true, Online: true, SnapshotDir: e.global, BackupRoot: e.cat.Store,
				Progress: func(table string, done, total, rows int64) {
					if table == layout.EmbeddingTable && rows > 0 && midCount < 0 {
						midCount, midErr = countRows(ctx, midReader, 2*time.Second)
					}
				}})
			close(stop)
			wg.Wait()
			bad.Range(func(k, _ any) bool { t.Error(k); return true })
			if midErr != nil || midCount != before {
				t.Errorf("a reader during the online COPY: %d rows, %v; want the old %d at once", midCount, midErr, before)
			}
			if reads.Load() == 0 {
				t.Error("no reader read")
			}
			if n, err := countRows(ctx, rr, 5*time.Second); err != nil || n != before {
				t.Errorf("repeatable read reader after the commit: %d rows, %v; want its snapshot's %d", n, err, before)
			}
			pgtest.Compare(t, e.db, next, l)
			if !res.TruncatePerformed || !res.Online || res.Snapshot == nil || res.TruncateResults[layout.EmbeddingTable].RowsBefore != before {
				t.Errorf("result %+v", res)
			}

			// The contrast: TRUNCATE's lock keeps the same reader out
			// (once the snapshot reader let go: it would block TRUNCATE).
			rr.Rollback(ctx)
			var blocked error
			e.mustRun(t, restore.Request{Set: e.legacy(t, old, "task_old"), Truncate: true,
				Progress: func(table string, done, total, rows int64) {
					if table == layout.EmbeddingTable && rows > 0 && blocked == nil {
						_, blocked = countRows(ctx, midReader, 300*time.Millisecond)
						if blocked == nil {
							blocked = errors.New("not blocked")
						}
					}
				}})
			if !errors.Is(blocked, context.DeadlineExceeded) && !strings.Contains(fmt.Sprint(blocked), "timeout") {
				t.Errorf("a reader during a TRUNCATE restore: %v; want it blocked", blocked)
			}
		})
	}
}

// TestOnlineUndoAndFailure: an online restore's snapshot undoes it, a dry
// run changes nothing, and a bad row leaves the tables as they were.
func TestOnlineUndoAndFailure(t *testing.T) {
	e := newFeatEnv(t, sample.Default, 8)
	old := sample.Generate(43, names, 12, 8)
	e.load(t, old)
	want := e.dump(t)
	set := e.legacy(t, sample.Generate(44, names, 9, 8), "task_b")

	e.mustRun(t, restore.Request{Set: set, Truncate: true, Online: true, DryRun: true})
	if e.dump(t) != want {
		t.Fatal("an online dry run changed the tables")
	}
	replaceInLastRows(t, set.Path(layout.EmbeddingTable), "[", "[oops,")
	_, err := e.run(t, restore.Request{Set: set, Truncate: true, Online: true})
	featWantErr(t, err, apierr.BackupCorrupt)
	if e.dump(t) != want {
		t.Fatal("a failed online restore changed the tables")
	}

	good := e.legacy(t, sample.Generate(45, names, 9, 8), "task_c")
	res := e.mustRun(t, restore.Request{Set: good, Truncate: true, Online: true, SnapshotDir: e.global, BackupRoot: e.cat.Store})
	if res.Analyze <= 0 {
		t.Errorf("no ANALYZE after the online restore: %+v", res)
	}
	u := res.Snapshot.Undo
	e.mustRun(t, restore.Request{Set: e.find(t, e.global, res.Snapshot.Timestamp), Truncate: u.Truncate, Tables: u.Tables, Online: true})
	if e.dump(t) != want {
		t.Error("undoing the online restore did not bring the tables back")
	}
}

// TestLockWaitBounded: a session holding a lock the restore needs makes it
// fail after LockWait with CONFLICT naming that session, tables unchanged.
// An idle REPEATABLE READ reader blocks a TRUNCATE restore but not an
// online one; an open writer blocks both.
func TestLockWaitBounded(t *testing.T) {
	e := newFeatEnv(t, sample.Default, 8)
	e.load(t, sample.Generate(46, names, 10, 8))
	want := e.dump(t)
	set := e.legacy(t, sample.Generate(47, names, 7, 8), "task_b")
	ctx := context.Background()

	hold := func(t *testing.T, app, sql string) (pid int, release func()) {
		conn := pgtest.Connect(t, e.db)
		if _, err := conn.Exec(ctx, "SET application_name = '"+app+"'"); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			// The connection is in the transaction: ask through it.
			t.Fatal(err)
		}
		return pid, func() { tx.Rollback(ctx) }
	}
	wantHeld := func(t *testing.T, err error, pid int, app string, start time.Time) {
		t.Helper()
		ae := featWantErr(t, err, apierr.Conflict)
		if ae.Details["reason"] != "lock_timeout" || !strings.Contains(ae.Message, fmt.Sprintf("pid %d (%s, idle in transaction since ", pid, app)) {
			t.Errorf("error %q, details %v", ae.Message, ae.Details)
		}
		holders, _ := ae.Details["holders"].([]restore.Holder)
		if !slices.ContainsFunc(holders, func(h restore.Holder) bool { return h.PID == pid && h.Application == app }) {
			t.Errorf("holders %+v do not name pid %d", holders, pid)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("the restore waited %s", took)
		}
		if e.dump(t) != want {
			t.Error("the refused restore changed the tables")
		}
	}

	t.Run("reader blocks truncate", func(t *testing.T) {
		pid, release := hold(t, "app-reader", "SELECT count(*) FROM langchain_pg_embedding")
		defer release()
		var waits []string
		start := time.Now()
		_, err := e.run(t, restore.Request{Set: set, Truncate: true, LockWait: time.Second,
			Waiting: func(what string) { waits = append(waits, what) }})
		wantHeld(t, err, pid, "app-reader", start)
		if len(waits) == 0 || !strings.Contains(waits[0], fmt.Sprintf("pid %d", pid)) {
			t.Errorf("progress while waiting: %q", waits)
		}
	})
	t.Run("reader does not block online", func(t *testing.T) {
		_, release := hold(t, "app-reader", "SELECT count(*) FROM langchain_pg_embedding")
		defer release()
		e.mustRun(t, restore.Request{Set: set, Truncate: true, Online: true, LockWait: time.Second, DryRun: true})
	})
	t.Run("writer blocks online", func(t *testing.T) {
		pid, release := hold(t, "app-writer", "UPDATE langchain_pg_embedding SET document = document WHERE false")
		defer release()
		start := time.Now()
		_, err := e.run(t, restore.Request{Set: set, Truncate: true, Online: true, LockWait: time.Second})
		wantHeld(t, err, pid, "app-writer", start)
	})
}
