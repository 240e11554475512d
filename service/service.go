// Package service carries out the server's operations (list, restore) on
// behalf of every front end: the MCP tools, the legacy HTTP API and the
// command line take schemas arguments, call here, and present the schemas
// results. Every restore and backup that reaches the database is counted
// (Metrics) and leaves an audit record (Audit) before the call returns
// (record.go). Errors are apierr errors.
package service

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/audit"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/metrics"
)

// Service holds what every operation needs.
type Service struct {
	Catalog *catalog.Catalog
	Policy  *dbaccess.Policy
	Logger  *slog.Logger

	// Confirm, when set, makes restores that delete or overwrite rows wait
	// for a person's approval. Nil runs them at once (--confirm=none, and
	// the legacy HTTP API, which never asked).
	Confirm *confirm.Sealer

	// KeepSnapshots is how many pre-restore snapshot sets are kept: after a
	// restore that wrote one commits, older ones are removed. 0 keeps all.
	KeepSnapshots int

	// LockWait bounds a restore's wait for each lock another session holds
	// (restore.DefaultLockWait when zero).
	LockWait time.Duration

	// IndexMemory is maintenance_work_mem for rebuilding the vector
	// indexes a truncating restore drops (restore.DefaultIndexMemory, or
	// the server's own when higher, when empty).
	IndexMemory string

	// Readers bounds how many calls read whole sets at once (inspect,
	// restore); others wait their turn. One read holds at most one record
	// (bounded by backupfile) and a few chunks, so this bounds the memory
	// the server's reads can take under any input. Zero means
	// DefaultReaders.
	Readers int

	// Metrics, when set, count what restores did and the store's
	// failures; nil counts nothing.
	Metrics *metrics.Metrics

	// Audit, when set, is the trail every restore and backup that reached
	// the database leaves a record in, before the call returns.
	Audit *audit.Trail

	readers     chan struct{}
	readersOnce sync.Once
	hooks       hooks
}

// DefaultReaders is how many calls read whole sets at once by default.
const DefaultReaders = 3

// readSlot waits for a turn to read a whole set; release ends it.
func (s *Service) readSlot(ctx context.Context) (release func(), err error) {
	s.readersOnce.Do(func() {
		s.readers = make(chan struct{}, cmp.Or(s.Readers, DefaultReaders))
	})
	select {
	case s.readers <- struct{}{}:
		return func() { <-s.readers }, nil
	default:
	}
	s.logger().InfoContext(ctx, "waiting for other calls to finish reading backup sets", "readers", cap(s.readers))
	select {
	case s.readers <- struct{}{}:
		return func() { <-s.readers }, nil
	case <-ctx.Done():
		return nil, apierr.Wrap(apierr.Cancelled, ctx.Err(), "cancelled while waiting for other calls to finish reading backup sets; nothing was changed")
	}
}

// hooks let tests act at the exact moments a call passes, such as between
// finding a set's files and opening them. Nil hooks do nothing.
type hooks struct {
	beforeOpen func(catalog.Set) // the set found, its files not yet opened
	afterOpen  func(catalog.Set) // its files open, nothing locked yet
}

func (hooks) run(hook func(catalog.Set), set catalog.Set) {
	if hook != nil {
		hook(set)
	}
}

// Progress reports how far a long operation got: done of total units, with a
// short message for people.
type Progress func(done, total float64, message string)

// Ping checks that the server's own database answers.
func (s *Service) Ping(ctx context.Context) error {
	db, err := s.Policy.Resolve("")
	if err != nil {
		return err
	}
	conn, err := db.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.Ping(ctx); err != nil {
		return apierr.Wrap(apierr.DatabaseError, err, "%s does not answer: %v", db.Name, err).With("reason", dbaccess.ReasonUnreachable)
	}
	return nil
}

// logger returns s.Logger, or a logger that drops everything.
func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// sourceOf is the target as connected to, for snapshots' manifests and the
// check that a snapshot goes back into its own database.
func sourceOf(db *dbaccess.Database) layout.Source {
	return layout.Source{Host: db.Host(), Port: int(db.Port())}
}
