package service_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// TestUndo runs the undo of every kind of restore exactly as the result
// returns it: it puts back the database the restore changed, and no other.
// The server's default database and a second one named by db_connection
// start with different rows; each restore goes into one of them, and after
// its undo both hold what they held before.
func TestUndo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	other := e.otherDatabase(t)

	// The default database holds set 0, the other one set 1.
	if _, err := e.restore(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(1), TruncateBeforeRestore: true, DBConnection: other}, service.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}

	kinds := []struct {
		name string
		args schemas.RestoreArgs
	}{
		{"default database", schemas.RestoreArgs{TruncateBeforeRestore: true}},
		{"db_connection", schemas.RestoreArgs{TruncateBeforeRestore: true, DBConnection: other}},
		{"collections", schemas.RestoreArgs{Collections: []string{"sql", "ddl"}}},
		{"collections, db_connection", schemas.RestoreArgs{Collections: []string{"sql"}, DBConnection: other}},
		{"online", schemas.RestoreArgs{TruncateBeforeRestore: true, Online: true}},
		{"online, db_connection", schemas.RestoreArgs{TruncateBeforeRestore: true, Online: true, DBConnection: other}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			beforeDefault, beforeOther := pgtest.Dump(t, e.db), pgtest.Dump(t, other)
			args := k.args
			args.BackupPath, args.Timestamp = legacyRel, setTS(2)
			res, err := e.svc.Restore(ctx, args, service.RestoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			changed, before := e.db, beforeDefault
			if args.DBConnection != "" {
				changed, before = other, beforeOther
			}
			if pgtest.Dump(t, changed) == before {
				t.Fatal("the restore changed nothing")
			}
			if res.Snapshot == nil {
				t.Fatal("no snapshot")
			}
			undo := res.Snapshot.Undo
			if strings.Contains(undo.DBConnection, "password") {
				t.Errorf("the undo carries a password: %q", undo.DBConnection)
			}
			if _, err := e.svc.Restore(ctx, undo, service.RestoreOptions{}); err != nil {
				t.Fatalf("undo %+v: %v", undo, err)
			}
			if got := pgtest.Dump(t, e.db); got != beforeDefault {
				t.Error("after the undo the default database differs from before")
			}
			if got := pgtest.Dump(t, other); got != beforeOther {
				t.Errorf("after the undo the other database differs from before")
			}
		})
	}

	// A snapshot of the other database, restored into the default one, is
	// refused unless the caller says so, and changes nothing.
	res, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(2), TruncateBeforeRestore: true, DBConnection: other}, service.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wrong := res.Snapshot.Undo
	wrong.DBConnection = ""
	before := pgtest.Dump(t, e.db)
	_, err = e.svc.Restore(ctx, wrong, service.RestoreOptions{})
	if e, ok := apierr.As(err); !ok || e.Type != apierr.Forbidden || e.Details["reason"] != "other_database" {
		t.Fatalf("snapshot into another database: %v, want FORBIDDEN other_database", err)
	}
	if pgtest.Dump(t, e.db) != before {
		t.Error("the refused restore changed the default database")
	}
	insp, err := e.svc.Inspect(ctx, schemas.InspectArgs{BackupPath: wrong.BackupPath, Timestamp: wrong.Timestamp, TruncateBeforeRestore: true})
	if err != nil || insp.Restorable {
		t.Errorf("inspect of the snapshot against the default database: restorable %v, err %v; want not restorable", insp != nil && insp.Restorable, err)
	}
	wrong.AllowOtherDatabase = true
	if _, err := e.svc.Restore(ctx, wrong, service.RestoreOptions{}); err != nil {
		t.Fatalf("allow_other_database: %v", err)
	}
	// The snapshot held the other database's rows before set 2: set 1.
	pgtest.Compare(t, e.db, e.sets[1], sample.Default)
}

// otherDatabase makes a second database with LangChain's tables, empty,
// and lets calls name it in db_connection; it returns its URL.
func (e *env) otherDatabase(t *testing.T) string {
	t.Helper()
	other := pgtest.NewDatabase(t)
	pgtest.Exec(t, other, sample.Default.DDL(dim))
	u, err := url.Parse(other)
	if err != nil {
		t.Fatal(err)
	}
	pattern, err := dbaccess.ParsePattern("127.0.0.1/" + strings.TrimPrefix(u.Path, "/"))
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Policy = dbaccess.NewPolicy(e.db, []dbaccess.Pattern{pattern})
	return other
}
