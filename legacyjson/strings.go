package legacyjson

import (
	"unicode/utf8"
)

// plain marks ASCII bytes that are copied verbatim from a Python string
// literal into a JSON string. Everything else needs a closer look: quotes,
// backslashes, control characters, and non-ASCII bytes (UTF-8 validation).
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '\'' && c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// str converts the Python string literal at p.pos (opening quote) to a JSON
// string. Runs of plain bytes are copied in one append.
func (p *parser) str(dst []byte) ([]byte, error) {
	src, open := p.src, p.pos
	quote := src[open]
	if open+2 < len(src) && src[open+1] == quote && src[open+2] == quote {
		return dst, p.fail(open, "triple-quoted strings are not supported")
	}
	dst = append(dst, '"')
	i := open + 1
	run := i
	for i < len(src) {
		c := src[i]
		if c < utf8.RuneSelf && plain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				return dst, p.fail(i, "invalid UTF-8 in string")
			}
			i += size
			continue
		}
		// A run is copied as it is, so its room is checked first (the
		// offset is the first byte that does not fit); an escape adds a few
		// bytes, checked after it.
		if len(dst)+(i-run) > p.limit {
			return dst, tooLong(run + max(0, p.limit-len(dst)))
		}
		dst = p.room(dst, i-run)
		dst = append(dst, src[run:i]...)
		at := i
		switch {
		case c == quote:
			p.pos = i + 1
			return append(dst, '"'), nil
		case c == '\\':
			if i+1 >= len(src) {
				return dst, p.fail(open, "unterminated string")
			}
			var err error
			if dst, i, err = p.escape(dst, i); err != nil {
				return dst, err
			}
		case c == '\n' || c == '\r':
			// Python forbids raw line breaks in a single-quoted literal;
			// repr never writes one, so the quote was probably lost.
			return dst, p.fail(open, "unterminated string")
		default:
			dst = appendASCII(dst, c)
			i++
		}
		if len(dst) > p.limit {
			return dst, tooLong(at)
		}
		run = i
	}
	return dst, p.fail(open, "unterminated string")
}

// escape decodes the escape sequence whose backslash is at src[i] (with at
// least one byte after it) and returns the index just past it.
func (p *parser) escape(dst []byte, i int) ([]byte, int, error) {
	src := p.src
	switch c := src[i+1]; c {
	case '\n': // line continuation
		return dst, i + 2, nil
	case '\r': // line continuation written with CRLF or CR line ends
		i += 2
		if i < len(src) && src[i] == '\n' {
			i++
		}
		return dst, i, nil
	case '\\':
		return append(dst, `\\`...), i + 2, nil
	case '"':
		return append(dst, `\"`...), i + 2, nil
	case '\'':
		return append(dst, '\''), i + 2, nil
	case 'n':
		return append(dst, `\n`...), i + 2, nil
	case 'r':
		return append(dst, `\r`...), i + 2, nil
	case 't':
		return append(dst, `\t`...), i + 2, nil
	case 'b':
		return append(dst, `\b`...), i + 2, nil
	case 'f':
		return append(dst, `\f`...), i + 2, nil
	case 'v':
		return append(dst, `\u000b`...), i + 2, nil
	case 'a':
		return append(dst, `\u0007`...), i + 2, nil
	case 'x':
		return p.hexEscape(dst, i, 2)
	case 'u':
		return p.hexEscape(dst, i, 4)
	case 'U':
		return p.hexEscape(dst, i, 8)
	case 'N':
		return dst, i, p.fail(i, `\N{...} escapes are not supported`)
	case '0', '1', '2', '3', '4', '5', '6', '7':
		return p.octalEscape(dst, i)
	}
	// Python keeps unknown escapes such as \q verbatim, backslash included;
	// the next character is then read as ordinary string content.
	return append(dst, `\\`...), i + 1, nil
}

// octalEscape decodes \o, \oo or \ooo (up to U+01FF).
func (p *parser) octalEscape(dst []byte, i int) ([]byte, int, error) {
	src := p.src
	j := i + 1
	var r rune
	for end := min(j+3, len(src)); j < end && '0' <= src[j] && src[j] <= '7'; j++ {
		r = r<<3 | rune(src[j]-'0')
	}
	return appendRune(dst, r), j, nil
}

// hexEscape decodes \xNN, \uNNNN or \UNNNNNNNN (n hex digits) at src[i].
// A high surrogate directly followed by a low-surrogate escape is combined:
// json.dumps would have written the pair as two \u escapes, which JSON
// readers (PostgreSQL included) join into one character. Any other surrogate
// has no UTF-8 form, and PostgreSQL rejects it.
func (p *parser) hexEscape(dst []byte, i, n int) ([]byte, int, error) {
	v, next, ok := p.hexRune(i, n)
	if !ok {
		return dst, i, p.fail(i, truncatedReason(p.src[i+1]))
	}
	if v > utf8.MaxRune {
		return dst, i, p.fail(i, `\U escape beyond U+10FFFF`)
	}
	r := rune(v)
	if 0xD800 <= r && r < 0xDC00 {
		if lo, after, ok := p.lowSurrogate(next); ok {
			r, next = 0x10000+(r-0xD800)<<10+(lo-0xDC00), after
		}
	}
	if 0xD800 <= r && r < 0xE000 {
		return dst, i, p.fail(i, "lone surrogate escape has no UTF-8 form")
	}
	return appendRune(dst, r), next, nil
}

// lowSurrogate reports whether a \u or \U escape of a low surrogate starts at i.
func (p *parser) lowSurrogate(i int) (rune, int, bool) {
	src := p.src
	if i+1 >= len(src) || src[i] != '\\' {
		return 0, i, false
	}
	n := 4
	switch src[i+1] {
	case 'u':
	case 'U':
		n = 8
	default:
		return 0, i, false
	}
	v, next, ok := p.hexRune(i, n)
	if !ok || v < 0xDC00 || v >= 0xE000 {
		return 0, i, false
	}
	return rune(v), next, true
}

// hexRune reads the n hex digits following the two-byte escape prefix at i.
// The value is unsigned because eight digits can exceed the rune range.
func (p *parser) hexRune(i, n int) (v uint32, next int, ok bool) {
	src := p.src
	start := i + 2
	if start+n > len(src) {
		return 0, i, false
	}
	for _, c := range src[start : start+n] {
		d, ok := unhex(c)
		if !ok {
			return 0, i, false
		}
		v = v<<4 | d
	}
	return v, start + n, true
}

func truncatedReason(kind byte) string {
	switch kind {
	case 'x':
		return `truncated \xXX escape`
	case 'u':
		return `truncated \uXXXX escape`
	}
	return `truncated \UXXXXXXXX escape`
}

func unhex(c byte) (uint32, bool) {
	switch {
	case '0' <= c && c <= '9':
		return uint32(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint32(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return uint32(c - 'A' + 10), true
	}
	return 0, false
}

// appendRune writes a decoded character into a JSON string.
func appendRune(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		return appendASCII(dst, byte(r))
	}
	return utf8.AppendRune(dst, r)
}

// appendASCII writes an ASCII character into a JSON string, escaping the
// way json.dumps does: short forms where JSON has them, \u00XX otherwise.
func appendASCII(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, `\"`...)
	case '\\':
		return append(dst, `\\`...)
	case '\n':
		return append(dst, `\n`...)
	case '\r':
		return append(dst, `\r`...)
	case '\t':
		return append(dst, `\t`...)
	case '\b':
		return append(dst, `\b`...)
	case '\f':
		return append(dst, `\f`...)
	}
	if c < 0x20 {
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(dst, c)
}
