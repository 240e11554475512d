package restore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/legacyjson"
)

// rowReader reads a backup CSV record by record, making each ready for
// PostgreSQL: legacy Python dict text becomes JSON, vectors are checked, NULL
// (unquoted empty) stays apart from empty text. It hashes every byte it reads
// and, at the end, checks the file against what a manifest or a
// confirmation token promised. Restore stops at the first bad row; inspect
// notes it and reads on.
type rowReader struct {
	path string
	file *os.File
	size int64
	hash hash.Hash
	csv  *csvstream.Reader

	header []string
	kinds  []columnKind
	dims   []int // declared vector dimension per column, 0 when none

	fields  []csvstream.Field
	scratch [][]byte

	records   int64 // data records read, good or bad
	converted int64 // records with legacy JSON converted
	minDim    int
	maxDim    int

	expect *FileExpectation
}

// FileExpectation is what a file must be, from its manifest or the plan a
// confirmation token sealed. Zero fields are not checked.
type FileExpectation struct {
	Rows   int64
	Bytes  int64
	SHA256 string
	From   string // "manifest" or "confirmation", for messages
}

// MaxFieldBytes bounds one field of a backup file. Documents are SQL, DDL and
// prose; a larger field is refused rather than held in memory.
const MaxFieldBytes = 16 << 20

// rowError is a problem with one row (or field) of the file.
type rowError struct {
	Line   int
	Column string // empty for the whole row
	Reason string
}

func (e *rowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Reason)
}

// openRows opens path and reads its header. kindOf gives each header
// column's treatment and declared dimension; it returns an error for a column
// the target lacks.
func openRows(path string, kindOf func(col string) (columnKind, int, error)) (*rowReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, apierr.Wrap(apierr.ResourceNotFound, err, "cannot open backup file %s", filepath.Base(path))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	r := &rowReader{path: path, file: f, size: st.Size(), hash: sha256.New()}
	r.csv = csvstream.NewReader(io.TeeReader(f, r.hash))
	r.csv.MaxFieldBytes = MaxFieldBytes
	if err := r.readHeader(kindOf); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *rowReader) Close() error { return r.file.Close() }

func (r *rowReader) name() string { return filepath.Base(r.path) }

func (r *rowReader) readHeader(kindOf func(string) (columnKind, int, error)) error {
	rec, err := r.csv.Read()
	if err == io.EOF {
		return apierr.New(apierr.BackupCorrupt, "%s is empty: a backup file starts with a header row of column names", r.name()).
			With("file", r.name())
	}
	if err != nil {
		return r.parseError(err)
	}
	seen := make(map[string]bool, len(rec))
	for i, f := range rec {
		name := string(f.Value)
		switch {
		case name == "":
			return apierr.New(apierr.BackupCorrupt, "%s line 1: header column %d is empty", r.name(), i+1).
				With("file", r.name()).With("line", 1).With("column", i+1)
		case seen[name]:
			return apierr.New(apierr.BackupCorrupt, "%s line 1: header names column %q twice", r.name(), name).
				With("file", r.name()).With("line", 1).With("column", name)
		}
		kind, dim, err := kindOf(name)
		if err != nil {
			return err
		}
		seen[name] = true
		r.header = append(r.header, name)
		r.kinds = append(r.kinds, kind)
		r.dims = append(r.dims, dim)
	}
	r.fields = make([]csvstream.Field, len(r.header))
	r.scratch = make([][]byte, len(r.header))
	return nil
}

// next returns the next record made ready for COPY, valid until the next
// call. A *rowError means this row is bad and the reader can go on; any
// other error ends the file. At the end it returns io.EOF, after checking the
// expectation.
func (r *rowReader) next() ([]csvstream.Field, error) {
	rec, err := r.csv.Read()
	if err == io.EOF {
		if err := r.checkExpectation(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.parseError(err)
	}
	r.records++
	line := r.csv.Line()
	if len(rec) != len(r.header) {
		return nil, &rowError{Line: line, Reason: fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(r.header))}
	}
	converted := false
	for i, f := range rec {
		r.fields[i] = f
		if f.IsNull() {
			continue
		}
		// PostgreSQL would refuse the row too, but only inspect's own read
		// can name every such row.
		if !utf8.Valid(f.Value) {
			return nil, &rowError{Line: line, Column: r.header[i], Reason: "not valid UTF-8 text"}
		}
		switch r.kinds[i] {
		case kindJSON:
			out, conv, err := legacyjson.AppendConvert(r.scratch[i][:0], f.Value)
			if err != nil {
				return nil, &rowError{Line: line, Column: r.header[i], Reason: "neither JSON nor a Python dict: " + err.Error()}
			}
			r.scratch[i] = out
			r.fields[i] = csvstream.Field{Value: out, Quoted: true}
			converted = converted || conv
		case kindVector:
			if err := r.checkVector(line, i, f.Value); err != nil {
				return nil, err
			}
		}
	}
	if converted {
		r.converted++
	}
	return r.fields, nil
}

// checkVector checks a pgvector text value before the server sees it, so a
// bad one is reported with its file line, and a dimension that does not fit
// the table as a schema problem rather than a row problem.
func (r *rowReader) checkVector(line, col int, v []byte) error {
	dim, reason := vectorDimension(v)
	if reason != "" {
		return &rowError{Line: line, Column: r.header[col], Reason: reason}
	}
	if r.minDim == 0 || dim < r.minDim {
		r.minDim = dim
	}
	if dim > r.maxDim {
		r.maxDim = dim
	}
	if want := r.dims[col]; want > 0 && dim != want {
		if r.records == 1 {
			return apierr.New(apierr.SchemaMismatch,
				"%s line %d: vectors in the backup have %d dimensions, but the table's %s column has %d; restore into a table made for the same embedding model",
				r.name(), line, dim, r.header[col], want).
				With("file", r.name()).With("line", line).With("column", r.header[col]).
				With("backup_dimension", dim).With("table_dimension", want)
		}
		return &rowError{Line: line, Column: r.header[col], Reason: fmt.Sprintf("vector has %d dimensions, the table's column has %d", dim, want)}
	}
	return nil
}

// vectorDimension counts the elements of "[1,-2.5e-3,...]" and rejects what
// pgvector would reject: empty elements, NaN, infinities, junk, and numbers
// out of float4's range. Only elements with an exponent or many digits are
// parsed; the rest are checked by their characters, which is much cheaper.
func vectorDimension(v []byte) (int, string) {
	v = bytes.TrimSpace(v)
	if len(v) < 3 || v[0] != '[' || v[len(v)-1] != ']' {
		return 0, "vector must look like [0.1,-0.2,...]"
	}
	dim := 0
	for elem := range bytes.SplitSeq(v[1:len(v)-1], []byte{','}) {
		dim++
		if reason := checkElement(bytes.TrimSpace(elem)); reason != "" {
			return 0, fmt.Sprintf("vector element %d %s", dim, reason)
		}
	}
	return dim, ""
}

// checkElement checks one element's shape, [sign]digits[.digits][e[sign]digits],
// and parses it only when it could be out of float4's range.
func checkElement(e []byte) string {
	if len(e) == 0 {
		return "is empty"
	}
	i := skipSign(e, 0)
	intEnd := skipDigits(e, i)
	mantissa := intEnd - i
	i = intEnd
	if i < len(e) && e[i] == '.' {
		end := skipDigits(e, i+1)
		mantissa += end - i - 1
		i = end
	}
	if mantissa == 0 {
		return fmt.Sprintf("%q is not a number: only finite numbers are allowed (no NaN or Infinity)", e)
	}
	exponent := i < len(e) && (e[i] == 'e' || e[i] == 'E')
	if exponent {
		start := skipSign(e, i+1)
		if i = skipDigits(e, start); i == start {
			return fmt.Sprintf("%q is not a number", e)
		}
	}
	if i != len(e) {
		return fmt.Sprintf("%q is not a number: only finite numbers are allowed (no NaN or Infinity)", e)
	}
	if exponent || intEnd > 38 {
		if _, err := strconv.ParseFloat(string(e), 32); err != nil {
			return fmt.Sprintf("%q is out of range for a float4", e)
		}
	}
	return ""
}

func skipSign(e []byte, i int) int {
	if i < len(e) && (e[i] == '+' || e[i] == '-') {
		return i + 1
	}
	return i
}

func skipDigits(e []byte, i int) int {
	for i < len(e) && e[i] >= '0' && e[i] <= '9' {
		i++
	}
	return i
}

// sum is the SHA-256 of everything read so far: the whole file once next
// has returned io.EOF.
func (r *rowReader) sum() string { return hex.EncodeToString(r.hash.Sum(nil)) }

func (r *rowReader) checkExpectation() error {
	e := r.expect
	if e == nil {
		return nil
	}
	fail := func(what string, got, want any) error {
		return apierr.New(apierr.BackupCorrupt,
			"%s does not match its %s: %s is %v, expected %v; the file changed since it was written (or planned); nothing was restored",
			r.name(), e.From, what, got, want).
			With("file", r.name()).With("check", what)
	}
	switch {
	case e.Rows > 0 && r.records != e.Rows:
		return fail("row count", r.records, e.Rows)
	case e.Bytes > 0 && r.csv.Offset() != e.Bytes:
		return fail("size", r.csv.Offset(), e.Bytes)
	case e.SHA256 != "" && r.sum() != e.SHA256:
		return fail("SHA-256", r.sum(), e.SHA256)
	}
	return nil
}

// corrupt turns a row problem into the BACKUP_CORRUPT error that ends a
// restore.
func (r *rowReader) corrupt(err error) error {
	var re *rowError
	if !errors.As(err, &re) {
		return err
	}
	e := apierr.New(apierr.BackupCorrupt, "%s %s", r.name(), re.Error()).
		With("file", r.name()).With("line", re.Line).With("reason", re.Reason)
	if re.Column != "" {
		e.With("column", re.Column)
	}
	return e
}

func (r *rowReader) parseError(err error) error {
	var pe *csvstream.ParseError
	if errors.As(err, &pe) {
		return apierr.Wrap(apierr.BackupCorrupt, err, "%s: %v; the file is not valid CSV", r.name(), pe).
			With("file", r.name()).With("line", pe.Line)
	}
	return apierr.Wrap(apierr.BackupCorrupt, err, "read %s: %v", r.name(), err).With("file", r.name())
}

// fileLine maps a COPY error's line to the backup file's physical line.
// PostgreSQL counts the lines of the data it received: one per record plus
// one per LF inside quoted fields. The data sent differs from the file in row
// ends, header and filtered rows, so the file is reread, counting the same
// way over the records keep lets through. Only called on the error path.
func fileLine(path string, copyLine int64, keep func([]csvstream.Field) bool) (int, error) {
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
		if keep != nil && !keep(rec) {
			continue
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
