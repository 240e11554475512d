package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// pausedRestore starts restoring set B over A (truncating, with a
// snapshot) and parks it in the middle of its COPY: a test trigger waits
// on an advisory lock the test holds when row pauseAt of B's embeddings
// arrives, after the tables were emptied and earlier rows written. It
// returns the answer's channel, the session to release the lock from, and
// the cancel of the request's context.
type pausedRestore struct {
	answer  chan answer
	holder  *pgx.Conn
	cancel  context.CancelFunc
	release func()
}

func (r *rig) pauseRestore(t *testing.T) *pausedRestore {
	t.Helper()
	pauseAt := r.b.Embeddings[len(r.b.Embeddings)/2].ID
	pgtest.Exec(t, r.db, fmt.Sprintf(`
		CREATE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM pg_advisory_xact_lock(4242, 1); RETURN NEW; END $$;
		CREATE TRIGGER test_pause BEFORE INSERT ON langchain_pg_embedding
			FOR EACH ROW WHEN (NEW.id = '%s') EXECUTE FUNCTION test_pause();`, pauseAt))
	t.Cleanup(func() { pgtest.Exec(t, r.db, "DROP TRIGGER IF EXISTS test_pause ON langchain_pg_embedding") })
	p := &pausedRestore{answer: make(chan answer, 1), holder: pgtest.Connect(t, r.db)}
	if _, err := p.holder.Exec(context.Background(), "SELECT pg_advisory_lock(4242, 1)"); err != nil {
		t.Fatal(err)
	}
	released := false
	p.release = func() {
		if !released {
			released = true
			if _, err := p.holder.Exec(context.Background(), "SELECT pg_advisory_unlock(4242, 1)"); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(p.release)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		p.answer <- r.callQuiet(ctx, restore, restoreBody(globalPath, globalTS, `"truncate_before_restore": true`))
	}()
	r.waitSession(t, p.answer, "the restore paused in its COPY", `wait_event_type = 'Lock' AND query LIKE 'COPY%langchain_pg_embedding%'`)
	return p
}

// callQuiet sends a request (a POST of JSON when body is set, else a GET)
// and returns the answer, or an answer with status 0 and the error as raw
// when there is none (the client gave up, the server went away). It runs on
// goroutines of its own, so it reports rather than fails.
func (r *rig) callQuiet(ctx context.Context, path, body string) answer {
	req, _ := http.NewRequestWithContext(ctx, "GET", r.url+path, nil)
	if body != "" {
		req, _ = http.NewRequestWithContext(ctx, "POST", r.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{raw: err.Error()}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{raw: err.Error()}
	}
	a, err := parse(res, b)
	if err != nil {
		a.raw = err.Error()
	}
	return a
}

// waitSession waits until a session of the rig's database (other than the
// test's) matches the pg_stat_activity condition, failing if the call
// answers first.
func (r *rig) waitSession(t *testing.T, answered <-chan answer, what, where string) {
	t.Helper()
	conn := pgtest.Connect(t, r.db)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND `+where).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case a := <-answered:
			t.Fatalf("the call answered before %s: %d %s", what, a.status, a.raw)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session reached %s within 30 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitIdle waits until no session of the database but the test's is in a
// transaction: a cancelled restore has then been rolled back.
func (r *rig) waitIdle(t *testing.T) {
	t.Helper()
	conn := pgtest.Connect(t, r.db)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
			AND query NOT LIKE 'SELECT pg_advisory_lock(4242, 1)%'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still in a transaction after 30 s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) seedA(t *testing.T) string {
	t.Helper()
	r.call(t, "POST", restore, restoreBody(taskPath, taskTS, `"truncate_before_restore": true`)).ok(t, "Vector表恢复完成")
	return pgtest.Dump(t, r.db)
}

func waitAnswer(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(60 * time.Second):
		t.Fatal("no answer within 60 s")
	}
	return answer{}
}

// TestShutdownCancelsRunningCalls stops the server (as SIGTERM does) while a
// restore is halfway through its COPY, with a grace period it cannot meet:
// the restore is cancelled and answers 503 CANCELLED saying it rolled back,
// Serve returns, and the tables and files are exactly as before.
func TestShutdownCancelsRunningCalls(t *testing.T) {
	r := newRig(t, rigOptions{grace: 300 * time.Millisecond})
	before := r.seedA(t)
	p := r.pauseRestore(t)
	start := time.Now()
	if err := r.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("the shutdown cancelled after %v, before the grace period ended", waited)
	}
	a := waitAnswer(t, p.answer)
	a.refused(t, 503, "服务暂不可用", "CANCELLED", "rolled back")
	if a.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	r.waitIdle(t)
	p.release()
	if got := pgtest.Dump(t, r.db); got != before {
		t.Fatal("the cancelled restore changed the tables")
	}
	if snaps := r.snapshots(t); len(snaps) != 0 {
		t.Errorf("the cancelled restore left its snapshot: %v", snaps)
	}
	if !strings.Contains(r.logs.String(), "grace period over") {
		t.Errorf("the log does not say the calls were cancelled")
	}
}

// TestShutdownLetsCallsFinish stops the server while a restore is paused,
// with time to spare: no new connections are accepted, the restore finishes
// once it may, answers 200, and only then does Serve return.
func TestShutdownLetsCallsFinish(t *testing.T) {
	r := newRig(t, rigOptions{grace: time.Minute})
	r.seedA(t)
	p := r.pauseRestore(t)
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := http.Get(r.url + "/health"); err != nil {
			break // the listener is closed
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections 10 s into its shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) while a restore was running", err)
	case <-time.After(200 * time.Millisecond):
	}
	p.release()
	a := waitAnswer(t, p.answer)
	a.ok(t, "Vector表恢复完成")
	if err := <-stopped; err != nil {
		t.Fatalf("serve: %v", err)
	}
	pgtest.Compare(t, r.db, r.b, sample.Default)
}

// TestClientDisconnectCancels has the client give up while its restore is
// halfway: the server cancels it, PostgreSQL rolls it back, the log says
// so, and the next restore runs (no lock is left behind).
func TestClientDisconnectCancels(t *testing.T) {
	r := newRig(t, rigOptions{})
	before := r.seedA(t)
	p := r.pauseRestore(t)
	p.cancel()
	if a := waitAnswer(t, p.answer); a.status != 0 {
		t.Fatalf("the client that gave up got an answer: %d %s", a.status, a.raw)
	}
	r.waitIdle(t)
	p.release()
	if got := pgtest.Dump(t, r.db); got != before {
		t.Fatal("the abandoned restore changed the tables")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.logs.String(), "the client disconnected") {
		if time.Now().After(deadline) {
			t.Fatal("the log does not say the client went away")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pgtest.Exec(t, r.db, "DROP TRIGGER test_pause ON langchain_pg_embedding")
	r.call(t, "POST", restore, restoreBody(globalPath, globalTS, `"truncate_before_restore": true`)).ok(t, "Vector表恢复完成")
	pgtest.Compare(t, r.db, r.b, sample.Default)
}

// goroutines waits for the goroutine count to fall to at most n and
// returns the count, with every stack when it does not.
func goroutines(n int) (int, string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= n || time.Now().After(deadline) {
			if got <= n {
				return got, ""
			}
			buf := make([]byte, 1<<20)
			return got, string(buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
