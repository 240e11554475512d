package restore

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/pgerr"
)

// stream adapts one backup file's records to COPY FROM STDIN (FORMAT csv):
// the io.Reader pgconn reads chunk by chunk, the way pgx's CopyFromSource
// adapters feed CopyFrom. It keeps the scope's rows, rewrites collection ids
// when they must point at live collections, and checks the file's
// expectation when it ends. Memory holds one record and one output chunk,
// whatever the file's size.
type stream struct {
	file   *backupfile.Reader
	table  *Table
	expect *backupfile.Expectation
	keep   func([]csvstream.Field) bool // rows to send; nil sends all
	remap  func([]csvstream.Field)      // rewrites a kept row in place; may be nil
	tap    func([]csvstream.Field)      // sees each row sent; may be nil
	onRead func(done, rows int64)       // progress; may be nil

	out []byte // converted records not yet handed to COPY
	off int    // how much of out COPY has taken
	eof bool

	// Read runs on pgconn's copy goroutine, which may still be running when
	// CopyFrom returns early on a broken connection; these are read after.
	mu        sync.Mutex
	rows      int64 // rows sent
	converted int64 // of those, rows whose legacy JSON was converted
	err       error // what Read failed with
}

// openStream opens table t's file in the set, mapping its header to t's
// columns.
func (j *job) openStream(t *Table) (*stream, error) {
	f, err := backupfile.Open(j.req.Set.Path(t.Name), t.Column)
	if err != nil {
		return nil, err
	}
	s := &stream{file: f, table: t, expect: j.expectation(t.Name)}
	s.keep, s.remap = j.scope.filterFor(t.Name, f.Header())
	return s, nil
}

// expectation merges what the manifest (or, for an old set, its folder's
// log) and the confirmation say the file is.
func (j *job) expectation(table string) *backupfile.Expectation {
	e := backupfile.Expect(j.req.Set, j.manifest, table)
	if j.req.Expect == nil {
		return e
	}
	sum, ok := j.req.Expect.Files[table]
	switch {
	case !ok:
		return e
	case e == nil:
		return &backupfile.Expectation{SHA256: sum, From: "confirmed plan"}
	case e.SHA256 == "":
		e.SHA256 = sum
	case e.SHA256 != sum:
		e.SHA256, e.From = sum, "confirmed plan"
	}
	return e
}

func (s *stream) Close() error { return s.file.Close() }

// copySQL is the COPY statement for this file into table (the target, or a
// staging table shaped like it): columns named by the header, so the table's
// column order does not matter.
func (s *stream) copySQL(table string) string {
	return fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT csv)", pgx.Identifier{table}.Sanitize(), columnList(s.file.Header()))
}

// Read hands COPY the next chunk of converted records.
func (s *stream) Read(p []byte) (int, error) {
	if s.off == len(s.out) {
		s.out, s.off = s.out[:0], 0
		if err := s.fill(len(p)); err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return 0, err
		}
		if len(s.out) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, s.out[s.off:])
	s.off += n
	return n, nil
}

// fill converts records into s.out until it holds at least want bytes or the
// file ends, when it checks the file's expectation.
func (s *stream) fill(want int) error {
	for !s.eof && len(s.out)-s.off < want {
		convertedBefore := s.file.Converted()
		rec, err := s.file.Next()
		if err == io.EOF {
			s.eof = true
			if err := s.expect.Check(s.file); err != nil {
				return err
			}
			break
		}
		if err != nil {
			return s.file.Corrupt(err)
		}
		if s.keep != nil && !s.keep(rec) {
			continue
		}
		if s.remap != nil {
			s.remap(rec)
		}
		if s.tap != nil {
			s.tap(rec)
		}
		s.mu.Lock()
		s.rows++
		s.converted += s.file.Converted() - convertedBefore
		s.mu.Unlock()
		s.out = csvstream.AppendRecord(s.out, rec)
	}
	if s.onRead != nil {
		s.onRead(s.file.Offset(), s.sent())
	}
	return nil
}

// drain reads the whole file without sending it, for a plan.
func (s *stream) drain(ctx context.Context) error {
	for !s.eof {
		if err := ctx.Err(); err != nil {
			return apierr.Wrap(apierr.Cancelled, err, "cancelled while reading %s; nothing was changed", s.file.Name())
		}
		s.out, s.off = s.out[:0], 0
		if err := s.fill(64 << 10); err != nil {
			return err
		}
	}
	return nil
}

func (s *stream) sent() int64 {
	rows, _ := s.counts()
	return rows
}

// counts is the rows sent and, of those, the rows whose legacy JSON was
// converted.
func (s *stream) counts() (rows, converted int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows, s.converted
}

// readErr is the error Read failed with, if any. COPY reports such a failure
// only as "COPY from stdin failed", so the caller asks here for the cause.
func (s *stream) readErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// copy streams one file into its table: straight in when a conflict must
// fail the restore, through a staging table when it is skipped or updated.
func (j *job) copy(ctx context.Context, tx pgx.Tx, s *stream) (TableResult, error) {
	start := time.Now()
	into := s.table.Name
	staged := j.req.OnConflict != OnConflictError
	if staged {
		into = "restore_stage"
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP",
			into, pgx.Identifier{s.table.Name}.Sanitize())); err != nil {
			return TableResult{}, fmt.Errorf("create staging table for %s: %w", s.table.Name, err)
		}
	}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, s, s.copySQL(into))
	if err != nil {
		if readErr := s.readErr(); readErr != nil {
			return TableResult{}, readErr
		}
		if pg, ok := pgerr.As(err); ok && pgerr.RowRejected(err) {
			return TableResult{}, rowRejected(pg, s.file, s.keep)
		}
		return TableResult{}, fmt.Errorf("copy %s into %s: %w", s.file.Name(), into, err)
	}
	sent, converted := s.counts()
	if tag.RowsAffected() != sent {
		return TableResult{}, fmt.Errorf("copy %s into %s: sent %d rows, server stored %d", s.file.Name(), into, sent, tag.RowsAffected())
	}
	written := sent
	if staged {
		if written, err = j.merge(ctx, tx, s, into); err != nil {
			return TableResult{}, err
		}
	}
	return TableResult{
		File:              s.file.Name(),
		FileBytes:         s.file.Size(),
		RowsRestored:      written,
		RowsSkipped:       sent - written,
		MetadataConverted: converted,
		Duration:          time.Since(start),
	}, nil
}

// merge moves staged rows into the table, skipping or updating rows whose
// key exists, and drops the stage. It returns the rows written.
func (j *job) merge(ctx context.Context, tx pgx.Tx, s *stream, stage string) (int64, error) {
	list := columnList(s.file.Header())
	conflict, err := j.onConflictClause(s)
	if err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s %s",
		pgx.Identifier{s.table.Name}.Sanitize(), list, list, stage, conflict))
	if err != nil {
		return 0, fmt.Errorf("merge staged rows into %s: %w", s.table.Name, err)
	}
	if _, err := tx.Exec(ctx, "DROP TABLE "+stage); err != nil {
		return 0, fmt.Errorf("drop staging table: %w", err)
	}
	return tag.RowsAffected(), nil
}

func (j *job) onConflictClause(s *stream) (string, error) {
	if j.req.OnConflict == OnConflictSkip {
		return "ON CONFLICT DO NOTHING", nil
	}
	key := s.table.PrimaryKey
	if len(key) == 0 {
		return "", apierr.New(apierr.SchemaMismatch, "table %s has no primary key, so on_conflict=update cannot tell which row a backup row replaces; use skip or error", s.table.Name).
			With("table", s.table.Name)
	}
	var sets []string
	for _, h := range s.file.Header() {
		if !slices.Contains(key, h) {
			id := pgx.Identifier{h}.Sanitize()
			sets = append(sets, id+" = EXCLUDED."+id)
		}
	}
	if len(sets) == 0 {
		return "ON CONFLICT DO NOTHING", nil
	}
	return fmt.Sprintf("ON CONFLICT (%s) DO UPDATE SET %s", columnList(key), strings.Join(sets, ", ")), nil
}

// columnList quotes names into "a", "b".
func columnList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(out, ", ")
}

// openStreams loads each selected table and opens its file, checking the
// header and first record against it before anything is written. configure,
// when set, sets each stream up (its tap) before that first record.
func (j *job) openStreams(ctx context.Context, q querier, configure func(*stream)) ([]*stream, error) {
	var streams []*stream
	for _, name := range j.tables {
		t, err := loadTable(ctx, q, name)
		if err != nil {
			return streams, err
		}
		s, err := j.openStream(t)
		if err != nil {
			return streams, err
		}
		streams = append(streams, s)
		if configure != nil {
			configure(s)
		}
		if err := s.fill(1); err != nil {
			return streams, err
		}
	}
	return streams, nil
}

func closeAll(streams []*stream) {
	for _, s := range streams {
		s.Close()
	}
}
