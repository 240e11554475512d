package service_test

import (
	"context"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/audit"
	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/metrics"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// audited is newEnv with the audit trail and metrics on.
func audited(t *testing.T, n int) (*env, *audit.Trail) {
	t.Helper()
	e := newEnv(t, n)
	trail := audit.New(e.svc.Catalog.Store)
	e.svc.Audit, e.svc.Metrics = trail, metrics.New("test")
	return e, trail
}

// newest is the trail's newest record; it fails the test when there is
// none or a file is no record.
func newest(t *testing.T, trail *audit.Trail, want int) []audit.Record {
	t.Helper()
	recs, problems, err := trail.Newest(context.Background(), 0)
	if err != nil || len(problems) > 0 {
		t.Fatalf("read the trail: %v %v", err, problems)
	}
	if len(recs) != want {
		t.Fatalf("%d records, want %d: %+v", len(recs), want, recs)
	}
	return recs
}

// TestAuditRecords: a committed restore, a dry run, a failed restore and a
// backup each leave one record with the fields as documented; a call
// refused before it started leaves none.
func TestAuditRecords(t *testing.T) {
	t.Parallel()
	e, trail := audited(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = caller.With(ctx, caller.OAuth("alice", "claude", []caller.Scope{caller.Write}))
	ctx = caller.WithFront(ctx, caller.Front{Name: caller.FrontMCP, Operation: schemas.RestoreTool})

	// Committed.
	res, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: "latest", TruncateBeforeRestore: true}, service.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newest(t, trail, 1)[0]
	if r.Who.Subject != "alice" || r.Who.Client != "claude" || r.Front != "mcp" || r.Operation != schemas.RestoreTool {
		t.Errorf("who and front: %+v %s %s", r.Who, r.Front, r.Operation)
	}
	if r.Set == nil || r.Set.Path != legacyRel || r.Set.Timestamp != setTS(1) {
		t.Errorf("set %+v, want %s %s (latest resolved)", r.Set, legacyRel, setTS(1))
	}
	u, _ := url.Parse(e.db)
	pw, _ := u.User.Password()
	if r.Target != res.Target || r.Target == "" || (pw != "" && strings.Contains(r.Target, pw)) {
		t.Errorf("target %q, want %q without a password", r.Target, res.Target)
	}
	if r.Outcome != audit.OutcomeCommitted || r.Error != "" || !r.Options.TruncateBeforeRestore || r.Options.DryRun {
		t.Errorf("outcome and options: %+v", r)
	}
	for table, tr := range res.RestoreResults {
		if r.Rows[table] != tr.RowsRestored || tr.RowsRestored == 0 {
			t.Errorf("rows of %s: %d, want %d", table, r.Rows[table], tr.RowsRestored)
		}
	}
	if (r.Snapshot == nil) != (res.Snapshot == nil) || r.Snapshot != nil && r.Snapshot.Timestamp != res.Snapshot.Timestamp {
		t.Errorf("snapshot %+v, want %+v", r.Snapshot, res.Snapshot)
	}
	if time.Since(r.Time) > time.Minute || r.DurationSeconds <= 0 || len(r.ID) != 16 {
		t.Errorf("time %s, duration %v, id %q", r.Time, r.DurationSeconds, r.ID)
	}

	// A dry run.
	if _, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(0), TruncateBeforeRestore: true, DryRun: true}, service.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := newest(t, trail, 2)[0]; r.Outcome != audit.OutcomeDryRun || !r.Options.DryRun || r.Rows[layout.EmbeddingTable] == 0 {
		t.Errorf("dry run: %+v", r)
	}

	// Failed and rolled back: appending rows whose keys exist.
	_, err = e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(1)}, service.RestoreOptions{})
	if apierr.TypeOf(err) != apierr.Conflict {
		t.Fatalf("append of existing keys: %v, want CONFLICT", err)
	}
	if r := newest(t, trail, 3)[0]; r.Outcome != string(apierr.Conflict) || r.Error != apierr.MessageOf(err) || r.Rows != nil {
		t.Errorf("failed restore: %+v", r)
	}

	// Refused before it started: no record.
	_, err = e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(1), TruncateBeforeRestore: true, Collections: []string{"sql"}}, service.RestoreOptions{})
	if apierr.TypeOf(err) != apierr.InvalidParams {
		t.Fatalf("collections with truncate: %v", err)
	}
	if _, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: "20990101_000000"}, service.RestoreOptions{}); apierr.TypeOf(err) != apierr.ResourceNotFound {
		t.Fatalf("a missing set: %v", err)
	}
	newest(t, trail, 3)

	// A backup, from the command line (the local operator).
	cli := caller.WithFront(context.Background(), caller.Front{Name: caller.FrontCLI, Operation: schemas.CreateTool})
	created, err := e.svc.Create(cli, schemas.CreateArgs{})
	if err != nil {
		t.Fatal(err)
	}
	r = newest(t, trail, 4)[0]
	if r.Who.Subject != caller.LocalSubject || r.Front != "cli" || r.Operation != schemas.CreateTool || r.Outcome != audit.OutcomeWritten ||
		r.Set == nil || r.Set.Timestamp != created.Timestamp || r.Set.Path != created.BackupDirectory || r.Target != created.Source ||
		r.Rows[layout.EmbeddingTable] != created.TablesBackedUp[layout.EmbeddingTable].RowCount {
		t.Errorf("backup record %+v, result %+v", r, created)
	}

	// A restore that replaces rows writes a snapshot first.
	again, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(0), TruncateBeforeRestore: true}, service.RestoreOptions{})
	if err != nil || again.Snapshot == nil {
		t.Fatalf("a second restore: %v, snapshot %v", err, again)
	}
	if r := newest(t, trail, 5)[0]; r.Snapshot == nil || r.Snapshot.Timestamp != again.Snapshot.Timestamp || r.Snapshot.Path != again.Snapshot.BackupPath {
		t.Errorf("snapshot in the record %+v, want %+v", r.Snapshot, again.Snapshot)
	}

	// The metrics counted the restores, their rows and the snapshot.
	rec := httptest.NewRecorder()
	e.svc.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, want := range []string{
		`pgvector_backup_restores_total{dry_run="false",mode="truncate",outcome="ok"} 2`,
		`pgvector_backup_restores_total{dry_run="true",mode="truncate",outcome="ok"} 1`,
		`pgvector_backup_restores_total{dry_run="false",mode="append",outcome="conflict"} 1`,
		`pgvector_backup_restored_rows_total{table="langchain_pg_embedding"} ` +
			itoa(res.RestoreResults[layout.EmbeddingTable].RowsRestored+again.RestoreResults[layout.EmbeddingTable].RowsRestored),
		`pgvector_backup_lock_wait_seconds_count 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(body), "pgvector_backup_snapshot_bytes_total 0\n") || !strings.Contains(string(body), "pgvector_backup_snapshot_bytes_total ") {
		t.Errorf("no snapshot bytes counted")
	}
}

// TestAuditUnwritable: when the record cannot be written, a restore still
// commits and its errors say so; a restore that failed keeps its error,
// with the detail audit_error.
func TestAuditUnwritable(t *testing.T) {
	t.Parallel()
	e, _ := audited(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A file where the trail's folder goes: nothing can be created below
	// it (chmod would not stop a test run as root).
	if err := os.WriteFile(filepath.Join(e.backups, layout.AuditDir), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(0), TruncateBeforeRestore: true}, service.RestoreOptions{})
	if err != nil {
		t.Fatalf("the restore failed with the trail unwritable: %v", err)
	}
	if !res.RestorePerformed || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "audit record") {
		t.Errorf("performed %v, errors %q: want the commit and a note that the audit record was not written", res.RestorePerformed, res.Errors)
	}
	if n := res.RestoreResults[layout.EmbeddingTable].RowsRestored; n != int64(len(e.sets[0].Embeddings)) {
		t.Errorf("%d rows restored, want %d", n, len(e.sets[0].Embeddings))
	}

	_, err = e.svc.Restore(ctx, schemas.RestoreArgs{BackupPath: legacyRel, Timestamp: setTS(0)}, service.RestoreOptions{})
	ae, ok := apierr.As(err)
	if !ok || ae.Type != apierr.Conflict || ae.Details["audit_error"] == nil {
		t.Errorf("a failed restore with the trail unwritable: %v (details %v), want CONFLICT with audit_error", err, ae)
	}

	created, err := e.svc.Create(ctx, schemas.CreateArgs{})
	if err != nil || len(created.Errors) != 1 || !strings.Contains(created.Errors[0], "audit record") {
		t.Errorf("backup with the trail unwritable: %v, errors %q", err, created.Errors)
	}
	rec := httptest.NewRecorder()
	e.svc.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	if !strings.Contains(string(body), "pgvector_backup_audit_write_failures_total 3") {
		t.Errorf("the metrics do not count 3 audit failures")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
