package restore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
)

// source streams one backup CSV into COPY FROM STDIN (FORMAT csv), as an
// io.Reader that pgconn reads chunk by chunk. Memory holds one record and one
// output chunk, whatever the file's size.
type source struct {
	*rowReader
	ctx   context.Context // stops a plan's read-through, which has no COPY to cancel
	table *table
	keep  func([]csvstream.Field) bool // rows to send; nil sends all
	remap func([]csvstream.Field)      // rewrites a kept row in place; may be nil
	tap   func([]csvstream.Field)      // sees each row sent; may be nil

	out    []byte // converted records not yet handed to COPY
	off    int    // how much of out COPY has taken
	eof    bool
	onRead func(done, rows int64)

	// Read runs on pgconn's copy goroutine, which may still be running when
	// CopyFrom returns early on a broken connection; these are read after.
	mu        sync.Mutex
	rows      int64 // rows sent
	filtered  int64 // rows left out by keep
	converted int64
	err       error
}

// openSource opens path for table t, reading its header. The caller then
// calls preflight.
func openSource(ctx context.Context, path string, t *table, expect *FileExpectation, sc scope) (*source, error) {
	rr, err := openRows(path, t.kindOf)
	if err != nil {
		return nil, err
	}
	rr.expect = expect
	s := &source{rowReader: rr, ctx: ctx, table: t}
	s.keep, s.remap = sc.filterFor(t.Name, rr.header)
	return s, nil
}

// preflight converts the first record, so that a file that cannot fit is
// refused before anything is written. Hooks (tap) must be set before.
func (s *source) preflight() error { return s.fill(1) }

// kindOf is the treatment of a CSV column headed col, or SCHEMA_MISMATCH
// when the table lacks it.
func (t *table) kindOf(col string) (columnKind, int, error) {
	c, ok := t.Columns[col]
	if !ok {
		return 0, 0, apierr.New(apierr.SchemaMismatch,
			"the backup has column %q, which table %s lacks (it has: %s); restore into a database whose tables match the backup, or add the column",
			col, t.Name, strings.Join(t.Order, ", ")).
			With("table", t.Name).With("column", col)
	}
	return c.Kind, c.Dimension, nil
}

// copySQL is the COPY statement for this file into table (the target, or a
// staging table shaped like it): columns named by the header, so the table's
// column order does not matter.
func (s *source) copySQL(table string) string {
	cols := make([]string, len(s.header))
	for i, h := range s.header {
		cols[i] = pgx.Identifier{h}.Sanitize()
	}
	return fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT csv)",
		pgx.Identifier{table}.Sanitize(), strings.Join(cols, ", "))
}

// Read hands COPY the next chunk of converted records.
func (s *source) Read(p []byte) (int, error) {
	if s.off == len(s.out) {
		s.out, s.off = s.out[:0], 0
		if err := s.fill(len(p)); err != nil {
			s.setErr(err)
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
// file ends.
func (s *source) fill(want int) error {
	if err := s.ctx.Err(); err != nil {
		return apierr.Wrap(apierr.Cancelled, err, "cancelled while reading %s; nothing was changed", s.name())
	}
	for !s.eof && len(s.out)-s.off < want {
		rec, err := s.next()
		if err == io.EOF {
			s.eof = true
			break
		}
		if err != nil {
			return s.corrupt(err)
		}
		s.mu.Lock()
		if s.keep != nil && !s.keep(rec) {
			s.filtered++
			s.mu.Unlock()
			continue
		}
		s.rows++
		s.converted = s.rowReader.converted
		s.mu.Unlock()
		if s.remap != nil {
			s.remap(rec)
		}
		if s.tap != nil {
			s.tap(rec)
		}
		s.out = csvstream.AppendRecord(s.out, rec)
	}
	if s.onRead != nil {
		s.onRead(s.csv.Offset(), s.sent())
	}
	return nil
}

func (s *source) sent() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

// counts returns the rows sent, the rows left out by the filter, and the
// records whose legacy JSON was converted.
func (s *source) counts() (rows, filtered, converted int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows, s.filtered, s.converted
}

func (s *source) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// readErr is the error Read failed with, if any. COPY reports such a failure
// only as "COPY from stdin failed", so the caller asks here for the cause.
func (s *source) readErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
