package dbaccess

import (
	"regexp"
	"strings"
)

// Requested reports whether the call named its own db_connection (false for
// the operator's database).
func (d *Database) Requested() bool { return d.req != nil }

// ConnectionWithoutPassword is the request's connection string re-rendered
// in keyword/value form without the password: passed back as
// db_connection, it resolves to the same hosts and ports in the same order,
// database, user and options. It is empty for the operator's database,
// which is named by omitting db_connection.
func (d *Database) ConnectionWithoutPassword() string {
	if d.req == nil {
		return ""
	}
	return d.req.render(false)
}

// HasPassword reports whether the connection carries a password.
func (d *Database) HasPassword() bool { return d.config.Password != "" }

// Host is the first host the connection tries: a name, an address or a
// socket directory.
func (d *Database) Host() string { return d.config.Host }

// Port is the first host's port.
func (d *Database) Port() uint16 { return d.config.Port }

// Database is the database name the connection logs in to.
func (d *Database) Database() string { return d.config.Database }

// minSubstringSecret is the shortest password redactPassword removes
// wherever it occurs: a shorter one also occurs inside ordinary words
// ("p" in "dial tcp"), and replacing it there would garble the message
// while hiding little.
const minSubstringSecret = 4

// urlPassword matches the password part of a connection URL and
// keywordPassword a password=value pair, so they are redacted whatever the
// password's length. These are constants in effect: compiled once, never
// changed.
var (
	urlPassword     = regexp.MustCompile(`(postgres(?:ql)?://[^:@/\s]*:)[^@\s]*@`)
	keywordPassword = regexp.MustCompile(`(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|\S*)`)
)

// redactPassword removes password from a message a driver wrote: any URL
// password and password=value pair, and the password itself wherever it
// occurs when it is long enough to be told from ordinary text.
func redactPassword(s, password string) string {
	s = urlPassword.ReplaceAllString(s, "${1}********@")
	s = keywordPassword.ReplaceAllString(s, "${1}********")
	if len(password) >= minSubstringSecret {
		s = strings.ReplaceAll(s, password, "********")
	}
	return s
}
