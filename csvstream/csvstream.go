// Package csvstream reads and writes the CSV files that hold PostgreSQL table
// backups, one record at a time.
//
// The files come from Python's csv.writer (CRLF row ends, minimal quoting) or
// from PostgreSQL's COPY ... TO (FORMAT csv, HEADER) (LF row ends), and are
// loaded back with COPY ... FROM (FORMAT csv). encoding/csv is not enough for
// that round trip, for three reasons:
//
//   - NULL versus empty text. COPY writes NULL as an unquoted empty field and
//     empty text as "". encoding/csv returns both as "", so a restore through
//     it cannot tell them apart. Field keeps whether the value was quoted.
//   - Line numbers. A quoted document may span many physical lines, and when a
//     restore fails the operator needs the line to open in an editor. Reader
//     counts every LF, CRLF and lone CR, inside quotes too.
//   - Streaming. Backups are far larger than memory and rows carry
//     1536-dimension vectors, so Reader holds one record at a time and reuses
//     its buffers; memory is proportional to the largest record, which its
//     limits bound (bytes per field and per record, fields per record), so
//     that no input can make it hold more.
//
// Reader is strict where a lenient parser would silently change data: a bare
// quote, text after a closing quote, an unclosed quote at end of file and a NUL
// byte (PostgreSQL text cannot hold one) are errors, reported as *ParseError.
package csvstream

import (
	"errors"
	"fmt"
	"strconv"
)

// Field is one CSV field.
type Field struct {
	// Value holds the unescaped bytes. A Reader reuses the memory on the
	// next Read, so copy it to keep it.
	Value []byte
	// Quoted reports that the field was written in quotes, which for an
	// empty Value is the only difference between empty text and NULL.
	Quoted bool
}

// IsNull reports whether the field is NULL to COPY FROM (FORMAT csv): empty
// and not quoted.
func (f Field) IsNull() bool { return !f.Quoted && len(f.Value) == 0 }

// Errors wrapped by ParseError. Compare with errors.Is.
var (
	ErrBareQuote     = errors.New("bare quote in unquoted field")
	ErrQuote         = errors.New("extraneous or missing quote in quoted field")
	ErrFieldTooLong  = errors.New("field too long")
	ErrRecordTooLong = errors.New("record too long")
	ErrTooManyFields = errors.New("too many fields")
	ErrNUL           = errors.New("NUL byte (PostgreSQL text cannot hold it)")
)

// errQuoteEOF is ErrQuote with a message that says what is actually wrong,
// since "extraneous or missing" is vague for a truncated file.
var errQuoteEOF = &detailError{msg: "quoted field not closed at end of file", err: ErrQuote}

// errQuoteAfter is ErrQuote for text between a closing quote and the
// delimiter, usually a quote that should have been doubled.
var errQuoteAfter = &detailError{msg: "unexpected text after closing quote (unescaped quote?)", err: ErrQuote}

// detailError gives a sentinel a more specific message while keeping
// errors.Is working.
type detailError struct {
	msg string
	err error
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.err }

// ParseError locates malformed input.
//
// Line is the physical line (1-based, counting line breaks inside quoted
// fields) of the offending byte. For an error about a whole field, a field
// that is too long or a quote not closed at end of file, it is the line on
// which that field starts, and for a record that is too long, the line on
// which the record starts, because that is where a reader of the file should
// look. Column is the 1-based index of the field within its record (for a
// record too long, the field that crossed the limit).
type ParseError struct {
	Line   int
	Column int
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, field %d: %v", e.Line, e.Column, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// formatBytes writes a limit the way people set it: in KiB or MiB when it is
// a whole number of them.
func formatBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}
