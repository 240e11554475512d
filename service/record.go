package service

import (
	"context"
	"fmt"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/audit"
	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/metrics"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// auditWriteTimeout bounds writing one audit record. It is written even
// when the call was cancelled (a cancelled restore rolled back: worth a
// record), so it cannot wait on the call's context alone.
const auditWriteTimeout = 30 * time.Second

// restoreRecorded counts a restore that reached the database and writes its
// audit record, before the call returns. done and res are nil when it
// failed with err. It returns the error the call returns: err, unless the
// record could not be written (see record).
func (s *Service) restoreRecorded(ctx context.Context, call *restoreCall, opts RestoreOptions, start time.Time, done *restore.Result, res *schemas.RestoreResult, err error) error {
	args := call.args
	m := metrics.Restore{Mode: restoreMode(args), DryRun: args.DryRun, Err: err}
	rec := audit.Record{
		Operation: schemas.RestoreTool,
		Set:       &audit.SetRef{Path: s.Catalog.RelativePath(call.req.Set.Dir), Timestamp: call.req.Set.Timestamp},
		Target:    call.db.Name,
		Options: audit.Options{
			Tables:                args.Tables,
			TruncateBeforeRestore: args.TruncateBeforeRestore,
			Online:                args.Online,
			Collections:           args.Collections,
			OnConflict:            args.OnConflict,
			DryRun:                args.DryRun,
			Snapshot:              args.Snapshot,
			AllowOtherDatabase:    args.AllowOtherDatabase,
			Confirmed:             call.req.Expect != nil, // a token's, or a person's approval asked directly
			Unattended:            opts.Unattended,
		},
	}
	if done != nil {
		m.Duration, m.LockWait = done.Duration, done.LockWait
		m.Rows = map[string]int64{}
		for table, r := range done.RestoreResults {
			m.Rows[table] = r.RowsRestored
			m.Bytes += r.FileBytes
		}
		rec.Rows, rec.Outcome = m.Rows, audit.OutcomeCommitted
		if done.DryRun {
			rec.Outcome = audit.OutcomeDryRun
		}
		if res.Snapshot != nil {
			rec.Snapshot = &audit.SetRef{Path: res.Snapshot.BackupPath, Timestamp: res.Snapshot.Timestamp}
			m.SnapshotBytes = done.Snapshot.Bytes
		}
	}
	s.Metrics.Restored(m)
	var note string
	note, err = s.record(ctx, rec, start, err)
	if note != "" {
		res.Errors = append(res.Errors, note)
	}
	return err
}

// createRecorded writes the audit record of a backup that reached the
// database, before the call returns; res is nil when it failed with err.
// It returns the error the call returns (see record).
func (s *Service) createRecorded(ctx context.Context, args schemas.CreateArgs, dir, target string, start time.Time, res *schemas.CreateResult, err error) error {
	rec := audit.Record{
		Operation: schemas.CreateTool,
		Set:       &audit.SetRef{Path: s.Catalog.RelativePath(dir)},
		Target:    target,
		Options:   audit.Options{Tables: args.Tables, TaskID: args.TaskID},
	}
	if res != nil {
		rec.Set.Timestamp, rec.Outcome = res.Timestamp, audit.OutcomeWritten
		rec.Rows = map[string]int64{}
		for table, t := range res.TablesBackedUp {
			rec.Rows[table] = t.RowCount
		}
	}
	var note string
	note, err = s.record(ctx, rec, start, err)
	if note != "" {
		res.Errors = append(res.Errors, note)
	}
	return err
}

// record completes rec with who called, through which front, the outcome
// of a failed call and the duration since start, and writes it. A record
// that cannot be written changes nothing of the call's outcome: a call
// that succeeded gets note, for its result's errors; a failed one returns
// its error with the detail audit_error added (errors are never changed:
// a copy). Without a trail it does nothing.
func (s *Service) record(ctx context.Context, rec audit.Record, start time.Time, callErr error) (note string, err error) {
	if s.Audit == nil {
		return "", callErr
	}
	who, front := caller.From(ctx), caller.FrontOf(ctx)
	rec.Who = audit.Who{Subject: who.Subject, Client: who.Client}
	rec.Front = front.Name
	if front.Operation != "" {
		rec.Operation = front.Operation
	}
	if callErr != nil {
		rec.Outcome, rec.Error = string(apierr.TypeOf(callErr)), apierr.MessageOf(callErr)
	}
	rec.DurationSeconds = time.Since(start).Seconds()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
	defer cancel()
	key, werr := s.Audit.Write(wctx, &rec)
	if werr == nil {
		s.logger().Debug("audit record written", "key", key, "operation", rec.Operation, "outcome", rec.Outcome)
		return "", callErr
	}
	s.Metrics.AuditFailed(werr)
	msg := fmt.Sprintf("the audit record of this call could not be written (%s); the operator must make the backup root's %s/ folder writable",
		apierr.MessageOf(werr), layout.AuditDir)
	s.logger().Error("audit record not written", "operation", rec.Operation, "outcome", rec.Outcome, "subject", rec.Who.Subject, "err", werr)
	if callErr == nil {
		return msg, nil
	}
	return "", apierr.From(callErr).Replace("audit_error", msg)
}

// restoreMode is a restore's mode as the metrics name it.
func restoreMode(args schemas.RestoreArgs) string {
	switch {
	case args.TruncateBeforeRestore && args.Online:
		return metrics.ModeOnline
	case args.TruncateBeforeRestore:
		return metrics.ModeTruncate
	case len(args.Collections) > 0:
		return metrics.ModeCollections
	}
	return metrics.ModeAppend
}
