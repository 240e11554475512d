package dbaccess

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file takes a request's connection string apart the way libpq would,
// without interpreting any value and without touching the file system. It
// is stricter than libpq: wherever libpq, pgx or a reader could disagree on
// where one parameter ends and the next begins, the string is refused.

// connParams is a connection string taken apart: each libpq keyword it sets,
// with its value unquoted and decoded.
type connParams struct {
	values map[string]string
	keys   []string // in the order they appear, so messages are deterministic
}

// syntaxError says why a connection string could not be taken apart. Its
// text never quotes the input: a malformed string may carry a password
// anywhere in it.
type syntaxError struct{ reason string }

func (e *syntaxError) Error() string { return e.reason }

func syntaxErrorf(format string, args ...any) error {
	return &syntaxError{reason: fmt.Sprintf(format, args...)}
}

func (p *connParams) set(key, value string) error {
	if !isKeyword(key) {
		return syntaxErrorf("a parameter name is not a libpq keyword (lower-case letters, digits and _)")
	}
	if _, dup := p.values[key]; dup {
		return syntaxErrorf("%s is given twice", key)
	}
	if strings.IndexByte(value, 0) >= 0 || !utf8.ValidString(value) {
		return syntaxErrorf("the value of %s is not valid UTF-8 text", key)
	}
	p.values[key] = value
	p.keys = append(p.keys, key)
	return nil
}

func isKeyword(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// parseConnString takes a libpq connection string apart: a URL when it
// starts with postgresql:// or postgres:// (as libpq and pgx decide),
// keyword/value pairs otherwise.
func parseConnString(s string) (*connParams, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, syntaxErrorf("it contains a NUL byte")
	}
	if !utf8.ValidString(s) {
		return nil, syntaxErrorf("it is not valid UTF-8")
	}
	for _, prefix := range []string{"postgresql://", "postgres://"} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			return parseURL(rest)
		}
	}
	return parseKeywordValue(s)
}

// isSpace is C's isspace in the C locale, which libpq uses to separate
// keyword/value pairs: \v and \f separate as much as a space does.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// parseKeywordValue reads libpq's "key=value key='quoted value'" form:
// spaces may surround "=", a quoted value may hold anything with \' and \\
// escaped, an unquoted value runs to the next space with backslash escapes.
// Refused as ambiguous although libpq accepts them: a quoted value directly
// followed by the next keyword (libpq reads "dbname='x'sslrootcert=f" as
// two parameters; most readers see one), a quote inside an unquoted value,
// a value after "= " that itself holds "=" ("host= dbname=x" sets host to
// "dbname=x" in libpq), a trailing backslash, and unquoted bytes outside
// printable ASCII (what counts as a space there depends on the C locale).
func parseKeywordValue(s string) (*connParams, error) {
	p := &connParams{values: make(map[string]string)}
	i := skipSpace(s, 0)
	if i == len(s) {
		return nil, syntaxErrorf("it is empty")
	}
	for i < len(s) {
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' {
			i++
		}
		key := s[start:i]
		if key == "" {
			return nil, syntaxErrorf("a parameter has no name before its =")
		}
		i = skipSpace(s, i)
		if i == len(s) || s[i] != '=' {
			return nil, syntaxErrorf("a parameter name is not followed by =")
		}
		i++
		afterEquals := i
		i = skipSpace(s, i)
		spaceBeforeValue := i > afterEquals
		var value strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' {
					i++
					if i == len(s) {
						break
					}
					value.WriteByte(s[i])
					i++
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				value.WriteByte(c)
			}
			if !closed {
				return nil, syntaxErrorf("a quoted value is not closed")
			}
			if i < len(s) && !isSpace(s[i]) {
				return nil, syntaxErrorf("a quoted value is not followed by a space; separate parameters with spaces")
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				c := s[i]
				lowest := byte('!') // a space ends the value unless escaped
				if c == '\\' {
					i++
					if i == len(s) {
						return nil, syntaxErrorf("it ends with a backslash")
					}
					c, lowest = s[i], ' '
				} else if c == '\'' {
					return nil, syntaxErrorf("a quote inside an unquoted value; quote the whole value")
				}
				if c < lowest || c >= 0x7f {
					return nil, syntaxErrorf("an unquoted value holds a character other than printable ASCII; quote the value")
				}
				value.WriteByte(c)
				i++
			}
			if spaceBeforeValue && strings.Contains(value.String(), "=") {
				return nil, syntaxErrorf("a parameter's value is missing after its = (the next parameter would be read as its value); quote empty values as ''")
			}
		}
		if err := p.set(key, value.String()); err != nil {
			return nil, err
		}
		i = skipSpace(s, i)
	}
	return p, nil
}

// isURLByte reports whether c may appear unencoded in a connection URL: the
// characters RFC 3986 gives a meaning to or leaves alone. Anything else
// (spaces, quotes, #, backslash, non-ASCII) must be percent-encoded, so that
// no reader has to guess.
func isURLByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?[]%", c) >= 0
}

// parseURL reads the part of a postgresql:// URL after its scheme:
// [user[:password]@][host[:port][,host[:port]...]][/dbname][?key=value&...].
// Hosts may be IPv6 literals in brackets; every part is percent-decoded.
// Refused although libpq accepts them: a second "@", or one after the host
// part (libpq ends the user part at the first "@" before any "/", even
// inside what looks like the query), a host that decodes to a comma (libpq
// splits it), a port that is not plain digits, and a "/" inside the dbname.
func parseURL(rest string) (*connParams, error) {
	for i := 0; i < len(rest); i++ {
		if !isURLByte(rest[i]) {
			return nil, syntaxErrorf("a URL holds a character that must be percent-encoded")
		}
	}
	p := &connParams{values: make(map[string]string)}
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		if strings.Count(rest, "@") > 1 || strings.ContainsAny(rest[:at], "/?") {
			return nil, syntaxErrorf("a URL holds an @ outside its user part; percent-encode it as %%40")
		}
		userInfo := rest[:at]
		rest = rest[at+1:]
		rawUser, rawPassword, _ := strings.Cut(userInfo, ":")
		if err := setDecoded(p, "user", rawUser); err != nil {
			return nil, err
		}
		if err := setDecoded(p, "password", rawPassword); err != nil {
			return nil, err
		}
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	if err := parseURLHosts(p, rest[:end]); err != nil {
		return nil, err
	}
	rest = rest[end:]
	if path, ok := strings.CutPrefix(rest, "/"); ok {
		path, rest, _ = strings.Cut(path, "?")
		rest = "?" + rest
		if strings.Contains(path, "/") {
			return nil, syntaxErrorf("a URL's database name holds a /; percent-encode it as %%2F")
		}
		if err := setDecoded(p, "dbname", path); err != nil {
			return nil, err
		}
	}
	query := strings.TrimPrefix(rest, "?")
	if query == "" {
		return p, nil
	}
	for _, pair := range strings.Split(query, "&") {
		rawKey, rawValue, found := strings.Cut(pair, "=")
		if !found || strings.Contains(rawValue, "=") {
			return nil, syntaxErrorf("a URL query parameter is not key=value (percent-encode = in values as %%3D)")
		}
		key, err := percentDecode(rawKey)
		if err != nil {
			return nil, err
		}
		value, err := percentDecode(rawValue)
		if err != nil {
			return nil, err
		}
		if err := p.set(key, value); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// setDecoded sets key to raw percent-decoded, unless that is empty: libpq
// leaves an empty user, password or dbname unset.
func setDecoded(p *connParams, key, raw string) error {
	value, err := percentDecode(raw)
	if err != nil || value == "" {
		return err
	}
	return p.set(key, value)
}

// parseURLHosts reads "host[:port],[ipv6]:port,..." into the host and port
// lists libpq would build: one port per host, "" for the default.
func parseURLHosts(p *connParams, netloc string) error {
	if netloc == "" {
		return nil
	}
	specs := strings.Split(netloc, ",")
	hosts := make([]string, len(specs))
	ports := make([]string, len(specs))
	anyPort := false
	for i, spec := range specs {
		var rawHost, afterHost string
		if inner, ok := strings.CutPrefix(spec, "["); ok {
			close := strings.IndexByte(inner, ']')
			if close <= 0 {
				return syntaxErrorf("a URL's IPv6 host is empty or has no closing ]")
			}
			rawHost, afterHost = inner[:close], inner[close+1:]
		} else {
			colon := strings.IndexByte(spec, ':')
			if colon < 0 {
				colon = len(spec)
			}
			rawHost, afterHost = spec[:colon], spec[colon:]
		}
		if strings.ContainsAny(rawHost, "[]") {
			return syntaxErrorf("a URL's host holds [ or ] outside an IPv6 literal")
		}
		host, err := percentDecode(rawHost)
		if err != nil {
			return err
		}
		if strings.Contains(host, ",") {
			return syntaxErrorf("a URL's host decodes to a comma, which libpq reads as a host separator")
		}
		if host == "" && len(specs) > 1 {
			return syntaxErrorf("a URL's host list has an empty host")
		}
		hosts[i] = host
		if afterHost != "" {
			port, ok := strings.CutPrefix(afterHost, ":")
			if !ok || port == "" || strings.Trim(port, "0123456789") != "" {
				return syntaxErrorf("a URL's port is not a number")
			}
			ports[i] = port
			anyPort = true
		}
	}
	if err := p.set("host", strings.Join(hosts, ",")); err != nil {
		return err
	}
	if anyPort {
		return p.set("port", strings.Join(ports, ","))
	}
	return nil
}

// percentDecode undoes %XX escapes as libpq does; "+" stays a plus. A
// malformed escape, %00, or bytes that do not decode to UTF-8 are refused.
func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		hi, ok1 := hexValue(s, i+1)
		lo, ok2 := hexValue(s, i+2)
		if !ok1 || !ok2 {
			return "", syntaxErrorf("a URL holds a %% that is not followed by two hex digits")
		}
		if hi == 0 && lo == 0 {
			return "", syntaxErrorf("a URL holds %%00")
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	if !utf8.ValidString(b.String()) {
		return "", syntaxErrorf("a URL's percent-escapes do not decode to UTF-8 text")
	}
	return b.String(), nil
}

func hexValue(s string, i int) (byte, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
