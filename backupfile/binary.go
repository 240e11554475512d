package backupfile

// Reading a binary COPY file (layout.FormatPGCopy): the server's own
// snapshots, written by COPY ... TO STDOUT (FORMAT binary). The file has no
// header row: its columns and their source types are its manifest's
// (layout.FileEntry). Its records become the same fields a CSV file's
// would, so every caller reads both alike.

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// sourceType is how a binary file's column was written: its source
// column's type, by which its fields are decoded.
type sourceType int

const (
	srcText   sourceType = iota // text, character varying, name: the UTF-8 text
	srcJSON                     // json: its text
	srcJSONB                    // jsonb: a version byte (1), then its text
	srcUUID                     // uuid: 16 bytes
	srcVector                   // pgvector: int16 dimensions, int16 0, then big-endian float4s
)

// sourceTypeOf reads a type as format_type() prints it.
func sourceTypeOf(typ string) (sourceType, bool) {
	base, _, _ := strings.Cut(typ, "(") // "character varying(255)", "vector(1024)"
	if i := strings.LastIndexByte(base, '.'); i >= 0 && base[i+1:] == "vector" {
		base = "vector" // pgvector installed in a schema not on the path
	}
	switch base {
	case "text", "character varying", "name":
		return srcText, true
	case "json":
		return srcJSON, true
	case "jsonb":
		return srcJSONB, true
	case "uuid":
		return srcUUID, true
	case "vector":
		return srcVector, true
	}
	return 0, false
}

// Decodable reports whether a column of type typ (as format_type() prints
// it) can be written in binary COPY and read back by this package; a table
// with any other column is written as CSV.
func Decodable(typ string) bool {
	_, ok := sourceTypeOf(typ)
	return ok
}

// passes reports whether a field of source type src is already in the
// binary form a column of kind takes, so that it goes to COPY as it is.
func passes(src sourceType, kind Kind) bool {
	switch kind {
	case Plain:
		return src == srcText || src == srcJSON
	case JSON:
		return src == srcJSON
	case JSONB:
		return src == srcJSONB
	case UUID:
		return src == srcUUID
	case Vector:
		return src == srcVector
	}
	return false
}

// pgcopySignature starts every binary COPY file.
const pgcopySignature = "PGCOPY\n\xff\r\n\x00"

// FormatError is a binary file whose structure is broken: where the next
// record starts is unknown, so the file cannot be read past it.
type FormatError struct {
	Record int64 // the record it is in (0: the file's header)
	Reason string
}

func (e *FormatError) Error() string {
	if e.Record == 0 {
		return "header: " + e.Reason
	}
	return fmt.Sprintf("record %d: %s", e.Record, e.Reason)
}

// pgcopyReader frames a binary COPY stream into records, holding one at a
// time within the bounds of limits.go.
type pgcopyReader struct {
	r       *bufio.Reader
	off     int64 // bytes read
	record  int64 // records read, the trailer aside
	columns int
	buf     []byte
	ends    []int // where each field ends in buf; -1 for NULL
	fields  []csvstream.Field
	done    bool
}

func newPGCopyReader(src io.Reader, columns int) *pgcopyReader {
	return &pgcopyReader{r: bufio.NewReaderSize(src, 64<<10), columns: columns,
		ends: make([]int, columns), fields: make([]csvstream.Field, columns)}
}

// read fills p, or says how the file ended early.
func (d *pgcopyReader) read(p []byte, what string) error {
	n, err := io.ReadFull(d.r, p)
	d.off += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if d.record == 0 {
			return &FormatError{Reason: "the file ends inside its header: it is not a binary COPY file"}
		}
		return &FormatError{Record: d.record, Reason: "the file ends inside the record (" + what + "): it is cut short"}
	}
	return err // the store's failure, not the file's
}

// readHeader reads the signature, flags and header extension.
func (d *pgcopyReader) readHeader() error {
	var head [len(pgcopySignature) + 8]byte
	if err := d.read(head[:], "header"); err != nil {
		return err
	}
	if string(head[:len(pgcopySignature)]) != pgcopySignature {
		return &FormatError{Reason: "no binary COPY signature (PGCOPY\\n\\377\\r\\n\\0) at its start"}
	}
	flags := binary.BigEndian.Uint32(head[len(pgcopySignature):])
	if flags != 0 {
		// Bit 16 is OIDs in the rows; the others are reserved, and the
		// critical ones (16-31) a reader must refuse. COPY TO writes 0.
		return &FormatError{Reason: fmt.Sprintf("header flags are %#x; this server reads files with flags 0 (no OIDs)", flags)}
	}
	ext := int32(binary.BigEndian.Uint32(head[len(pgcopySignature)+4:]))
	if ext < 0 || ext > maxHeaderBytes {
		return &FormatError{Reason: fmt.Sprintf("header extension length %d is not between 0 and %d", ext, maxHeaderBytes)}
	}
	// Skipped, as the format asks of readers that do not know its content.
	n, err := io.CopyN(io.Discard, d.r, int64(ext))
	d.off += n
	if err == io.EOF {
		return &FormatError{Reason: "the file ends inside its header extension"}
	}
	return err
}

// Read returns the next record's fields in their binary form (NULL as
// csvstream's NULL, every other field Quoted), valid until the next call;
// io.EOF after the trailer, when nothing follows it.
func (d *pgcopyReader) Read() ([]csvstream.Field, error) {
	if d.done {
		return nil, io.EOF
	}
	var word [4]byte
	if err := d.read(word[:2], "field count"); err != nil {
		if fe := (*FormatError)(nil); errors.As(err, &fe) {
			fe.Record, fe.Reason = d.record+1, "the file ends without binary COPY's trailer: it is cut short"
		}
		return nil, err
	}
	d.record++
	count := int16(binary.BigEndian.Uint16(word[:2]))
	if count == -1 {
		d.record-- // the trailer is no record
		return nil, d.end()
	}
	if int(count) != d.columns {
		return nil, &FormatError{Record: d.record, Reason: fmt.Sprintf("record has %d fields, the manifest gives %d columns", count, d.columns)}
	}
	d.buf = d.buf[:0]
	for i := range d.columns {
		if err := d.read(word[:], "field length"); err != nil {
			return nil, err
		}
		n := int32(binary.BigEndian.Uint32(word[:]))
		switch {
		case n == -1:
			d.ends[i] = -1
			continue
		case n < 0:
			return nil, &FormatError{Record: d.record, Reason: fmt.Sprintf("field %d has length %d", i+1, n)}
		case n > MaxFieldBytes:
			return nil, &FormatError{Record: d.record, Reason: fmt.Sprintf("field %d is %d bytes, over the %d MiB limit for one field", i+1, n, MaxFieldBytes>>20)}
		case len(d.buf)+int(n) > MaxRecordBytes:
			return nil, &FormatError{Record: d.record, Reason: fmt.Sprintf("record is over the %d MiB limit for one row", MaxRecordBytes>>20)}
		}
		// Read in chunks, so that memory grows with the bytes the file
		// holds, not with the length a few bytes of it claim.
		for left := int(n); left > 0; {
			chunk, start := min(left, 64<<10), len(d.buf)
			d.buf = slices.Grow(d.buf, chunk)[:start+chunk]
			if err := d.read(d.buf[start:], "field data"); err != nil {
				return nil, err
			}
			left -= chunk
		}
		d.ends[i] = len(d.buf)
	}
	start := 0
	for i, end := range d.ends {
		if end < 0 {
			d.fields[i] = csvstream.Field{}
			continue
		}
		d.fields[i] = csvstream.Field{Value: d.buf[start:end:end], Quoted: true}
		start = end
	}
	return d.fields, nil
}

// end checks that the trailer ends the file.
func (d *pgcopyReader) end() error {
	d.done = true
	var b [1]byte
	n, err := d.r.Read(b[:])
	for n == 0 && err == nil {
		n, err = d.r.Read(b[:])
	}
	d.off += int64(n)
	switch {
	case n > 0:
		return &FormatError{Record: d.record, Reason: "bytes follow binary COPY's trailer after the last record"}
	case err == io.EOF:
		return io.EOF
	}
	return err
}

// openBinary reads a binary file's header; its columns and their types are
// its manifest entry's.
func (r *Reader) openBinary(entry layout.FileEntry, columns Columns) error {
	if len(entry.Columns) == 0 || len(entry.Columns) > maxHeaderColumns {
		return r.corrupt(fmt.Sprintf("the manifest gives %d columns; a table has 1 to %d", len(entry.Columns), maxHeaderColumns))
	}
	if len(entry.Types) != len(entry.Columns) {
		return r.corrupt(fmt.Sprintf("the manifest gives %d column types for %d columns", len(entry.Types), len(entry.Columns)))
	}
	r.types = make([]sourceType, len(entry.Types))
	for i, typ := range entry.Types {
		src, ok := sourceTypeOf(typ)
		if !ok {
			return r.corrupt(fmt.Sprintf("the manifest gives column %s the type %q, which this server cannot read in binary COPY", entry.Columns[i], typ))
		}
		r.types[i] = src
	}
	r.pg = newPGCopyReader(io.TeeReader(io.LimitReader(r.body, r.size), r.hash), len(entry.Columns))
	if err := r.pg.readHeader(); err != nil {
		return r.formatError(err)
	}
	if err := r.mapHeader(entry.Columns, columns); err != nil {
		return err
	}
	r.text = make([][]byte, len(entry.Columns))
	r.rawText = make([]csvstream.Field, len(entry.Columns))
	return nil
}

// nextBinary is Next for a binary file.
func (r *Reader) nextBinary() ([]csvstream.Field, error) {
	rec, err := r.pg.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.formatError(err)
	}
	r.records++
	r.raw, r.rawReady = rec, false
	line := int(r.pg.record)
	for i, f := range rec {
		r.fields[i] = f
		if f.IsNull() {
			continue
		}
		if err := r.prepareBinary(line, i, f.Value); err != nil {
			return nil, err
		}
	}
	return r.fields, nil
}

// prepareBinary makes field i (v, not NULL) of a binary file ready in
// r.fields: as it is when COPY takes it so, else through its text form
// and the CSV path's checks and conversions.
func (r *Reader) prepareBinary(line, i int, v []byte) error {
	src, kind := r.types[i], r.columns[i].Kind
	if r.binary && passes(src, kind) {
		reason := ""
		switch src {
		case srcText, srcJSON:
			if !utf8.Valid(v) {
				reason = "not valid UTF-8 text"
			}
		case srcJSONB:
			reason = checkJSONB(v)
		case srcUUID:
			if len(v) != 16 {
				reason = fmt.Sprintf("uuid field is %d bytes, not 16", len(v))
			}
		case srcVector:
			dim, why := checkBinaryVector(v)
			if why != "" {
				return r.rowError(line, i, why)
			}
			return r.noteDim(line, i, dim)
		}
		if reason != "" {
			return r.rowError(line, i, reason)
		}
		return nil
	}
	text, reason := appendText(r.text[i][:0], src, v)
	r.text[i] = text
	if reason != "" {
		return r.rowError(line, i, reason)
	}
	r.fields[i] = csvstream.Field{Value: text, Quoted: true}
	if !utf8.Valid(text) {
		return r.rowError(line, i, "not valid UTF-8 text")
	}
	_, err := r.prepare(line, i, text)
	return err
}

// rawBinary is Raw for a binary file: each field's text form, made when
// first asked for. A vector that Next passed on in binary form stays so:
// no caller keys rows by a vector, and printing one costs more than
// restoring it.
func (r *Reader) rawBinary() []csvstream.Field {
	if r.rawReady {
		return r.rawText
	}
	r.rawReady = true
	for i, f := range r.raw {
		switch {
		case f.IsNull():
			r.rawText[i] = f
		case !r.binary || !passes(r.types[i], r.columns[i].Kind):
			r.rawText[i] = csvstream.Field{Value: r.text[i], Quoted: true} // made by Next
		case r.types[i] == srcVector:
			r.rawText[i] = f
		default:
			text, _ := appendText(r.text[i][:0], r.types[i], f.Value) // checked by Next
			r.text[i] = text
			r.rawText[i] = csvstream.Field{Value: text, Quoted: true}
		}
	}
	return r.rawText
}

// appendText appends v's text form, as PostgreSQL's output function
// prints it (a vector as pgvector does: [1,2.5,-0], each float4 in its
// shortest form that reads back the same), or says why v is no value of
// src.
func appendText(dst []byte, src sourceType, v []byte) ([]byte, string) {
	switch src {
	case srcJSONB:
		if reason := checkJSONB(v); reason != "" {
			return dst, reason
		}
		return append(dst, v[1:]...), ""
	case srcUUID:
		if len(v) != 16 {
			return dst, fmt.Sprintf("uuid field is %d bytes, not 16", len(v))
		}
		dst = hex.AppendEncode(dst, v[:4])
		for _, part := range [][]byte{v[4:6], v[6:8], v[8:10], v[10:]} {
			dst = hex.AppendEncode(append(dst, '-'), part)
		}
		return dst, ""
	case srcVector:
		dim, reason := checkBinaryVector(v)
		if reason != "" {
			return dst, reason
		}
		dst = append(dst, '[')
		for i := range dim {
			if i > 0 {
				dst = append(dst, ',')
			}
			f := math.Float32frombits(binary.BigEndian.Uint32(v[4+4*i:]))
			dst = strconv.AppendFloat(dst, float64(f), 'g', -1, 32)
		}
		return append(dst, ']'), ""
	}
	return append(dst, v...), ""
}

// checkJSONB checks a jsonb field's version byte; its text is checked as
// text.
func checkJSONB(v []byte) string {
	if len(v) == 0 || v[0] != 1 {
		return "jsonb field does not start with version byte 1"
	}
	if !utf8.Valid(v[1:]) {
		return "not valid UTF-8 text"
	}
	return ""
}

// checkBinaryVector checks a vector in vector_send's form as vector_recv
// would, returning its dimension: a dimension field that agrees with the
// length, within pgvector's bounds, the unused field 0, finite elements.
func checkBinaryVector(v []byte) (int, string) {
	if len(v) < 4 {
		return 0, fmt.Sprintf("vector field is %d bytes, too short for its dimension", len(v))
	}
	dim := int(int16(binary.BigEndian.Uint16(v)))
	switch {
	case dim < 1 || dim > MaxVectorDims:
		return 0, fmt.Sprintf("vector has %d dimensions; pgvector's are 1 to %d", dim, MaxVectorDims)
	case binary.BigEndian.Uint16(v[2:]) != 0:
		return 0, "vector field's unused word is not 0"
	case len(v) != 4+4*dim:
		return 0, fmt.Sprintf("vector's dimension field says %d, but its %d bytes hold %d", dim, len(v), (len(v)-4)/4)
	}
	for i := range dim {
		if bits := binary.BigEndian.Uint32(v[4+4*i:]); bits&0x7f800000 == 0x7f800000 {
			return 0, fmt.Sprintf("vector element %d is not a finite number (no NaN or Infinity)", i+1)
		}
	}
	return dim, ""
}
