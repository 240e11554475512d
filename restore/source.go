package restore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/legacyjson"
)

// source streams one backup CSV into COPY FROM STDIN (FORMAT csv): it maps
// columns by the file's header, turns legacy Python dict text into JSON,
// checks vectors, and keeps NULL (unquoted empty) apart from empty text.
// Memory holds one record and one output chunk, whatever the file's size.
type source struct {
	path  string
	file  *os.File
	size  int64
	csv   *csvstream.Reader
	table *table

	header []string     // CSV column names, in file order
	kinds  []columnKind // per header column
	dims   []int        // per header column: declared vector dimension or 0

	out     []byte            // converted records not yet handed to COPY
	off     int               // how much of out COPY has taken
	fields  []csvstream.Field // converted record, reused
	scratch [][]byte          // per header column: converted JSON, reused
	eof     bool              // the CSV reader is exhausted
	onRead  func(done, rows int64)

	// Read runs on pgconn's copy goroutine, which may still be running when
	// CopyFrom returns early on a broken connection; these are read after.
	mu        sync.Mutex
	rows      int64
	converted int64
	err       error
}

// openSource opens path, reads its header and first record, and checks both
// against t, so that a file that cannot fit is refused before anything is
// written.
func openSource(path string, t *table) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, apierr.Wrap(apierr.ResourceNotFound, err, "cannot open backup file %s", filepath.Base(path))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	s := &source{path: path, file: f, size: st.Size(), csv: csvstream.NewReader(f), table: t}
	if err := s.readHeader(); err != nil {
		f.Close()
		return nil, err
	}
	// Convert the first record now: a wrong vector dimension or unreadable
	// JSON shows before the tables are touched.
	if err := s.fill(1); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *source) Close() error { return s.file.Close() }

func (s *source) name() string { return filepath.Base(s.path) }

func (s *source) readHeader() error {
	rec, err := s.csv.Read()
	if err == io.EOF {
		return apierr.New(apierr.BackupCorrupt, "%s is empty: a backup file starts with a header row of column names", s.name()).
			With("file", s.name())
	}
	if err != nil {
		return s.parseError(err)
	}
	seen := make(map[string]bool, len(rec))
	for i, f := range rec {
		name := string(f.Value)
		c, ok := s.table.Columns[name]
		switch {
		case name == "":
			return apierr.New(apierr.BackupCorrupt, "%s line 1: header column %d is empty", s.name(), i+1).
				With("file", s.name()).With("line", 1).With("column", i+1)
		case seen[name]:
			return apierr.New(apierr.BackupCorrupt, "%s line 1: header names column %q twice", s.name(), name).
				With("file", s.name()).With("line", 1).With("column", name)
		case !ok:
			return apierr.New(apierr.SchemaMismatch,
				"%s has column %q, which table %s lacks (it has: %s); restore into a database whose tables match the backup, or add the column",
				s.name(), name, s.table.Name, strings.Join(s.table.Order, ", ")).
				With("file", s.name()).With("table", s.table.Name).With("column", name)
		}
		seen[name] = true
		s.header = append(s.header, name)
		s.kinds = append(s.kinds, c.Kind)
		s.dims = append(s.dims, c.Dimension)
	}
	s.fields = make([]csvstream.Field, len(s.header))
	s.scratch = make([][]byte, len(s.header))
	return nil
}

// copySQL is the COPY statement for this file: columns named by the header,
// so the table's column order does not matter.
func (s *source) copySQL() string {
	cols := make([]string, len(s.header))
	for i, h := range s.header {
		cols[i] = pgx.Identifier{h}.Sanitize()
	}
	return fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT csv)",
		pgx.Identifier{s.table.Name}.Sanitize(), strings.Join(cols, ", "))
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
	for !s.eof && len(s.out)-s.off < want {
		rec, err := s.csv.Read()
		if err == io.EOF {
			s.eof = true
			break
		}
		if err != nil {
			return s.parseError(err)
		}
		if err := s.convert(rec); err != nil {
			return err
		}
		s.out = csvstream.AppendRecord(s.out, s.fields)
	}
	if s.onRead != nil {
		s.onRead(s.csv.Offset(), s.rowCount())
	}
	return nil
}

// convert fills s.fields with rec made ready for COPY.
func (s *source) convert(rec []csvstream.Field) error {
	line := s.csv.Line()
	if len(rec) != len(s.header) {
		return s.rowError(line, -1, fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(s.header)))
	}
	converted := false
	for i, f := range rec {
		s.fields[i] = f
		if f.IsNull() {
			continue
		}
		switch s.kinds[i] {
		case kindJSON:
			out, conv, err := legacyjson.AppendConvert(s.scratch[i][:0], f.Value)
			if err != nil {
				return s.rowError(line, i, "neither JSON nor a Python dict: "+err.Error())
			}
			s.scratch[i] = out
			s.fields[i] = csvstream.Field{Value: out, Quoted: true}
			converted = converted || conv
		case kindVector:
			if err := s.checkVector(line, i, f.Value); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	s.rows++
	if converted {
		s.converted++
	}
	s.mu.Unlock()
	return nil
}

// checkVector checks a pgvector text value before the server sees it, so
// that a bad one is reported with its file line, and a dimension that does
// not fit the table as a schema problem rather than a row problem.
func (s *source) checkVector(line, col int, v []byte) error {
	dim, reason := vectorDimension(v)
	if reason != "" {
		return s.rowError(line, col, reason)
	}
	if want := s.dims[col]; want > 0 && dim != want {
		if s.rowCount() == 0 {
			return apierr.New(apierr.SchemaMismatch,
				"%s line %d: vectors in the backup have %d dimensions, but %s.%s is %s; restore into a table made for the same embedding model",
				s.name(), line, dim, s.table.Name, s.header[col], s.table.Columns[s.header[col]].Type).
				With("file", s.name()).With("line", line).With("column", s.header[col]).
				With("backup_dimension", dim).With("table_dimension", want)
		}
		return s.rowError(line, col, fmt.Sprintf("vector has %d dimensions, the table's column has %d", dim, want))
	}
	return nil
}

// vectorDimension counts the elements of "[1,-2.5e-3,...]" and rejects what
// pgvector would reject (NaN, infinities, junk) or what it would take with a
// different meaning.
func vectorDimension(v []byte) (int, string) {
	v = bytes.TrimSpace(v)
	if len(v) < 3 || v[0] != '[' || v[len(v)-1] != ']' {
		return 0, "vector must look like [0.1,-0.2,...]"
	}
	dim := 1
	for _, c := range v[1 : len(v)-1] {
		switch {
		case c == ',':
			dim++
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E', c == ' ':
		default:
			return 0, fmt.Sprintf("vector holds %q: only finite numbers are allowed (no NaN or Infinity)", c)
		}
	}
	return dim, ""
}

func (s *source) rowCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

func (s *source) counts() (rows, converted int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows, s.converted
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

// rowError is BACKUP_CORRUPT for one field (col indexes the header) or, with
// col < 0, for a whole row.
func (s *source) rowError(line, col int, reason string) error {
	where := fmt.Sprintf("%s line %d", s.name(), line)
	e := apierr.New(apierr.BackupCorrupt, "").
		With("file", s.name()).With("line", line).With("reason", reason)
	if col >= 0 {
		where += ", column " + s.header[col]
		e.With("column", s.header[col])
	}
	e.Message = where + ": " + reason
	return e
}

func (s *source) parseError(err error) error {
	var pe *csvstream.ParseError
	if errors.As(err, &pe) {
		return apierr.Wrap(apierr.BackupCorrupt, err, "%s: %v; the file is not valid CSV", s.name(), pe).
			With("file", s.name()).With("line", pe.Line)
	}
	return apierr.Wrap(apierr.BackupCorrupt, err, "read %s: %v", s.name(), err).With("file", s.name())
}

// fileLine maps a COPY error's line to the backup file's physical line.
// PostgreSQL counts the lines of the data it received: one per record plus
// one per LF inside quoted fields. The data sent differs from the file in row
// ends and header, so the file is reread, counting the same way, to find the
// record. Only called on the error path.
func fileLine(path string, copyLine int64) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csvstream.NewReader(f)
	if _, err := r.Read(); err != nil { // header
		return 0, err
	}
	start := int64(1)
	for {
		rec, err := r.Read()
		if err != nil {
			return 0, err
		}
		end := start
		for _, fld := range rec {
			end += int64(bytes.Count(fld.Value, []byte{'\n'}))
		}
		if copyLine <= end {
			return r.Line(), nil
		}
		start = end + 1
	}
}
