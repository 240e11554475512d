package csvstream

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Writer writes records for COPY ... FROM (FORMAT csv): LF row ends, NULL as
// an empty unquoted field, empty text as "".
//
// A record of exactly one NULL field is written as an empty line. COPY reads
// that back as NULL, but Reader, like Python's csv module, skips it as blank.
type Writer struct {
	w   *bufio.Writer
	buf []byte // reused record buffer, so steady-state writes do not allocate
}

// NewWriter returns a Writer that buffers its output; call Flush at the end.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, bufferSize)}
}

// Write writes one record. It refuses a value containing a NUL byte, because
// neither PostgreSQL nor Reader would accept the file later; failing at backup
// time is better than at restore time.
func (w *Writer) Write(fields []Field) error {
	for i, f := range fields {
		if bytes.IndexByte(f.Value, 0) >= 0 {
			return fmt.Errorf("csvstream: field %d: %w", i+1, ErrNUL)
		}
	}
	w.buf = AppendRecord(w.buf[:0], fields)
	_, err := w.w.Write(w.buf)
	return err
}

// Flush writes buffered records to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

// AppendRecord appends fields as one CSV record, ending in LF, to dst and
// returns the extended buffer. It does not check for NUL bytes.
func AppendRecord(dst []byte, fields []Field) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendField(dst, f)
	}
	return append(dst, '\n')
}

func appendField(dst []byte, f Field) []byte {
	v := f.Value
	switch {
	case len(v) == 0 && f.Quoted:
		return append(dst, `""`...)
	case !needsQuotes(v):
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		dst = append(dst, v[:i+1]...)
		dst = append(dst, '"')
		v = v[i+1:]
	}
	dst = append(dst, v...)
	return append(dst, '"')
}

// needsQuotes reports whether v must be quoted to read back unchanged.
// Leading and trailing spaces are kept by COPY, so they need no quotes. A lone
// \. would end COPY's input early, and a leading byte order mark would be
// stripped by Reader if the value opened the file.
func needsQuotes(v []byte) bool {
	return bytes.ContainsAny(v, ",\"\r\n") ||
		string(v) == `\.` ||
		bytes.HasPrefix(v, bom)
}
