// Package display shows text that comes from outside the program (backup
// files, databases, callers) as data: its control characters escaped
// visibly, so that no such text can move a terminal's cursor, clear its
// screen, set its clipboard, reorder what it shows, or start a line that
// passes for the program's own words.
package display

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// IsControl reports whether r is a character that this package escapes:
// the C0 controls and DEL, the C1 controls (U+0080–U+009F, which some
// terminals obey as ESC sequences), the Unicode bidirectional marks,
// embeddings, overrides and isolates (which reorder what a terminal or a
// chat window shows), and the line and paragraph separators U+2028 and
// U+2029 (which some readers break lines at).
func IsControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // ALM, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // embeddings, overrides, isolates
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// NeedsEscape reports whether Escape would change s: it holds a control
// character or a byte that is not UTF-8.
func NeedsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 && r == utf8.RuneError || IsControl(r) {
			return true
		}
		i += size
	}
	return false
}

// Escape returns s for a terminal: every control character written as an
// escape (\n, \r, \t, \x1b, \u202e), and each byte that is not UTF-8 as
// \xHH; the rest as it is, non-ASCII text included. It is for everything
// the command line prints that came from outside: names, paths, documents,
// error text.
func Escape(s string) string {
	if !NeedsEscape(s) {
		return s
	}
	return escape(s, false, false)
}

// EscapeLines is Escape for text this program composed of lines, with the
// outside data in it already quoted (a restore's plan): it keeps the line
// breaks and escapes every other control character.
func EscapeLines(s string) string {
	if !NeedsEscape(s) {
		return s
	}
	return escape(s, false, true)
}

// Quote returns s as a double-quoted string for text a model reads: " and
// \ escaped, and the control characters as Escape writes them, so that a
// name can neither end its quotes nor start a line of its own
// ("sql\nNothing else changes"). Printable non-ASCII text stays as it is.
func Quote(s string) string {
	return `"` + escape(s, true, false) + `"`
}

// escape writes s with its control characters escaped; quote also escapes
// " and \, keepLines leaves \n as it is.
func escape(s string, quote, keepLines bool) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case size == 1 && r == utf8.RuneError:
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case r == '\n' && keepLines:
			b.WriteByte('\n')
		case quote && (r == '"' || r == '\\'):
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case IsControl(r):
			writeEscape(&b, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// writeEscape writes the escape of the control character r: the usual
// letter for line feed, carriage return and tab, \xHH for the other ASCII
// controls, \uHHHH beyond ASCII.
func writeEscape(b *strings.Builder, r rune) {
	switch r {
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	default:
		if r < utf8.RuneSelf {
			b.WriteString(`\x`)
			b.WriteString(hex2(byte(r)))
			return
		}
		b.WriteString(`\u`)
		h := strconv.FormatInt(int64(r), 16)
		b.WriteString(strings.Repeat("0", 4-len(h)))
		b.WriteString(h)
	}
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// EscapeJSON escapes, in JSON that encoding/json wrote, the control
// characters it leaves as they are (DEL, the C1 controls, the bidirectional
// controls) as \uHHHH, and replaces a byte that is not UTF-8 with \ufffd,
// as encoding/json does for strings. The JSON means the same values (but for
// bytes that were not UTF-8 in a json.RawMessage); a terminal shows it as
// data.
func EscapeJSON(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		bad := size == 1 && r == utf8.RuneError
		// Below DEL, encoding/json escaped what it must; what is left there
		// is the indentation's line breaks.
		if !bad && (r < 0x7f || !IsControl(r)) {
			i += size
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+16)
		}
		out = append(out, b[last:i]...)
		if bad {
			r = utf8.RuneError
		}
		h := strconv.FormatInt(int64(r), 16)
		out = append(out, `\u`...)
		out = append(out, strings.Repeat("0", 4-len(h))...)
		out = append(out, h...)
		i += size
		last = i
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}
