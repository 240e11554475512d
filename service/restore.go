package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// Approver asks a person to approve a restore plan, and reports whether they
// did. It returns an error when it could not ask.
type Approver func(ctx context.Context, message string) (bool, error)

// RestoreOptions are what the front end adds to a restore call.
type RestoreOptions struct {
	Progress Progress
	Approver Approver // nil when no one can be asked directly

	// Unattended runs the restore without asking anyone, whatever
	// confirmations are set to: the legacy HTTP API never asked, and its
	// callers are scripts behind the operator's token.
	Unattended bool
}

// Restore restores one backup set, all or nothing: resolve the call, plan
// and approve it, run it, mark its token used. With confirmations on, a
// restore that deletes or overwrites rows runs only after a person approved
// its plan: directly through Approver, or by calling again with the token
// that the CONFIRMATION_REQUIRED answer carries.
func (s *Service) Restore(ctx context.Context, args schemas.RestoreArgs, opts RestoreOptions) (*schemas.RestoreResult, error) {
	call, err := s.resolveRestore(ctx, args, opts)
	if err != nil {
		return nil, err
	}
	defer call.req.Files.Close()
	log := s.logger().With("op", "restore", "set", call.req.Set.Timestamp, "dir", call.req.Set.Dir, "target", call.db.Name)
	conn, err := call.db.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	claims, err := s.approve(ctx, conn, call, args.ConfirmToken, opts)
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "restore starting", "tables", args.Tables, "truncate", args.TruncateBeforeRestore,
		"collections", args.Collections, "on_conflict", args.OnConflict, "dry_run", args.DryRun)
	if claims != nil {
		call.req.BeforeCommit = func() error { return s.spend(ctx, claims) }
	}
	release, err := s.readSlot(ctx)
	if err != nil {
		return nil, err
	}
	// Refused options are refused before the restore starts: such a call
	// did nothing, and leaves no audit record.
	if _, err := restore.Validate(ctx, call.req); err != nil {
		release()
		return nil, err
	}
	start := time.Now()
	done, err := restore.Run(ctx, conn, call.req)
	release()
	if err != nil {
		log.WarnContext(ctx, "restore failed, rolled back", "error_type", apierr.TypeOf(err), "err", err)
		return nil, s.restoreRecorded(ctx, call, opts, start, nil, nil, err)
	}
	res := s.restoreResult(call, done)
	if res.Snapshot != nil {
		s.pruneSnapshots(ctx, res, done.Snapshot.Source, log)
	}
	if res.DryRun {
		log.InfoContext(ctx, "dry run finished, rolled back", restoredAttrs(res)...)
	} else {
		log.InfoContext(ctx, "restore committed", append(restoredAttrs(res), "analyze", done.Analyze.Seconds())...)
		if res.Snapshot != nil {
			log.InfoContext(ctx, "snapshot saved", "snapshot", res.Snapshot.Timestamp, "snapshot_path", res.Snapshot.BackupPath)
		}
	}
	return res, s.restoreRecorded(ctx, call, opts, start, done, res, nil)
}

// restoreCall is a restore call resolved: the set, the database and the
// request for the core.
type restoreCall struct {
	args schemas.RestoreArgs
	db   *dbaccess.Database
	req  restore.Request
}

// resolveRestore checks the arguments and finds the set and the database.
func (s *Service) resolveRestore(ctx context.Context, args schemas.RestoreArgs, opts RestoreOptions) (*restoreCall, error) {
	if err := requireRestoreParams(args); err != nil {
		return nil, err
	}
	if args.DBConnection != "" && args.PgConn != "" && args.DBConnection != args.PgConn {
		return nil, apierr.New(apierr.InvalidParams, "db_connection and pg_conn name different databases; pg_conn is a legacy alias, pass only db_connection").
			With("param", "pg_conn")
	}
	files, db, err := s.resolve(ctx, args.BackupPath, args.Timestamp, args.Connection())
	if e, ok := apierr.As(err); ok && e.Param == "db_connection" && args.DBConnection == "" {
		// Name the argument the caller used.
		return nil, e.Replace("param", "pg_conn")
	}
	if err != nil {
		return nil, err
	}
	call := &restoreCall{args: args, db: db, req: restore.Request{
		Set:           files.Set,
		Files:         files,
		Tables:        args.Tables,
		Truncate:      args.TruncateBeforeRestore,
		Collections:   args.Collections,
		OnConflict:    args.OnConflict,
		DryRun:        args.DryRun,
		Online:        args.Online,
		Database:      db.Name,
		Source:        sourceOf(db),
		OtherDatabase: args.AllowOtherDatabase,
		LockWait:      s.LockWait,
		Progress:      throttle(opts.Progress, 200*time.Millisecond),
		Waiting:       s.waiting(ctx, opts.Progress),
		IndexMemory:   s.IndexMemory,
		IndexProgress: indexProgress(opts.Progress),
		Watch:         db.Connect,
	}}
	if args.Snapshot == nil || *args.Snapshot {
		call.req.SnapshotDir, call.req.BackupRoot = s.Catalog.GlobalDir(), s.Catalog.Store
	}
	return call, nil
}

// approve makes sure a person approved the call, when confirmations are on:
// by the token it carries (returning its claims, to be marked used once the
// restore commits), or by asking now. Either way the request is bound to
// the world that was approved.
func (s *Service) approve(ctx context.Context, conn *pgx.Conn, call *restoreCall, token string, opts RestoreOptions) (*confirm.Claims, error) {
	if s.Confirm == nil || call.req.DryRun || opts.Unattended {
		return nil, nil
	}
	if token == "" {
		return nil, s.seekApproval(ctx, conn, call, opts.Approver)
	}
	claims, err := s.Confirm.Verify(ctx, token, call.confirmCall())
	if err != nil {
		return nil, err
	}
	call.req.Expect = &restore.Binding{State: claims.State, Files: claims.Sums()}
	return claims, nil
}

// spend spends the call's token, just before its restore commits.
func (s *Service) spend(ctx context.Context, claims *confirm.Claims) error {
	err := s.Confirm.Spend(ctx, claims)
	switch {
	case errors.Is(err, confirm.ErrUsed):
		return apierr.New(apierr.InvalidParams, "confirm_token was already used for a restore that completed (another call spent it first); call restore_vector_backup again without confirm_token to get a new plan and token").
			With("param", "confirm_token").With("reason", "used")
	case err != nil:
		return apierr.Wrap(apierr.DatabaseError, err, "the confirmation could not be recorded as spent (%v), so the restore was not committed; the operator must fix the backup root's spent-token record", err).
			With("reason", "spend_record")
	}
	return nil
}

// confirmCall is what a token for this call binds.
func (c *restoreCall) confirmCall() confirm.Call {
	tables, _ := restore.SelectTables(c.req.Tables)
	return confirm.Call{Target: c.db.Name, Set: c.req.Files, Options: confirm.Options{
		Tables:        tables,
		Truncate:      c.req.Truncate,
		Collections:   c.req.Collections,
		OnConflict:    cmp.Or(c.req.OnConflict, restore.OnConflictError),
		Snapshot:      c.req.SnapshotDir != "",
		Online:        c.req.Online,
		OtherDatabase: c.req.OtherDatabase,
	}}
}

// pruneSnapshots applies retention (backup.Prune) to the snapshot folder
// once a restore that wrote a snapshot has committed: the newest
// KeepSnapshots snapshots of the same source database stay. The restore is
// done whatever happens here: a failure is noted in its result, not
// returned.
func (s *Service) pruneSnapshots(ctx context.Context, res *schemas.RestoreResult, source *layout.Source, log *slog.Logger) {
	if s.KeepSnapshots <= 0 || source == nil {
		return
	}
	sets, err := s.Catalog.Sets(ctx, s.Catalog.GlobalDir())
	if err == nil {
		var kept backup.Retention
		kept, err = backup.Prune(ctx, sets, s.KeepSnapshots, *source, res.Snapshot.Timestamp)
		res.Snapshot.Pruned = append(res.Snapshot.Pruned, kept.Removed...)
		for _, k := range kept.Kept {
			log.WarnContext(ctx, "a set named as a snapshot is not provably one; left in place", "err", k)
		}
	}
	if err != nil {
		log.WarnContext(ctx, "could not remove older snapshots", "err", err)
		res.Errors = append(res.Errors, fmt.Sprintf("the restore is complete, but older snapshot sets could not be removed (keeping the newest %d): %v", s.KeepSnapshots, err))
	}
	if len(res.Snapshot.Pruned) > 0 {
		log.InfoContext(ctx, "older snapshots removed", "keep", s.KeepSnapshots, "removed", res.Snapshot.Pruned)
	}
}

// seekApproval plans the restore and, when it deletes or overwrites rows,
// asks the person through approve if possible, else answers
// CONFIRMATION_REQUIRED with the plan and a token. On approval it binds the
// request to the planned world.
func (s *Service) seekApproval(ctx context.Context, conn *pgx.Conn, call *restoreCall, approve Approver) error {
	var plan *restore.Plan
	var binding *restore.Binding
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	err = restore.ReadOnly(ctx, conn, func(tx pgx.Tx) (err error) {
		plan, binding, err = restore.MakePlan(ctx, tx, call.req, true)
		return err
	})
	release()
	if err != nil || !plan.Destructive() {
		return err
	}
	planned := planOut(plan)
	message := describePlan(call, planned)
	if approve != nil {
		ok, err := approve(ctx, message+"\n\nApprove this restore?")
		switch {
		case err == nil && ok:
			call.req.Expect = binding
			return nil
		case err == nil:
			return apierr.New(apierr.Cancelled, "the user declined the restore; nothing was changed")
		case ctx.Err() != nil:
			return apierr.Wrap(apierr.Cancelled, err, "cancelled while asking the user to approve; nothing was changed")
		}
		s.logger().InfoContext(ctx, "could not ask the user directly; answering with a confirmation token", "err", err)
	}
	claims, err := confirm.Bind(call.confirmCall(), binding.State, binding.Files)
	if err != nil {
		return err
	}
	token, expires, err := s.Confirm.Seal(*claims)
	if err != nil {
		return fmt.Errorf("seal confirmation token: %w", err)
	}
	return &ApprovalRequired{
		Err: apierr.New(apierr.ConfirmationRequired,
			"%s\nNothing was changed. Show this plan to the user; if they approve, call restore_vector_backup again with the same arguments plus confirm_token (valid until %s).",
			message, expires.UTC().Format(time.RFC3339)).
			With("plan", planned).With("confirm_token", token).With("expires_at", expires.UTC().Format(time.RFC3339)),
		Plan:     planned,
		Summary:  message,
		Question: message + "\n\nApprove this restore?",
		Token:    token,
	}
}

// ApprovalRequired is the error of a restore that needs a person's
// approval: the CONFIRMATION_REQUIRED error the caller gets, plus, for a
// front end that can put it to the person later (in another round trip),
// the question and the token that approves it.
type ApprovalRequired struct {
	Err      *apierr.Error
	Plan     *schemas.RestorePlan // what the person is asked to approve
	Summary  string               // Plan in words (PlanLines), with the set and database
	Question string
	Token    string
}

func (e *ApprovalRequired) Error() string { return e.Err.Error() }
func (e *ApprovalRequired) Unwrap() error { return e.Err }

// Count says "1 row", "2 rows": how every front end words a number of
// things for a person.
func Count[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func restoredAttrs(res *schemas.RestoreResult) []any {
	attrs := []any{"duration", res.Duration, "dry_run", res.DryRun}
	for table, r := range res.RestoreResults {
		attrs = append(attrs, slog.Int64(table, r.RowsRestored))
	}
	if res.Snapshot != nil {
		attrs = append(attrs, "snapshot", res.Snapshot.Timestamp)
	}
	return attrs
}

// throttle turns restore progress into at most one report per interval (and
// always the last), so a fast restore does not flood the client.
func throttle(p Progress, every time.Duration) func(table string, done, total, sent int64) {
	if p == nil {
		return nil
	}
	var last time.Time
	return func(table string, done, total, sent int64) {
		now := time.Now()
		if done < total && now.Sub(last) < every {
			return
		}
		last = now
		p(float64(done), float64(total), fmt.Sprintf("%s: %s sent", table, Count(sent, "row")))
	}
}

// indexProgress reports an index build as its own phase of progress.
func indexProgress(p Progress) func(index, phase string, done, total int64) {
	if p == nil {
		return nil
	}
	return func(index, phase string, done, total int64) {
		if total <= 0 {
			done, total = 0, 1
		}
		p(float64(done), float64(total), fmt.Sprintf("building index %s: %s", index, phase))
	}
}

// waiting reports what a restore waits for: logged when it changes, and as
// progress that has not started.
func (s *Service) waiting(ctx context.Context, p Progress) func(string) {
	var last string
	return func(what string) {
		if what != last {
			s.logger().InfoContext(ctx, "restore waiting for a lock", "detail", what)
			last = what
		}
		if p != nil {
			p(0, 1, what)
		}
	}
}

// requireRestoreParams checks the required arguments for callers that
// bypass schema validation (the command line).
func requireRestoreParams(args schemas.RestoreArgs) error {
	var missing []string
	if args.BackupPath == "" {
		missing = append(missing, "backup_path")
	}
	if args.Timestamp == "" {
		missing = append(missing, "timestamp")
	}
	if len(missing) > 0 {
		return apierr.MissingParams(missing...)
	}
	return nil
}
