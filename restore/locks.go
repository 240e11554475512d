package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/dblock"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
	"github.com/vectorops/pgvector-backup-mcp/pgerr"
)

// DefaultLockWait is how long a restore waits for its locks when the
// request does not say.
const DefaultLockWait = 30 * time.Second

// lockAttempt bounds one try for a lock. A lock request that waits blocks
// every later request on the table behind it, the application's readers
// too; short tries, with pauses between them, let those through.
const lockAttempt = 200 * time.Millisecond

// Table lock modes, and the modes other sessions may hold without blocking
// them.
const (
	accessExclusive = "ACCESS EXCLUSIVE" // TRUNCATE: nobody else, not even readers
	exclusive       = "EXCLUSIVE"        // online: readers (ACCESS SHARE) go on
	shareRowExcl    = "SHARE ROW EXCLUSIVE"
)

var compatible = map[string][]string{
	accessExclusive: nil,
	exclusive:       {"AccessShareLock"},
	shareRowExcl:    {"AccessShareLock", "RowShareLock"},
}

// lock waits for other restores of this database, then locks the selected
// tables so that the application cannot change them between the checks, the
// snapshot and the restore: the snapshot is exactly what is replaced.
// Truncating needs ACCESS EXCLUSIVE; an online restore blocks writers and
// lets readers read the old rows until the commit; the other modes (and dry
// runs) block writers only. Each wait is bounded by the request's LockWait:
// then CONFLICT names the sessions holding the lock.
func (j *job) lock(ctx context.Context, tx pgx.Tx) error {
	start := time.Now()
	defer func() { j.lockWaited = time.Since(start) }()
	// A server killed while its session waits for a lock would otherwise
	// keep its locks until the wait ends: have PostgreSQL (14 and later)
	// check the client.
	if serverMajor(tx.Conn()) >= 14 {
		if _, err := tx.Exec(ctx, "SET LOCAL client_connection_check_interval = '1s'"); err != nil {
			return fmt.Errorf("configure the restore session: %w", err)
		}
	}
	deadline := time.Now().Add(j.lockWait())
	if err := j.acquire(ctx, tx, deadline, "another restore of this database", nil, nil,
		dblock.ExclusiveInTx, dblock.Key); err != nil {
		return err
	}
	mode := shareRowExcl
	switch {
	case j.req.Truncate && j.req.Online && !j.req.DryRun:
		mode = exclusive
	case j.req.Truncate && !j.req.DryRun:
		mode = accessExclusive
	}
	var tables []string
	for _, t := range j.tables {
		ok, err := livedb.Exists(ctx, tx, t)
		if err != nil {
			return err
		}
		if ok { // else openStreams reports it
			tables = append(tables, t)
		}
	}
	if len(tables) > 0 {
		sql := fmt.Sprintf("LOCK TABLE %s IN %s MODE", columnList(tables), mode)
		if err := j.acquire(ctx, tx, deadline, strings.Join(tables, " and "), tables, compatible[mode], sql); err != nil {
			return err
		}
	}
	// Later statements take locks too (a foreign key's check, the
	// snapshot's reads): bounded by what is left of the wait.
	_, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", max(time.Until(deadline).Milliseconds(), 1)))
	return err
}

func (j *job) lockWait() time.Duration {
	if j.req.LockWait > 0 {
		return j.req.LockWait
	}
	return DefaultLockWait
}

// acquire runs sql, which takes a lock, in short tries until deadline. On
// each failed try it reports who holds the lock and rolls back to before
// the try; past the deadline it fails with CONFLICT naming them. tables
// are the tables sql locks (nil: an advisory lock), and allowed the lock
// modes others may hold without blocking it.
func (j *job) acquire(ctx context.Context, tx pgx.Tx, deadline time.Time, what string, tables, allowed []string, sql string, args ...any) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", lockAttempt.Milliseconds())); err != nil {
		return err
	}
	pause := 50 * time.Millisecond
	for {
		if _, err := tx.Exec(ctx, "SAVEPOINT restore_lock"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		if err == nil {
			_, err = tx.Exec(ctx, "RELEASE SAVEPOINT restore_lock")
			return err
		}
		if pg, ok := pgerr.As(err); !ok || pg.Code != pgerrcode.LockNotAvailable {
			return err
		}
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT restore_lock"); err != nil {
			return err
		}
		holders, err := lockHolders(ctx, tx, tables, allowed)
		if err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return lockConflict(what, j.lockWait(), holders)
		}
		if j.req.Waiting != nil {
			j.req.Waiting(fmt.Sprintf("waiting for a lock on %s, held by %s", what, describeHolders(holders)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// Holder is a session holding a lock a restore waits for.
type Holder struct {
	PID         int       `json:"pid"`
	Application string    `json:"application_name"`
	State       string    `json:"state"`
	Since       time.Time `json:"since"` // its transaction's start, else its connection's
}

// lockHolders lists the other sessions holding locks on tables in modes
// not allowed, or, for tables nil, the restore advisory lock. Query text
// is left out: it may hold data or secrets.
func lockHolders(ctx context.Context, q livedb.Querier, tables, allowed []string) ([]Holder, error) {
	cond := "l.locktype = 'advisory' AND ((l.classid::bigint << 32) | l.objid::bigint) = $1"
	args := []any{dblock.Key}
	if tables != nil {
		cond = "l.locktype = 'relation' AND l.relation = ANY($1::regclass[]) AND NOT l.mode = ANY($2::text[])"
		args = []any{tables, append([]string{}, allowed...)}
	}
	rows, err := q.Query(ctx, `
		SELECT DISTINCT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''),
			coalesce(a.xact_start, a.backend_start)
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.granted AND l.pid <> pg_backend_pid() AND `+cond+`
		ORDER BY 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("look up who holds the lock: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Holder])
}

func describeHolders(holders []Holder) string {
	if len(holders) == 0 {
		return "a session that has just let go"
	}
	parts := make([]string, len(holders))
	for i, h := range holders {
		app := h.Application
		if app == "" {
			app = "no application name"
		}
		parts[i] = fmt.Sprintf("pid %d (%s, %s since %s)", h.PID, app, h.State, h.Since.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

// lockConflict is the error of a restore that could not get its locks.
func lockConflict(what string, waited time.Duration, holders []Holder) error {
	fix := "retry when it is done"
	if len(holders) > 0 {
		fix = fmt.Sprintf("ask that session to commit or roll back (or end it: SELECT pg_terminate_backend(%d)), then retry", holders[0].PID)
	}
	if holders == nil {
		holders = []Holder{}
	}
	return apierr.New(apierr.Conflict, "could not lock %s within %s: it is held by %s; %s, or use a longer --lock-timeout",
		what, waited, describeHolders(holders), fix).
		With("reason", "lock_timeout").With("holders", holders)
}
