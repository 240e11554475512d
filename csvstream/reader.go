package csvstream

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
)

const (
	bufferSize            = 64 << 10
	defaultMaxFieldBytes  = 64 << 20
	defaultMaxRecordBytes = 64 << 20
	defaultMaxFields      = 4096
)

var bom = []byte("\xef\xbb\xbf")

// unquotedStops marks the bytes that end or reject an unquoted field.
var unquotedStops = [256]bool{',': true, '"': true, '\r': true, '\n': true, 0: true}

// Reader reads CSV records from a stream. It is not safe for concurrent use.
//
// Reader holds one record in memory, so its limits bound its memory under
// any input: about MaxRecordBytes, plus the buffer. Each limit applies from
// the next Read on, so a caller can read a header under tight limits and
// then bound the data records by what the header says.
type Reader struct {
	// MaxFieldBytes bounds the unescaped length of a field, so that a
	// corrupt file (say, a lost closing quote) cannot make Reader buffer the
	// rest of the input. Zero or less means the default, 64 MiB.
	MaxFieldBytes int
	// MaxRecordBytes bounds the unescaped length of a whole record, the sum
	// of its fields' lengths: many fields each under MaxFieldBytes must not
	// add up to more memory than one record may take. Zero or less means the
	// default, 64 MiB.
	MaxRecordBytes int
	// MaxFields bounds the number of fields in a record. Reading stops at
	// the first field beyond it, before that field's value is read. Zero or
	// less means the default, 4096.
	MaxFields int

	br        *bufio.Reader
	offset    int64
	line      int // physical line of the next unread byte
	recLine   int // line on which the current record starts
	fieldLine int // line on which the current field starts
	started   bool
	err       error // sticky: after a failure the stream position is unknown

	// The current record: all values back to back in buf, ends[i] closing
	// field i. Fields are sliced out only once the record is complete,
	// because appending to buf may move it.
	buf    []byte
	ends   []fieldEnd
	fields []Field

	// The current record's limits, and for the field being read, where its
	// value starts in buf and how far buf may grow before the field or the
	// record is too long: one comparison per copy checks both.
	maxFieldBytes  int
	maxRecordBytes int
	maxFields      int
	fieldStart     int
	fieldLimit     int
}

type fieldEnd struct {
	end    int
	quoted bool
}

// NewReader returns a Reader for r, buffered with 64 KiB unless r already is
// a large enough *bufio.Reader.
func NewReader(r io.Reader) *Reader {
	return &Reader{
		MaxFieldBytes: defaultMaxFieldBytes,
		MaxFields:     defaultMaxFields,
		br:            bufio.NewReaderSize(r, bufferSize),
		line:          1,
	}
}

// Read returns the next record. The fields and their values are valid only
// until the next call. At the end of input it returns nil, io.EOF; a last
// record without a line break is still returned first.
//
// Blank lines are skipped, as Python's csv module does. COPY writes a row of
// a single NULL column as a blank line, so such rows do not survive; tables
// with more than one column are unaffected.
//
// Malformed input gives a *ParseError, a failing underlying reader its own
// error. After any error Read keeps returning it, since the position within
// the record is lost.
func (r *Reader) Read() ([]Field, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := r.readRecord(); err != nil {
		r.err = err
		return nil, err
	}
	return r.record(), nil
}

// Line returns the physical line, 1-based, on which the record last returned
// by Read starts (or, after an error, the record that failed).
func (r *Reader) Line() int { return r.recLine }

// Offset returns the number of input bytes Read has consumed: after a
// successful Read, the position just past that record's line break, and at
// io.EOF the size of the input. Bytes buffered ahead are not counted, so
// Offset can be used for progress and to check byte counts.
func (r *Reader) Offset() int64 { return r.offset }

func (r *Reader) readRecord() error {
	if !r.started {
		if err := r.start(); err != nil {
			return err
		}
	}
	if err := r.skipBlankLines(); err != nil {
		return err
	}
	r.setLimits()
	r.recLine = r.line
	r.buf = r.buf[:0]
	r.ends = r.ends[:0]
	for {
		if len(r.ends) == r.maxFields {
			return r.errorAt(r.line, &detailError{
				msg: "too many fields: more than " + strconv.Itoa(r.maxFields),
				err: ErrTooManyFields,
			})
		}
		more, err := r.readField()
		if err != nil || !more {
			return err
		}
	}
}

// setLimits fixes the limits for the record about to be read.
func (r *Reader) setLimits() {
	r.maxFieldBytes = orDefault(r.MaxFieldBytes, defaultMaxFieldBytes)
	r.maxRecordBytes = orDefault(r.MaxRecordBytes, defaultMaxRecordBytes)
	r.maxFields = orDefault(r.MaxFields, defaultMaxFields)
}

func orDefault(limit, def int) int {
	if limit <= 0 {
		return def
	}
	return limit
}

// start skips a byte order mark, which editors on Windows like to add.
func (r *Reader) start() error {
	r.started = true
	b, err := r.br.Peek(len(bom))
	if bytes.Equal(b, bom) {
		r.discard(len(bom))
		return nil
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

// skipBlankLines consumes empty lines, as Python's csv reader does. It
// returns io.EOF if the input ends first.
func (r *Reader) skipBlankLines() error {
	for {
		c, err := r.peekByte()
		if err != nil {
			return err
		}
		if c != '\n' && c != '\r' {
			return nil
		}
		if err := r.lineBreak(c); err != nil {
			return err
		}
	}
}

// record slices the completed record's fields out of buf.
func (r *Reader) record() []Field {
	r.fields = r.fields[:0]
	start := 0
	for _, e := range r.ends {
		r.fields = append(r.fields, Field{Value: r.buf[start:e.end:e.end], Quoted: e.quoted})
		start = e.end
	}
	return r.fields
}

// readField reads one field and the delimiter after it. more reports that
// another field of the same record follows.
func (r *Reader) readField() (more bool, err error) {
	r.fieldLine = r.line
	r.fieldStart = len(r.buf)
	// The field may take what is left of the record's bytes, up to its own
	// limit; written so that no sum can overflow, whatever the limits.
	r.fieldLimit = r.maxRecordBytes
	if r.maxFieldBytes < r.maxRecordBytes-r.fieldStart {
		r.fieldLimit = r.fieldStart + r.maxFieldBytes
	}
	c, err := r.peekByte()
	switch {
	case err == io.EOF:
		r.endField(false)
		return false, nil
	case err != nil:
		return false, err
	case c == '"':
		r.discard(1)
		return r.readQuoted()
	default:
		return r.readUnquoted()
	}
}

func (r *Reader) readUnquoted() (more bool, err error) {
	for {
		b, err := r.buffered()
		if err == io.EOF {
			r.endField(false)
			return false, nil
		}
		if err != nil {
			return false, err
		}
		i := indexUnquotedStop(b)
		if i < 0 {
			if err := r.take(b); err != nil {
				return false, err
			}
			continue
		}
		if err := r.take(b[:i]); err != nil {
			return false, err
		}
		switch c := b[i]; c {
		case '"':
			return false, r.errorAt(r.line, ErrBareQuote)
		case 0:
			return false, r.errorAt(r.line, ErrNUL)
		default:
			r.endField(false)
			return r.delimiter(c)
		}
	}
}

// readQuoted reads a quoted field whose opening quote has been consumed.
func (r *Reader) readQuoted() (more bool, err error) {
	for {
		if err := r.readToQuote(); err != nil {
			return false, err
		}
		c, err := r.peekByte()
		switch {
		case err == io.EOF:
			r.endField(true)
			return false, nil
		case err != nil:
			return false, err
		case c == '"': // a doubled quote stands for one quote
			r.discard(1)
			if err := r.appendValue('"'); err != nil {
				return false, err
			}
		case c == ',' || c == '\n' || c == '\r':
			r.endField(true)
			return r.delimiter(c)
		case c == 0:
			return false, r.errorAt(r.line, ErrNUL)
		default:
			return false, r.errorAt(r.line, errQuoteAfter)
		}
	}
}

// readToQuote copies quoted content up to and including the next quote,
// which it consumes but does not copy.
func (r *Reader) readToQuote() error {
	for {
		b, err := r.buffered()
		if err == io.EOF {
			return r.errorAt(r.fieldLine, errQuoteEOF)
		}
		if err != nil {
			return err
		}
		i := indexQuotedStop(b)
		if i < 0 {
			if err := r.take(b); err != nil {
				return err
			}
			continue
		}
		if err := r.take(b[:i]); err != nil {
			return err
		}
		switch c := b[i]; c {
		case '"':
			r.discard(1)
			return nil
		case 0:
			return r.errorAt(r.line, ErrNUL)
		default:
			if err := r.quotedLineBreak(c); err != nil {
				return err
			}
		}
	}
}

// quotedLineBreak copies a line break that is part of a value, counting it as
// one line even when it is CRLF.
func (r *Reader) quotedLineBreak(c byte) error {
	r.line++
	r.discard(1)
	if err := r.appendValue(c); err != nil {
		return err
	}
	if c != '\r' {
		return nil
	}
	next, err := r.peekByte()
	if err != nil || next != '\n' {
		return ignoreEOF(err)
	}
	r.discard(1)
	return r.appendValue('\n')
}

// delimiter consumes the comma or line break c that ends a field.
func (r *Reader) delimiter(c byte) (more bool, err error) {
	if c == ',' {
		r.discard(1)
		return true, nil
	}
	return false, r.lineBreak(c)
}

// lineBreak consumes a record-ending line break starting with c: LF, CRLF or
// a lone CR.
func (r *Reader) lineBreak(c byte) error {
	r.line++
	r.discard(1)
	if c != '\r' {
		return nil
	}
	next, err := r.peekByte()
	if err == nil && next == '\n' {
		r.discard(1)
	}
	return ignoreEOF(err)
}

func (r *Reader) endField(quoted bool) {
	r.ends = append(r.ends, fieldEnd{end: len(r.buf), quoted: quoted})
}

// take copies p, which must be buffered input, into the current field and
// consumes it.
func (r *Reader) take(p []byte) error {
	if len(r.buf)+len(p) > r.fieldLimit {
		return r.tooLong()
	}
	r.grow(len(p))
	r.buf = append(r.buf, p...)
	r.discard(len(p))
	return nil
}

// grow makes room for n more bytes by doubling, so a long field costs about
// twice its size in all rather than the many copies append's gentler growth
// of large slices makes. Capacities are powers of two, capped at the
// record's limit: so a refused record costs at most its limit, and a
// refused field at most its own when that is a power of two, with no last
// small step that copies everything again just short of a limit.
func (r *Reader) grow(n int) {
	if len(r.buf)+n <= cap(r.buf) {
		return
	}
	c := max(2*cap(r.buf), 4096)
	for c < len(r.buf)+n {
		c *= 2
	}
	// take and appendValue have checked that len(buf)+n is within the
	// record's limit, so the cap leaves room enough.
	c = min(c, r.maxRecordBytes)
	buf := make([]byte, len(r.buf), c)
	copy(buf, r.buf)
	r.buf = buf
}

// appendValue adds one byte that has already been consumed.
func (r *Reader) appendValue(c byte) error {
	if len(r.buf)+1 > r.fieldLimit {
		return r.tooLong()
	}
	r.buf = append(r.buf, c)
	return nil
}

// tooLong reports which limit the current field has reached: its own, at
// the line where it starts, or the record's, at the line where that starts.
// Both name the limit, since the fix (or the complaint) depends on it.
func (r *Reader) tooLong() error {
	if r.fieldLimit-r.fieldStart == r.maxFieldBytes {
		return r.errorAt(r.fieldLine, &detailError{
			msg: "field too long: over the limit of " + formatBytes(r.maxFieldBytes) + " for one field",
			err: ErrFieldTooLong,
		})
	}
	return r.errorAt(r.recLine, &detailError{
		msg: "record too long: over the limit of " + formatBytes(r.maxRecordBytes) + " for one record",
		err: ErrRecordTooLong,
	})
}

// buffered returns the input buffered so far, reading more only when none is
// left, so that scans run over as many bytes as possible per call.
func (r *Reader) buffered() ([]byte, error) {
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return nil, err
		}
	}
	return r.br.Peek(r.br.Buffered())
}

func (r *Reader) peekByte() (byte, error) {
	b, err := r.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// discard consumes n bytes that are known to be buffered.
func (r *Reader) discard(n int) {
	r.br.Discard(n)
	r.offset += int64(n)
}

func (r *Reader) errorAt(line int, err error) error {
	return &ParseError{Line: line, Column: len(r.ends) + 1, Err: err}
}

// indexUnquotedStop returns the index of the first byte of b in
// unquotedStops, or -1. Unquoted fields are short (ids, numbers), so a table
// lookup per byte is enough.
func indexUnquotedStop(b []byte) int {
	for i, c := range b {
		if unquotedStops[c] {
			return i
		}
	}
	return -1
}

// quotedStops are the bytes in a quoted field that need more than copying:
// the quote, line breaks (for line numbers) and NUL.
const quotedStops = "\"\n\r\x00"

// indexQuotedStop returns the index of the first byte of b in quotedStops,
// or -1. Quoted fields hold the bulk of the data (vectors, documents) in long
// runs without a stop byte, which bytes.IndexByte crosses several times
// faster than a byte loop, even searching once per stop byte.
//
// The search runs in windows that start small and double. Searching all of b
// at once would, for a long field of many short lines, look ahead for the
// distant closing quote again after every line break: quadratic.
func indexQuotedStop(b []byte) int {
	for off, n := 0, 32; off < len(b); off, n = off+n, min(2*n, 4096) {
		w := b[off:min(len(b), off+n)]
		end := len(w)
		for i := range len(quotedStops) {
			if j := bytes.IndexByte(w[:end], quotedStops[i]); j >= 0 {
				end = j
			}
		}
		if end < len(w) {
			return off + end
		}
	}
	return -1
}

// ignoreEOF drops io.EOF from a look-ahead: the end of input after a line
// break is simply the end of the record. Other errors must not be lost,
// because bufio.Reader reports them only once.
func ignoreEOF(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}
