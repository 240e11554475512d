package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/target"
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

// Restore restores one backup set, all or nothing. With confirmations on, a
// restore that deletes or overwrites rows runs only after a person approved
// its plan: directly through Approver, or by calling again with the token
// that the CONFIRMATION_REQUIRED answer carries.
func (s *Service) Restore(ctx context.Context, args schemas.RestoreArgs, opts RestoreOptions) (*schemas.RestoreResult, error) {
	if err := requireRestoreParams(args); err != nil {
		return nil, err
	}
	if args.DBConnection != "" && args.PgConn != "" && args.DBConnection != args.PgConn {
		return nil, apierr.New(apierr.InvalidParams, "db_connection and pg_conn name different databases; pg_conn is a legacy alias, pass only db_connection").
			With("param", "pg_conn")
	}
	set, db, err := s.resolve(args.BackupPath, args.Timestamp, args.Connection())
	if e, ok := apierr.As(err); ok && e.Details["param"] == "db_connection" && args.DBConnection == "" {
		e.Details["param"] = "pg_conn" // name the argument the caller used
	}
	if err != nil {
		return nil, err
	}
	req := restore.Request{
		Set:         set,
		BackupPath:  args.BackupPath,
		Tables:      args.Tables,
		Truncate:    args.TruncateBeforeRestore,
		Collections: args.Collections,
		OnConflict:  args.OnConflict,
		DryRun:      args.DryRun,
		Target:      db.Name,
		Progress:    throttle(opts.Progress, 200*time.Millisecond),
	}
	if args.Snapshot == nil || *args.Snapshot {
		req.Snapshot = s.snapshotTarget()
	}
	log := s.logger().With("op", "restore", "set", set.Timestamp, "dir", set.Dir, "target", db.Name)

	conn, err := db.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var claims *confirm.Claims
	if s.Confirm != nil && !args.DryRun && !opts.Unattended {
		if args.ConfirmToken != "" {
			if claims, err = s.checkToken(args, req, db); err != nil {
				return nil, err
			}
			req.Expect = binding(claims)
		} else if err := s.seekApproval(ctx, conn, args, &req, db, opts.Approver); err != nil {
			return nil, err
		}
	}

	log.Info("restore starting", "tables", args.Tables, "truncate", args.TruncateBeforeRestore,
		"collections", args.Collections, "on_conflict", args.OnConflict, "dry_run", args.DryRun)
	res, err := restore.Run(ctx, conn, req)
	if err != nil {
		log.Warn("restore failed, rolled back", "error_type", apierr.TypeOf(err), "err", err)
		return nil, err
	}
	if claims != nil {
		if err := s.Confirm.MarkUsed(claims); err != nil {
			log.Warn("could not persist the used confirmation token", "err", err)
		}
	}
	if res.Snapshot != nil && !res.DryRun {
		s.pruneSnapshots(res, log)
	}
	if res.DryRun {
		log.Info("dry run finished, rolled back", restoredAttrs(res)...)
	} else {
		log.Info("restore committed", restoredAttrs(res)...)
	}
	return res, nil
}

// pruneSnapshots keeps, once a restore that wrote a snapshot has committed,
// that snapshot and the newest KeepSnapshots-1 older ones of the snapshot
// folder, and removes the rest. Newer snapshots belong to restores of other
// databases still running (which prune when they commit), and are not
// counted. The restore is done whatever happens here: a failure is noted in
// its result, not returned.
func (s *Service) pruneSnapshots(res *schemas.RestoreResult, log *slog.Logger) {
	if s.KeepSnapshots <= 0 {
		return
	}
	sets, err := s.Catalog.Sets(s.Catalog.GlobalDir())
	if err == nil {
		var older []catalog.Set
		for _, set := range sets { // newest first
			if set.Kind == catalog.KindSnapshot && set.Timestamp < res.Snapshot.Timestamp {
				older = append(older, set)
			}
		}
		for _, set := range older[min(len(older), s.KeepSnapshots-1):] {
			err = backup.RemoveSnapshot(set)
			if errors.Is(err, backup.ErrNotSnapshot) {
				log.Warn("a set named as a snapshot is not one; left in place", "err", err)
				err = nil
				continue
			}
			if err != nil {
				break
			}
			res.Snapshot.Pruned = append(res.Snapshot.Pruned, set.Timestamp)
		}
	}
	if err != nil {
		log.Warn("could not remove older snapshots", "err", err)
		res.Errors = append(res.Errors, fmt.Sprintf("the restore is complete, but older snapshot sets could not be removed (keeping the newest %d): %v", s.KeepSnapshots, err))
	}
	if len(res.Snapshot.Pruned) > 0 {
		log.Info("older snapshots removed", "keep", s.KeepSnapshots, "removed", res.Snapshot.Pruned)
	}
}

// seekApproval plans the restore and, when it deletes or overwrites rows,
// asks the person through approve if possible, else answers
// CONFIRMATION_REQUIRED with the plan and a token. On approval it binds req
// to the planned world.
func (s *Service) seekApproval(ctx context.Context, conn *pgx.Conn, args schemas.RestoreArgs, req *restore.Request, db *target.Database, approve Approver) error {
	plan, binding, err := restore.Plan(ctx, conn, *req)
	if err != nil {
		return err
	}
	if !destructive(plan) {
		return nil
	}
	message := describePlan(req, plan)
	if approve != nil {
		ok, err := approve(ctx, message+"\n\nApprove this restore?")
		switch {
		case err == nil && ok:
			req.Expect = binding
			return nil
		case err == nil:
			return apierr.New(apierr.Cancelled, "the user declined the restore; nothing was changed")
		case ctx.Err() != nil:
			return apierr.Wrap(apierr.Cancelled, err, "cancelled while asking the user to approve; nothing was changed")
		}
		s.logger().Info("could not ask the user directly; answering with a confirmation token", "err", err)
	}
	claims, err := s.claims(*req, db, binding)
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
			With("plan", plan).With("confirm_token", token).With("expires_at", expires.UTC().Format(time.RFC3339)),
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
	Question string
	Token    string
}

func (e *ApprovalRequired) Error() string { return e.Err.Error() }
func (e *ApprovalRequired) Unwrap() error { return e.Err }

// destructive reports whether a plan deletes or may overwrite rows.
func destructive(p *schemas.RestorePlan) bool {
	if p.OnConflict == restore.OnConflictUpdate {
		return true
	}
	for _, n := range p.Delete {
		if n > 0 {
			return true
		}
	}
	return false
}

// describePlan says what the restore will do, for the person approving it.
func describePlan(req *restore.Request, p *schemas.RestorePlan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Restore of set %s from %s into %s (%s mode) will:", req.Set.Timestamp, req.BackupPath, req.Target, p.Mode)
	for _, t := range p.Tables {
		fmt.Fprintf(&b, "\n- %s: delete %s, write %s", t, rows(p.Delete[t]), rows(p.Insert[t]))
	}
	for _, c := range p.Collections {
		if c.DeleteEmbeddings > 0 || c.InsertEmbeddings > 0 {
			fmt.Fprintf(&b, "\n  - collection %s: %d embeddings deleted, %d written", c.Name, c.DeleteEmbeddings, c.InsertEmbeddings)
		}
	}
	if p.OnConflict == restore.OnConflictUpdate {
		b.WriteString("\n- live rows whose key is in the backup are overwritten")
	}
	if p.Snapshot {
		b.WriteString("\nThe replaced rows are saved first as a new backup set in global_vector_bak/, so the restore can be undone.")
	} else {
		b.WriteString("\nNo snapshot is taken (snapshot=false): the replaced rows cannot be recovered by this server.")
	}
	return b.String()
}

// rows says "1 row", "2 rows".
func rows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

// claims describes the world a plan was made for.
func (s *Service) claims(req restore.Request, db *target.Database, binding *restore.Binding) (*confirm.Claims, error) {
	c := &confirm.Claims{
		Target:    db.Name,
		Options:   confirm.Digest(canonicalOptions(req)),
		SetDir:    confirm.Digest(req.Set.Dir),
		Timestamp: req.Set.Timestamp,
		Files:     map[string]confirm.FileStamp{},
		State:     binding.State,
	}
	for table, sum := range binding.Files {
		st, err := stamp(req.Set, table)
		if err != nil {
			return nil, err
		}
		st.SHA256 = sum
		c.Files[table] = st
	}
	return c, nil
}

// binding is the world a token vouches for, as the restore checks it.
func binding(c *confirm.Claims) *restore.Binding {
	b := &restore.Binding{State: c.State, Files: map[string]string{}}
	for table, f := range c.Files {
		b.Files[table] = f.SHA256
	}
	return b
}

func stamp(set catalog.Set, table string) (confirm.FileStamp, error) {
	path := set.CollectionPath()
	if table == schemas.EmbeddingTable {
		path = set.EmbeddingPath()
	}
	fi, err := os.Stat(path)
	if err != nil {
		return confirm.FileStamp{}, apierr.Wrap(apierr.ResourceNotFound, err, "backup file %s disappeared", path)
	}
	return confirm.FileStamp{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
}

// canonicalOptions renders the options a token is bound to, so the same
// call spelled differently (table order, default values) still matches.
func canonicalOptions(req restore.Request) string {
	tables, _ := restore.SelectTables(req.Tables)
	collections := slices.Clone(req.Collections)
	slices.Sort(collections)
	onConflict := req.OnConflict
	if onConflict == "" {
		onConflict = restore.OnConflictError
	}
	b, _ := json.Marshal(map[string]any{
		"tables":      tables,
		"truncate":    req.Truncate,
		"collections": collections,
		"on_conflict": onConflict,
		"snapshot":    req.Snapshot != nil,
	})
	return string(b)
}

// checkToken opens a confirmation token and checks it was issued for this
// very call: same set files, options and database. The rows' state is
// checked by the restore itself, under its lock.
func (s *Service) checkToken(args schemas.RestoreArgs, req restore.Request, db *target.Database) (*confirm.Claims, error) {
	bad := func(reason, msg string) error {
		return apierr.New(apierr.InvalidParams, "confirm_token %s; call restore_vector_backup again without confirm_token to get a new plan and token", msg).
			With("param", "confirm_token").With("reason", reason)
	}
	c, err := s.Confirm.Open(args.ConfirmToken)
	switch {
	case errors.Is(err, confirm.ErrExpired):
		return nil, bad("expired", "has expired")
	case errors.Is(err, confirm.ErrUsed):
		return nil, bad("used", "was already used for a restore that completed")
	case err != nil:
		return nil, bad("invalid", "is not a token this server issued, or it was altered")
	}
	switch {
	case c.Target != db.Name:
		return nil, bad("other_target", fmt.Sprintf("was issued for database %s, not %s", c.Target, db.Name))
	case c.SetDir != confirm.Digest(req.Set.Dir) || c.Timestamp != req.Set.Timestamp:
		return nil, bad("other_set", fmt.Sprintf("was issued for set %s in another folder or of another time, not %s", c.Timestamp, req.Set.Timestamp))
	case c.Options != confirm.Digest(canonicalOptions(req)):
		return nil, bad("other_options", "was issued for other options (tables, truncate_before_restore, collections, on_conflict or snapshot differ)")
	}
	for table, want := range c.Files {
		got, err := stamp(req.Set, table)
		if err != nil {
			return nil, err
		}
		if got.Size != want.Size || got.ModTime != want.ModTime {
			return nil, apierr.New(apierr.Conflict, "backup file of %s changed after the plan was confirmed; nothing was changed; call again without confirm_token to get a new plan", table).
				With("reason", "files_changed")
		}
	}
	return c, nil
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
func throttle(p Progress, every time.Duration) func(restore.Progress) {
	if p == nil {
		return nil
	}
	var last time.Time
	return func(rp restore.Progress) {
		now := time.Now()
		if rp.BytesDone < rp.BytesTotal && now.Sub(last) < every {
			return
		}
		last = now
		p(float64(rp.BytesDone), float64(rp.BytesTotal),
			fmt.Sprintf("%s: %s sent", rp.Table, rows(rp.Rows)))
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
