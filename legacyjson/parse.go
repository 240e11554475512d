package legacyjson

import (
	"strconv"
	"unicode/utf8"
)

// parser reads one Python literal from src and appends its JSON form to a
// caller's buffer. Output is written while parsing, so a value costs a single
// pass and no intermediate tree.
type parser struct {
	src   []byte
	pos   int
	depth int
	items int // keys and elements so far, for MaxItems
	// limit is the longest dst may grow, for MaxOutputBytes. It is checked
	// before every copy of input (string runs, numbers) and after every
	// escape and item, which add a few bytes each: so dst never holds more
	// than a few bytes beyond it, however the input expands.
	limit int
}

// appendLiteral appends the JSON form of the Python literal in src to dst.
func appendLiteral(dst, src []byte) ([]byte, error) {
	p := parser{src: src, limit: len(dst) + MaxOutputBytes(len(src))}
	// The JSON form is rarely much longer than the repr (quotes and escapes
	// only), so this usually suffices.
	dst = p.room(dst, len(src)+len(src)/8)
	p.skipSpace()
	if p.atEnd() {
		return dst, p.fail(0, "empty value")
	}
	dst, err := p.value(dst)
	if err != nil {
		return dst, err
	}
	p.skipSpace()
	if !p.atEnd() {
		return dst, p.fail(p.pos, "unexpected "+p.describe()+" after the value")
	}
	if len(dst) > p.limit {
		return dst, tooLong(p.pos)
	}
	return dst, nil
}

func (p *parser) fail(offset int, reason string) error {
	return &SyntaxError{Offset: offset, Reason: reason}
}

func (p *parser) atEnd() bool { return p.pos >= len(p.src) }

// skipSpace skips the whitespace Python allows between tokens of a literal.
func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// eat consumes c if it is the next byte.
func (p *parser) eat(c byte) bool {
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// describe names the next input character (callers ensure there is one) for
// error messages, without echoing invalid UTF-8 into them.
func (p *parser) describe() string {
	r, size := utf8.DecodeRune(p.src[p.pos:])
	if r == utf8.RuneError && size == 1 {
		return "invalid UTF-8 byte 0x" + strconv.FormatUint(uint64(p.src[p.pos]), 16)
	}
	return "character " + strconv.QuoteRune(r)
}

func (p *parser) value(dst []byte) ([]byte, error) {
	if p.atEnd() {
		return dst, p.fail(p.pos, "unexpected end of value")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.dict(dst)
	case c == '[':
		return p.list(dst)
	case c == '(':
		return p.tuple(dst)
	case c == '\'' || c == '"':
		return p.str(dst)
	case isNumberStart(c):
		return p.number(dst, false)
	case isNameStart(c):
		return p.word(dst, false)
	}
	return dst, p.fail(p.pos, "unexpected "+p.describe())
}

func (p *parser) list(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return dst, err
	}
	defer p.leave()
	open := p.pos
	p.pos++
	dst = append(dst, '[')
	p.skipSpace()
	if p.eat(']') {
		return append(dst, ']'), nil
	}
	return p.seq(dst, open, ']')
}

// tuple converts a tuple to a JSON array, but (x) without a comma is only
// parentheses around x, as in Python, so it yields x itself. Dropping the
// already written '[' shifts x's output by one byte; repr never writes (x),
// and MaxDepth bounds the cost for contrived input like ((((x)))): at most
// MaxDepth copies of x, about 0.6 s for a 15 MiB string.
func (p *parser) tuple(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return dst, err
	}
	defer p.leave()
	open, bracket := p.pos, len(dst)
	p.pos++
	dst = append(dst, '[')
	p.skipSpace()
	if p.eat(')') {
		return append(dst, ']'), nil
	}
	first := p.pos
	dst, err := p.value(dst)
	if err != nil {
		return dst, err
	}
	p.skipSpace()
	if p.eat(')') {
		copy(dst[bracket:], dst[bracket+1:])
		return dst[:len(dst)-1], nil
	}
	if !p.eat(',') {
		return dst, p.unclosed(open, ')')
	}
	// Only now is the first value known to be an element of a tuple.
	if err := p.item(first); err != nil {
		return dst, err
	}
	p.skipSpace()
	if p.eat(')') {
		return append(dst, ']'), nil
	}
	return p.seq(append(dst, ", "...), open, ')')
}

// seq parses "value, value, ..." up to close, allowing a trailing comma.
// The opening bracket and its JSON '[' have been written already.
func (p *parser) seq(dst []byte, open int, close byte) ([]byte, error) {
	for {
		if err := p.item(p.pos); err != nil {
			return dst, err
		}
		dst = p.room(dst, 0)
		var err error
		if dst, err = p.value(dst); err != nil {
			return dst, err
		}
		if err := p.grown(dst); err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.eat(close) {
			return append(dst, ']'), nil
		}
		if !p.eat(',') {
			return dst, p.unclosed(open, close)
		}
		p.skipSpace()
		if p.eat(close) {
			return append(dst, ']'), nil
		}
		dst = append(dst, ", "...)
	}
}

// unclosed reports a missing separator or closing bracket; at the end of
// input the useful location is the bracket that was never closed.
func (p *parser) unclosed(open int, close byte) error {
	if p.atEnd() {
		return p.fail(open, "'"+string(p.src[open])+"' was never closed")
	}
	return p.fail(p.pos, "expected ',' or '"+string(close)+"', found "+p.describe())
}

func (p *parser) dict(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return dst, err
	}
	defer p.leave()
	open := p.pos
	p.pos++
	dst = append(dst, '{')
	p.skipSpace()
	if p.eat('}') {
		return append(dst, '}'), nil
	}
	for first := true; ; first = false {
		if err := p.item(p.pos); err != nil {
			return dst, err
		}
		dst = p.room(dst, 0)
		var err error
		if dst, err = p.key(dst, open, first); err != nil {
			return dst, err
		}
		p.skipSpace()
		if !p.eat(':') {
			return dst, p.missingColon(open, first)
		}
		dst = append(dst, ": "...)
		p.skipSpace()
		if dst, err = p.value(dst); err != nil {
			return dst, err
		}
		if err := p.grown(dst); err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.eat('}') {
			return append(dst, '}'), nil
		}
		if !p.eat(',') {
			return dst, p.unclosed(open, '}')
		}
		p.skipSpace()
		if p.eat('}') {
			return append(dst, '}'), nil
		}
		dst = append(dst, ", "...)
	}
}

// missingColon explains a dict entry without ':'; after the first element
// that usually means the braces hold a set, not a dict.
func (p *parser) missingColon(open int, first bool) error {
	if first && p.pos < len(p.src) && (p.src[p.pos] == ',' || p.src[p.pos] == '}') {
		return p.fail(open, "Python set literals have no JSON form")
	}
	if p.atEnd() {
		return p.fail(open, "'{' was never closed")
	}
	return p.fail(p.pos, "expected ':' after dict key, found "+p.describe())
}

// key writes a dict key as a JSON string, coercing scalars the way
// json.dumps does: 1 -> "1", 1.5 -> "1.5", True -> "true", None -> "null".
func (p *parser) key(dst []byte, open int, first bool) ([]byte, error) {
	if p.atEnd() {
		return dst, p.fail(open, "'{' was never closed")
	}
	at := p.pos
	switch c := p.src[p.pos]; {
	case c == '\'' || c == '"':
		return p.str(dst)
	case isNumberStart(c):
		return p.number(dst, true)
	case isNameStart(c):
		return p.word(dst, true)
	case c == '(' || c == '[' || c == '{':
		return dst, p.containerKey(dst, at, open, first)
	}
	return dst, p.fail(p.pos, "unexpected "+p.describe())
}

// containerKey parses a tuple, list or dict in key position only to tell a
// set of containers ({(1, 2)}) from a container key ({(1, 2): 3}); neither
// has a JSON form. dst is scratch space here: the caller discards it.
func (p *parser) containerKey(dst []byte, at, open int, first bool) error {
	if _, err := p.value(dst); err != nil {
		return err
	}
	p.skipSpace()
	if first && p.pos < len(p.src) && (p.src[p.pos] == ',' || p.src[p.pos] == '}') {
		return p.fail(open, "Python set literals have no JSON form")
	}
	kind := "dict"
	switch p.src[at] {
	case '(':
		kind = "tuple"
	case '[':
		kind = "list"
	}
	return p.fail(at, "a "+kind+" as dict key has no JSON form")
}

// word handles input starting with a letter: True/False/None, string
// prefixes such as u'...', and names JSON cannot represent.
func (p *parser) word(dst []byte, asKey bool) ([]byte, error) {
	start := p.pos
	name := p.name()
	if !p.atEnd() && (p.src[p.pos] == '\'' || p.src[p.pos] == '"') {
		if err := p.checkPrefix(start, name); err != nil {
			return dst, err
		}
		return p.str(dst)
	}
	var lit string
	switch string(name) {
	case "True":
		lit = "true"
	case "False":
		lit = "false"
	case "None":
		lit = "null"
	default:
		return dst, p.badName(start, name)
	}
	if asKey {
		dst = append(dst, '"')
		dst = append(dst, lit...)
		return append(dst, '"'), nil
	}
	return append(dst, lit...), nil
}

// name consumes an identifier; dots are included so that qualified calls
// like datetime.datetime(...) are reported by their full name.
func (p *parser) name() []byte {
	start := p.pos
	for p.pos < len(p.src) && (isNameStart(p.src[p.pos]) || isDigit(p.src[p.pos]) || p.src[p.pos] == '.') {
		p.pos++
	}
	return p.src[start:p.pos]
}

// checkPrefix accepts the u'...' prefix, which Python 3 still allows and
// Python 2 era code wrote, and rejects prefixes whose strings JSON cannot
// carry faithfully.
func (p *parser) checkPrefix(start int, prefix []byte) error {
	if len(prefix) == 1 && (prefix[0] == 'u' || prefix[0] == 'U') {
		return nil
	}
	switch lower(prefix) {
	case "b", "br", "rb":
		return p.fail(start, "Python bytes literals have no JSON form")
	case "r":
		return p.fail(start, "raw string literals are not supported")
	case "f", "rf", "fr":
		return p.fail(start, "f-strings are not Python literals")
	}
	return p.fail(start, "unknown string prefix "+strconv.Quote(clip(prefix)))
}

// badName explains why a bare name or call is not convertible.
func (p *parser) badName(start int, name []byte) error {
	switch lower(name) {
	case "nan":
		return p.fail(start, "NaN has no JSON form")
	case "inf", "infinity":
		return p.fail(start, "Infinity has no JSON form")
	case "true", "false", "null":
		return p.fail(start, "name "+strconv.Quote(string(name))+" is not a Python literal (Python writes True, False, None)")
	}
	p.skipSpace()
	if p.atEnd() || p.src[p.pos] != '(' {
		return p.fail(start, "name "+strconv.Quote(clip(name))+" is not a Python literal")
	}
	switch string(name) {
	case "float":
		return p.fail(start, "float(...) values such as float('nan') have no JSON form")
	case "set", "frozenset":
		return p.fail(start, "Python sets have no JSON form")
	case "bytes", "bytearray":
		return p.fail(start, "Python bytes have no JSON form")
	case "Decimal", "decimal.Decimal":
		return p.fail(start, "Decimal(...) is not a Python literal and is not converted")
	}
	return p.fail(start, clip(name)+"(...) is not a Python literal")
}

// signedName explains a sign followed by a name, as in -inf.
func (p *parser) signedName(start int, name []byte) error {
	switch lower(name) {
	case "nan", "inf", "infinity":
		return p.badName(start, name)
	}
	return p.fail(start, "expected a number after '"+string(p.src[start])+"'")
}

// number copies an int or float literal, rewriting only what JSON spells
// differently: a leading '+', '.5' and '5.' forms, and redundant leading zeros.
// Digits are never reparsed, so arbitrarily large ints keep their value.
func (p *parser) number(dst []byte, asKey bool) ([]byte, error) {
	src, start := p.src, p.pos
	i := start
	neg := src[i] == '-'
	if src[i] == '-' || src[i] == '+' {
		// Python allows "- 1"; it is unary minus applied to 1.
		p.pos = i + 1
		p.skipSpace()
		i = p.pos
		if i < len(src) && isNameStart(src[i]) {
			return dst, p.signedName(start, p.name())
		}
	}
	intStart := i
	i = skipDigits(src, i)
	intPart := src[intStart:i]
	dot := i < len(src) && src[i] == '.'
	var frac, exp []byte
	if dot {
		fracStart := i + 1
		i = skipDigits(src, fracStart)
		frac = src[fracStart:i]
	}
	if len(intPart) == 0 && len(frac) == 0 {
		return dst, p.fail(start, "expected a number")
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		expStart := i
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		digits := i
		if i = skipDigits(src, i); i == digits {
			return dst, p.fail(expStart, "invalid exponent in number")
		}
		exp = src[expStart:i]
	}
	if err := p.checkNumberEnd(start, i, intPart, dot || exp != nil); err != nil {
		return dst, err
	}
	intPart, err := p.trimZeros(start, intPart, dot || exp != nil)
	if err != nil {
		return dst, err
	}
	// The digits are copied: check the room first. Signs, dots, a zero
	// supplied before or after the dot and a key's quotes add at most 5.
	size := len(intPart) + len(frac) + len(exp) + 5
	if len(dst)+size > p.limit {
		return dst, tooLong(start)
	}
	dst = p.room(dst, size)
	p.pos = i
	if asKey {
		dst = append(dst, '"')
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, intPart...)
	if dot {
		dst = append(dst, '.')
		if len(frac) == 0 {
			frac = []byte{'0'}
		}
		dst = append(dst, frac...)
	}
	dst = append(dst, exp...)
	if asKey {
		dst = append(dst, '"')
	}
	return dst, nil
}

// checkNumberEnd rejects number-like tokens that are valid Python but not
// plain decimal literals, and numbers glued to other characters.
func (p *parser) checkNumberEnd(start, end int, intPart []byte, float bool) error {
	if end >= len(p.src) {
		return nil
	}
	switch c := p.src[end]; {
	case c == 'j' || c == 'J':
		return p.fail(start, "complex numbers have no JSON form")
	case !float && string(intPart) == "0" && isRadix(c):
		return p.fail(start, "hexadecimal, octal and binary integers are not supported")
	case c == '_':
		return p.fail(start, "underscores in numbers are not supported")
	case isNameStart(c) || c == '.':
		return p.fail(start, "invalid number")
	}
	return nil
}

// trimZeros drops leading zeros JSON forbids. Python itself rejects them in
// ints other than 0 ("007"), but allows them in floats ("007.5").
func (p *parser) trimZeros(start int, intPart []byte, float bool) ([]byte, error) {
	if len(intPart) == 0 {
		return []byte{'0'}, nil
	}
	i := 0
	for i < len(intPart)-1 && intPart[i] == '0' {
		i++
	}
	if i > 0 && !float && intPart[i] != '0' {
		return nil, p.fail(start, "leading zeros in integers are not allowed")
	}
	return intPart[i:], nil
}

func skipDigits(src []byte, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isNumberStart(c byte) bool { return isDigit(c) || c == '-' || c == '+' || c == '.' }

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isRadix(c byte) bool {
	switch c {
	case 'x', 'X', 'o', 'O', 'b', 'B':
		return true
	}
	return false
}

// lower folds an ASCII name for case-insensitive matching; names are short.
func lower(b []byte) string {
	s := []byte(string(b))
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			s[i] = c + 'a' - 'A'
		}
	}
	return string(s)
}

// clip keeps error messages short when a name is absurdly long.
func clip(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
