package pgtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCluster starts a private cluster, uses pgvector in it, and stops and
// restarts it in fast and immediate mode: committed rows survive both, a
// transaction open at the stop is gone, and the port stays the same.
func TestCluster(t *testing.T) {
	c := StartCluster(t)
	db := c.NewDatabase(t)
	if !strings.HasPrefix(db, "postgres://postgres@127.0.0.1:") {
		t.Errorf("URL %s", db)
	}
	Exec(t, db, "CREATE TABLE v (id int PRIMARY KEY, e vector(3)); INSERT INTO v VALUES (1, '[1,2,3]')")
	count := func() int {
		t.Helper()
		conn := Connect(t, db)
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM v WHERE e <-> '[1,2,3]' = 0").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	port := c.Port()

	for i, mode := range []string{"fast", "immediate"} {
		// A transaction left open when the server stops is rolled back.
		open := Connect(t, db)
		ctx := context.Background()
		if _, err := open.Exec(ctx, "BEGIN; INSERT INTO v VALUES (100, '[0,0,0]')"); err != nil {
			t.Fatal(err)
		}
		Exec(t, db, "INSERT INTO v VALUES ($1, '[1,2,3]')", i+2) // committed

		c.StopMode(mode)
		if c.Running() {
			t.Errorf("%s: Running after the stop", mode)
		}
		ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
		if conn, err := pgx.Connect(ctx2, db); err == nil {
			conn.Close(ctx2)
			t.Errorf("%s: connected to a stopped cluster", mode)
		}
		cancel()
		if _, err := open.Exec(ctx, "COMMIT"); err == nil {
			t.Errorf("%s: COMMIT on a connection the stop ended succeeded", mode)
		}

		c.Start()
		if c.Port() != port || !c.Running() {
			t.Errorf("%s: after the restart port %d (was %d), running %v", mode, c.Port(), port, c.Running())
		}
		if n := count(); n != i+2 {
			t.Errorf("%s: %d committed rows after the restart, want %d", mode, n, i+2)
		}
		var open100 int
		if err := Connect(t, db).QueryRow(ctx, "SELECT count(*) FROM v WHERE id = 100").Scan(&open100); err != nil {
			t.Fatal(err)
		}
		if open100 != 0 {
			t.Errorf("%s: the open transaction's row survived the stop", mode)
		}
	}
}
