package service_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// TestTokenSpentOnce: a confirmation token is spent exactly once, decided
// with the restore itself before it commits. Two calls racing with one
// token: one commits, the other is refused and changes nothing (their
// restore leaves the rows as they were, so the state check passes twice).
// A record that cannot be written stops the commit. A server restarted with
// the same key and record refuses the spent token; damage to the record
// only ever refuses tokens.
func TestTokenSpentOnce(t *testing.T) {
	t.Parallel()
	e, ctx := seeded(t, 2, 2*time.Minute)
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	record := filepath.Join(e.svc.Catalog.BackupRoot, layout.StateDir, "spent_tokens")
	sealer := func() *confirm.Sealer {
		s, err := confirm.NewSealer(key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		s.PersistSpent(e.svc.Catalog.Store)
		return s
	}
	e.svc.Confirm = sealer()
	// Restoring set 0 over itself: the rows stay as they were, so a
	// replayed token's state check would pass.
	args := schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(0), TruncateBeforeRestore: true, Snapshot: new(bool)}
	token := func() string {
		t.Helper()
		_, err := e.svc.Restore(ctx, args, service.RestoreOptions{})
		var ar *service.ApprovalRequired
		if !errors.As(err, &ar) {
			t.Fatalf("want CONFIRMATION_REQUIRED, got %v", err)
		}
		return ar.Token
	}
	withToken := func(tok string) schemas.RestoreArgs {
		a := args
		a.ConfirmToken = tok
		return a
	}

	t.Run("racing calls", func(t *testing.T) {
		tok := token()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.svc.Restore(ctx, withToken(tok), service.RestoreOptions{})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if e, _ := apierr.As(err); e == nil || e.Details["reason"] != "used" {
				t.Errorf("the second call: %v, want the token refused as used", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d calls committed with one token, want 1 (%v)", ok, errs)
		}
	})

	t.Run("after a restart", func(t *testing.T) {
		tok := token()
		if _, err := e.svc.Restore(ctx, withToken(tok), service.RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		e.svc.Confirm = sealer() // a new process: same key, same record
		_, err := e.svc.Restore(ctx, withToken(tok), service.RestoreOptions{})
		if e, _ := apierr.As(err); e == nil || e.Details["reason"] != "used" {
			t.Fatalf("replayed after a restart: %v, want refused as used", err)
		}
		// Garbage in the record (a huge line, no newline, other names)
		// does not re-open it.
		if err := os.WriteFile(filepath.Join(record, "garbage"), make([]byte, 200<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		e.svc.Confirm = sealer()
		if _, err := e.svc.Restore(ctx, withToken(tok), service.RestoreOptions{}); err == nil {
			t.Fatal("replayed after garbage was added to the record")
		}
	})

	t.Run("record cannot be written", func(t *testing.T) {
		tok := token()
		// The record's folder replaced by a file, then by a link out of
		// the root: the spend fails, and the restore must not commit.
		outside := t.TempDir()
		for _, swap := range []func() error{
			func() error { return os.WriteFile(record, []byte("x"), 0o600) },
			func() error { return os.Symlink(outside, record) },
		} {
			if err := os.RemoveAll(record); err != nil {
				t.Fatal(err)
			}
			if err := swap(); err != nil {
				t.Fatal(err)
			}
			before := pgtest.Dump(t, e.db)
			_, err := e.svc.Restore(ctx, withToken(tok), service.RestoreOptions{})
			if e, _ := apierr.As(err); e == nil || e.Details["reason"] != "spend_record" {
				t.Fatalf("restore with a record that cannot be written: %v, want it refused (spend_record)", err)
			}
			if pgtest.Dump(t, e.db) != before {
				t.Error("the tables changed")
			}
			if entries, _ := os.ReadDir(outside); len(entries) > 0 {
				t.Errorf("the spend wrote outside the root: %v", entries)
			}
		}
	})
}
