// Package backupfile reads one backup file (CSV, or the binary COPY of the
// server's snapshots) and yields its records checked and ready for COPY:
// columns mapped by the header to the target's, legacy Python dict metadata
// converted to JSON, vectors checked, NULL (unquoted empty) kept apart from
// empty text, every byte hashed, and each record's physical line (in a
// binary file, its number) known. Memory holds one record, whatever the
// file's size.
//
// A bad row is reported and the reader goes on: inspect counts them, a
// restore stops at the first. What the file must turn out to be (from its
// manifest, its folder's log or a confirmed plan) is checked by the caller
// when the file ends, with Expectation.Check.
package backupfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"unicode/utf8"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/legacyjson"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// Kind is how a column's text is treated on its way in.
type Kind int

const (
	Plain  Kind = iota // text, varchar: as it is, in either COPY format
	JSON               // json: legacy Python dict text is converted
	JSONB              // jsonb: as JSON; in binary, after a version byte
	Vector             // pgvector: checked, its dimension against the column's
	UUID               // uuid: as it is; in binary, checked and 16 bytes
	Opaque             // any other type: as it is, in text COPY only
)

// Column is the treatment of one header column.
type Column struct {
	Kind      Kind
	Dimension int // a vector column's declared dimension; 0: any
}

// Columns says how each header column is treated. Its error refuses the
// file (a column the target lacks is SCHEMA_MISMATCH).
type Columns func(name string) (Column, error)

// AllText reads every column as plain text, for files read only for their
// keys and names.
func AllText(string) (Column, error) { return Column{}, nil }

// RowError is a problem with one row (or field) of the file: the reader can
// go on past it.
type RowError struct {
	Line   int    // physical line, the header being line 1; in a binary file the record's number, from 1
	Column string // empty for the whole row
	Reason string
	Binary bool // Line numbers the records of a binary COPY file, which has no lines
}

// Where is the row's place in the file: "line 3", or "record 3" in a
// binary file.
func (e *RowError) Where() string {
	if e.Binary {
		return fmt.Sprintf("record %d", e.Line)
	}
	return fmt.Sprintf("line %d", e.Line)
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("%s: %s", e.Where(), e.Reason)
	}
	return fmt.Sprintf("%s, column %s: %s", e.Where(), e.Column, e.Reason)
}

// Reader reads one backup file record by record. By default it yields
// records for COPY FROM (FORMAT csv), in text form whatever the file's
// format; after EncodeBinary, each field is in the binary form of its
// column's type, for COPY FROM (FORMAT binary).
type Reader struct {
	name string
	src  store.Object
	body io.ReadCloser
	size int64
	hash hash.Hash
	csv  *csvstream.Reader // a CSV file's; nil for a binary one
	pg   *pgcopyReader     // a binary file's; nil for a CSV one

	types    []sourceType      // a binary file's columns' source types
	text     [][]byte          // a binary file's fields in text form
	rawText  []csvstream.Field // Raw of a binary file
	rawReady bool

	header  []string
	columns []Column
	binary  bool

	raw     []csvstream.Field // the record as read
	fields  []csvstream.Field // the record made ready
	scratch [][]byte

	records   int64 // data records read, good or bad
	converted int64 // records whose legacy JSON was converted
	minDim    int
	maxDim    int
}

// Described is a file that knows its manifest entry (catalog.DataFile):
// the format it was written in and, for binary COPY, the column types it is
// read by.
type Described interface {
	Entry() layout.FileEntry
}

// Open reads src from its start and reads its header, mapping each column
// through columns. src stays the caller's: it was opened safely (see
// catalog.Files) and may be read again by another Reader, each through a
// stream of its own. The Reader reads the bytes the file had when it was
// opened, no more. Close it.
//
// A file is read as its manifest entry says (when src is Described), else
// as CSV; a binary COPY file (its name ends .pgcopy) cannot be read without
// its entry, which holds its columns and their types.
func Open(ctx context.Context, src store.Object, columns Columns) (*Reader, error) {
	r := &Reader{name: path.Base(src.Key()), src: src, size: src.Size(), hash: sha256.New()}
	format := layout.DataFormat(r.name)
	var entry layout.FileEntry
	if d, ok := src.(Described); ok {
		entry = d.Entry()
		format = entry.FileFormat()
	} else if format == layout.FormatPGCopy {
		return nil, r.corrupt("it is binary COPY, and no manifest gives its columns and their types")
	}
	body, err := src.NewReader(ctx, 0)
	if err != nil {
		return nil, err
	}
	r.body = body
	if format == layout.FormatPGCopy {
		err = r.openBinary(entry, columns)
	} else {
		r.csv = csvstream.NewReader(io.TeeReader(io.LimitReader(body, r.size), r.hash))
		r.csv.MaxFieldBytes = MaxFieldBytes
		err = r.readHeader(columns)
	}
	if err != nil {
		body.Close()
		return nil, err
	}
	return r, nil
}

// Format is the file's format: layout.FormatCSV or layout.FormatPGCopy.
func (r *Reader) Format() string {
	if r.pg != nil {
		return layout.FormatPGCopy
	}
	return layout.FormatCSV
}

// corrupt is BACKUP_CORRUPT for the file as a whole.
func (r *Reader) corrupt(reason string) error {
	return apierr.New(apierr.BackupCorrupt, "%s cannot be read: %s", r.Name(), reason).
		With("file", r.Name()).With("reason", reason)
}

// formatError is BACKUP_CORRUPT for a binary file whose structure is
// broken, naming the record; a store's failure passes as it is.
func (r *Reader) formatError(err error) error {
	var fe *FormatError
	if !errors.As(err, &fe) {
		return r.parseError(err)
	}
	e := apierr.New(apierr.BackupCorrupt, "%s %v; the file is not valid binary COPY and cannot be read past this point", r.Name(), fe).
		With("file", r.Name()).With("reason", fe.Reason)
	if fe.Record > 0 {
		e.With("record", fe.Record)
	}
	return e
}

// Close ends the Reader's stream.
func (r *Reader) Close() error { return r.body.Close() }

// Name is the file's name.
func (r *Reader) Name() string { return r.name }

// Source is the file the Reader reads, for a second pass over it.
func (r *Reader) Source() store.Object { return r.src }

// Size is the file's size when opened.
func (r *Reader) Size() int64 { return r.size }

// Header is the file's column names, in file order.
func (r *Reader) Header() []string { return r.header }

// Offset is how many bytes were read so far.
func (r *Reader) Offset() int64 {
	if r.pg != nil {
		return r.pg.off
	}
	return r.csv.Offset()
}

// Records is how many data records were read, good or bad.
func (r *Reader) Records() int64 { return r.records }

// Converted is how many records had legacy JSON converted.
func (r *Reader) Converted() int64 { return r.converted }

// Dimensions is the smallest and largest vector dimension seen (0, 0: none).
func (r *Reader) Dimensions() (min, max int) { return r.minDim, r.maxDim }

// Sum is the SHA-256 of everything read so far: the whole file once Next
// has returned io.EOF.
func (r *Reader) Sum() string { return hex.EncodeToString(r.hash.Sum(nil)) }

func (r *Reader) readHeader(columns Columns) error {
	r.csv.MaxFields, r.csv.MaxFieldBytes, r.csv.MaxRecordBytes = maxHeaderColumns, maxHeaderBytes, maxHeaderBytes
	rec, err := r.csv.Read()
	if err == io.EOF {
		return apierr.New(apierr.BackupCorrupt, "%s is empty: a backup file starts with a header row of column names", r.Name()).
			With("file", r.Name())
	}
	if err != nil {
		return r.headerError(err)
	}
	names := make([]string, len(rec))
	for i, f := range rec {
		names[i] = string(f.Value)
	}
	if err := r.mapHeader(names, columns); err != nil {
		return err
	}
	// From here on a row is bounded by what the header says: a field beyond
	// its columns is refused before it is read, not after the whole row is
	// held in memory.
	r.csv.MaxFields, r.csv.MaxFieldBytes, r.csv.MaxRecordBytes = len(r.header), MaxFieldBytes, MaxRecordBytes
	return nil
}

// mapHeader maps the file's column names (a CSV file's header row, a binary
// file's manifest columns) through columns.
func (r *Reader) mapHeader(names []string, columns Columns) error {
	where := "line 1: header"
	if r.pg != nil {
		where = "manifest: its column list"
	}
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		switch {
		case name == "":
			return apierr.New(apierr.BackupCorrupt, "%s %s column %d is empty", r.Name(), where, i+1).
				With("file", r.Name()).With("line", 1).With("column", i+1)
		case seen[name]:
			return apierr.New(apierr.BackupCorrupt, "%s %s names column %q twice", r.Name(), where, name).
				With("file", r.Name()).With("line", 1).With("column", name)
		}
		c, err := columns(name)
		if err != nil {
			return err
		}
		seen[name] = true
		r.header = append(r.header, name)
		r.columns = append(r.columns, c)
	}
	r.fields = make([]csvstream.Field, len(r.header))
	r.scratch = make([][]byte, len(r.header))
	return nil
}

// CanEncodeBinary reports whether every column's type has a binary form
// this reader writes.
func (r *Reader) CanEncodeBinary() bool {
	for _, c := range r.columns {
		if c.Kind == Opaque {
			return false
		}
	}
	return true
}

// EncodeBinary makes Next yield each field in the binary form of its
// column's type. Call it before the first Next, when CanEncodeBinary.
func (r *Reader) EncodeBinary() { r.binary = true }

// Next returns the next record made ready for COPY, valid until the next
// call. A *RowError means this row is bad and the reader can go on; any
// other error ends the file; io.EOF is its end.
func (r *Reader) Next() ([]csvstream.Field, error) {
	if r.pg != nil {
		return r.nextBinary()
	}
	rec, err := r.csv.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.parseError(err)
	}
	r.records++
	r.raw = rec
	line := r.csv.Line()
	if len(rec) != len(r.header) {
		return nil, &RowError{Line: line, Reason: fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(r.header))}
	}
	converted := false
	for i, f := range rec {
		r.fields[i] = f
		if f.IsNull() {
			continue
		}
		// PostgreSQL would refuse the row too, but only this reader can
		// name every such row with its line.
		if !utf8.Valid(f.Value) {
			return nil, r.rowError(line, i, "not valid UTF-8 text")
		}
		conv, err := r.prepare(line, i, f.Value)
		if err != nil {
			return nil, err
		}
		converted = converted || conv
	}
	if converted {
		r.converted++
	}
	return r.fields, nil
}

// Raw is the last record Next read as it is in the file, valid until the
// next call; a binary file's in text form (see rawBinary).
func (r *Reader) Raw() []csvstream.Field {
	if r.pg != nil {
		return r.rawBinary()
	}
	return r.raw
}

// prepare makes field i (v, not NULL) ready in r.fields, reporting whether
// legacy JSON was converted.
func (r *Reader) prepare(line, i int, v []byte) (converted bool, err error) {
	kind := r.columns[i].Kind
	switch {
	case kind == JSON || kind == JSONB:
		out := r.scratch[i][:0]
		if r.binary && kind == JSONB {
			out = append(out, 1) // jsonb's binary format version
		}
		out, converted, err = legacyjson.AppendConvert(out, v)
		if err != nil {
			return false, r.rowError(line, i, jsonReason(err))
		}
		r.ready(i, out)
	case kind == Vector:
		out, err := r.checkVector(line, i, v)
		if err != nil {
			return false, err
		}
		if r.binary {
			r.ready(i, out)
		}
	case kind == UUID && r.binary:
		out, ok := AppendUUID(r.scratch[i][:0], v)
		if !ok {
			return false, r.rowError(line, i, fmt.Sprintf("%q is not a uuid", v))
		}
		r.ready(i, out)
	}
	return converted, nil
}

// ready sets field i to out, kept (as scratch) for the next record.
func (r *Reader) ready(i int, out []byte) {
	r.scratch[i] = out
	r.fields[i] = csvstream.Field{Value: out, Quoted: true}
}

// Line is the physical line of the last record Next read; in a binary
// file, its number.
func (r *Reader) Line() int {
	if r.pg != nil {
		return int(r.pg.record)
	}
	return r.csv.Line()
}

// rowError is a problem with field col of the record at line.
func (r *Reader) rowError(line, col int, reason string) *RowError {
	return &RowError{Line: line, Column: r.header[col], Reason: reason, Binary: r.pg != nil}
}

// checkVector checks a pgvector text value before the server sees it, so a
// bad one is reported with its file line, and a dimension that does not fit
// the table as a schema problem rather than a row problem. In binary mode
// it returns the value encoded.
func (r *Reader) checkVector(line, col int, v []byte) ([]byte, error) {
	out, dim, reason := parseVector(r.scratch[col][:0], v, r.binary)
	if reason != "" {
		return nil, r.rowError(line, col, reason)
	}
	return out, r.noteDim(line, col, dim)
}

// noteDim counts a vector's dimension among those seen and checks it
// against its column's: the first record's mismatch is the table's
// (SCHEMA_MISMATCH), a later one the row's.
func (r *Reader) noteDim(line, col, dim int) error {
	if r.minDim == 0 || dim < r.minDim {
		r.minDim = dim
	}
	if dim > r.maxDim {
		r.maxDim = dim
	}
	if want := r.columns[col].Dimension; want > 0 && dim != want {
		if r.records == 1 {
			unit := "line"
			if r.pg != nil {
				unit = "record" // a binary file has no lines
			}
			return apierr.New(apierr.SchemaMismatch,
				"%s %s %d: vectors in the backup have %d dimensions, but the table's %s column has %d; restore into a table made for the same embedding model",
				r.Name(), unit, line, dim, r.header[col], want).
				With("file", r.Name()).With(unit, line).With("column", r.header[col]).
				With("backup_dimension", dim).With("table_dimension", want)
		}
		return r.rowError(line, col, fmt.Sprintf("vector has %d dimensions, the table's column has %d", dim, want))
	}
	return nil
}

// Corrupt turns a row problem into the BACKUP_CORRUPT error that ends a
// restore; other errors pass as they are.
func (r *Reader) Corrupt(err error) error {
	var re *RowError
	if !errors.As(err, &re) {
		return err
	}
	unit := "line"
	if re.Binary {
		unit = "record"
	}
	e := apierr.New(apierr.BackupCorrupt, "%s %s", r.Name(), re.Error()).
		With("file", r.Name()).With(unit, re.Line).With("reason", re.Reason)
	if re.Column != "" {
		e.With("column", re.Column)
	}
	return e
}

func (r *Reader) parseError(err error) error {
	var pe *csvstream.ParseError
	if errors.As(err, &pe) {
		if e := r.overLimit(pe); e != nil {
			return e
		}
		return apierr.Wrap(apierr.BackupCorrupt, err, "%s: %v; the file is not valid CSV", r.Name(), pe).
			With("file", r.Name()).With("line", pe.Line)
	}
	if e, ok := apierr.As(err); ok {
		return e // the store failed (a bucket that died, a cancel), not the file
	}
	return apierr.Wrap(apierr.BackupCorrupt, err, "read %s: %v", r.Name(), err).With("file", r.Name())
}
