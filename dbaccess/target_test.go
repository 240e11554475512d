package dbaccess

import (
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

func TestParsePattern(t *testing.T) {
	valid := []struct {
		in   string
		want Pattern
	}{
		{"localhost/db", Pattern{Host: "localhost", Database: "db"}},
		{"127.0.0.1:5432/db", Pattern{Host: "127.0.0.1", Port: "5432", Database: "db"}},
		{"db.example.com:*/app_*", Pattern{Host: "db.example.com", Port: "*", Database: "app_*"}},
		{"*/*", Pattern{Host: "*", Database: "*"}},
		{"10.0.0.?/db", Pattern{Host: "10.0.0.?", Database: "db"}},
		{"[::1]:5432/db", Pattern{Host: "::1", Port: "5432", Database: "db"}},
		{"::1/db", Pattern{Host: "::1", Database: "db"}},
	}
	for _, c := range valid {
		got, err := ParsePattern(c.in)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParsePattern(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}

	invalid := []string{
		"",
		"localhost",      // no database
		"/db",            // no host
		"localhost/",     // empty database
		"h/[db",          // bad database glob
		"h[/db",          // bad host glob
		"h:[/db",         // bad port glob
		"h/db[a-",        // unterminated class
		"127.0.0.1:5432", // no database
	}
	for _, in := range invalid {
		if p, err := ParsePattern(in); err == nil {
			t.Errorf("ParsePattern(%q) = %#v, want an error", in, p)
		} else if !strings.Contains(err.Error(), "allow pattern") {
			t.Errorf("ParsePattern(%q): error %q does not say which flag value is wrong", in, err)
		}
	}
}

// TestParsePatternRoundTrip checks that what String prints parses back to the
// same pattern: the FORBIDDEN message tells the caller what to ask for.
func TestParsePatternRoundTrip(t *testing.T) {
	for _, in := range []string{"localhost/db", "127.0.0.1:5432/db", "[::1]:5432/db", "*/*", "h:*/a?b"} {
		p, err := ParsePattern(in)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", in, err)
		}
		back, err := ParsePattern(p.String())
		if err != nil || back != p {
			t.Errorf("ParsePattern(%q).String() = %q, which parses to %#v, %v", in, p.String(), back, err)
		}
	}
}

// TestParsePatternIPv6WithoutPort: "[::1]/db" is the obvious way to allow the
// IPv6 loopback on any port.
func TestParsePatternIPv6WithoutPort(t *testing.T) {
	p, err := ParsePattern("[::1]/db")
	if err != nil {
		t.Fatal(err)
	}
	pol := NewPolicy("", []Pattern{p})
	if _, err := pol.Resolve("postgresql://u@[::1]:5432/db"); err != nil {
		t.Fatal("ParsePattern keeps the brackets of an IPv6 literal without a port (Host \"[::1]\"), which path.Match reads as a character class: the pattern never matches ::1 (it matches the hosts \":\" and \"1\"): ", err)
	}
	if _, err := pol.Resolve("host=1 dbname=db"); err == nil {
		t.Errorf("pattern %q allows host \"1\"", "[::1]/db")
	}
}

func mustPatterns(t testing.TB, specs ...string) []Pattern {
	t.Helper()
	var out []Pattern
	for _, s := range specs {
		p, err := ParsePattern(s)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", s, err)
		}
		out = append(out, p)
	}
	return out
}

func TestResolve(t *testing.T) {
	cases := []struct {
		name      string
		allow     []string
		requested string
		wantType  apierr.Type // "" means allowed
		wantName  string
		mention   string // the error message names this
	}{
		{name: "no allow list", requested: "postgresql://u:pw@127.0.0.1:5432/db", wantType: apierr.Forbidden, mention: "--allow-db-connection"},
		{name: "no allow list keyword", requested: "host=127.0.0.1 dbname=db", wantType: apierr.Forbidden},
		{name: "exact match", allow: []string{"127.0.0.1:5432/db"}, requested: "postgresql://u:pw@127.0.0.1:5432/db", wantName: "127.0.0.1:5432/db"},
		{name: "default port matches 5432", allow: []string{"127.0.0.1:5432/db"}, requested: "postgresql://u:pw@127.0.0.1/db", wantName: "127.0.0.1:5432/db"},
		{name: "port mismatch", allow: []string{"127.0.0.1:5432/db"}, requested: "postgresql://u:pw@127.0.0.1:5433/db", wantType: apierr.Forbidden, mention: "127.0.0.1:5433/db"},
		{name: "database mismatch", allow: []string{"127.0.0.1:5432/db"}, requested: "postgresql://u:pw@127.0.0.1:5432/other", wantType: apierr.Forbidden, mention: "127.0.0.1:5432/other"},
		{name: "host mismatch", allow: []string{"127.0.0.1:5432/db"}, requested: "postgresql://u:pw@127.0.0.2:5432/db", wantType: apierr.Forbidden},
		{name: "host is not a prefix", allow: []string{"db.example.com/db"}, requested: "postgresql://u@db.example.com.evil.net/db", wantType: apierr.Forbidden},
		{name: "port omitted matches any port", allow: []string{"127.0.0.1/db"}, requested: "postgresql://u@127.0.0.1:6543/db", wantName: "127.0.0.1:6543/db"},
		{name: "port omitted matches default", allow: []string{"127.0.0.1/db"}, requested: "postgresql://u@127.0.0.1/db", wantName: "127.0.0.1:5432/db"},
		{name: "wildcard database", allow: []string{"127.0.0.1/*"}, requested: "postgresql://u@127.0.0.1:5432/anything", wantName: "127.0.0.1:5432/anything"},
		{name: "database glob", allow: []string{"127.0.0.1/app_*"}, requested: "postgresql://u@127.0.0.1/app_test", wantName: "127.0.0.1:5432/app_test"},
		{name: "database glob mismatch", allow: []string{"127.0.0.1/app_*"}, requested: "postgresql://u@127.0.0.1/prod", wantType: apierr.Forbidden},
		{name: "host glob", allow: []string{"10.0.0.*:5432/db"}, requested: "postgresql://u@10.0.0.7/db", wantName: "10.0.0.7:5432/db"},
		{name: "port glob", allow: []string{"h:54*/db"}, requested: "postgresql://u@h:5433/db", wantName: "h:5433/db"},
		{name: "second pattern matches", allow: []string{"a/db", "b/db"}, requested: "postgresql://u@b/db", wantName: "b:5432/db"},
		{name: "fallback host not allowed", allow: []string{"127.0.0.1/*"}, requested: "postgresql://u:pw@127.0.0.1:5432,10.9.9.9:5432/db", wantType: apierr.Forbidden, mention: "10.9.9.9"},
		{name: "fallback host allowed too", allow: []string{"127.0.0.1/*", "10.9.9.9:5432/db"}, requested: "postgresql://u:pw@127.0.0.1:5432,10.9.9.9:5432/db", wantName: "127.0.0.1:5432/db"},
		{name: "keyword fallback host", allow: []string{"127.0.0.1/*"}, requested: "host=127.0.0.1,10.9.9.9 port=55432,5432 dbname=x", wantType: apierr.Forbidden, mention: "10.9.9.9:5432/x"},
		{name: "fallback on other port", allow: []string{"127.0.0.1:55432/*"}, requested: "host=127.0.0.1,127.0.0.1 port=55432,5432 dbname=x", wantType: apierr.Forbidden, mention: "127.0.0.1:5432/x"},
		{name: "host in query", allow: []string{"127.0.0.1/*"}, requested: "postgresql:///db?host=10.9.9.9", wantType: apierr.Forbidden, mention: "10.9.9.9"},
		{name: "keyword string", allow: []string{"127.0.0.1:5432/db"}, requested: "host=127.0.0.1 port=5432 dbname=db user=u password=pw sslmode=disable", wantName: "127.0.0.1:5432/db"},
		{name: "keyword string other db", allow: []string{"127.0.0.1:5432/db"}, requested: "host=127.0.0.1 port=5432 dbname=prod user=u", wantType: apierr.Forbidden},
		{name: "ipv6", allow: []string{"[::1]:5432/db"}, requested: "postgresql://u@[::1]:5432/db", wantName: "[::1]:5432/db"},
		{name: "unix socket not matched by host wildcard", allow: []string{"*/*"}, requested: "host=/tmp/sock dbname=db", wantType: apierr.Forbidden},
		{name: "unix socket in URL not matched by wildcard", allow: []string{"*/*"}, requested: "postgresql://u@/db?host=/tmp/sock", wantType: apierr.Forbidden},
		{name: "invalid URL", allow: []string{"*/*"}, requested: "postgresql://u@host:99999/db", wantType: apierr.InvalidParams},
		{name: "invalid escape", requested: "postgresql://u:pa%ss@host/db", wantType: apierr.InvalidParams},
		{name: "invalid keyword string", requested: "host=h port=abc", wantType: apierr.InvalidParams},
		{name: "not a connection string", requested: "not a url at all", wantType: apierr.InvalidParams},
		{name: "bad sslmode", allow: []string{"*/*"}, requested: "postgresql://u@h/db?sslmode=bogus", wantType: apierr.InvalidParams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol := NewPolicy("postgresql://op@127.0.0.1:5432/opdb", mustPatterns(t, c.allow...))
			db, err := pol.Resolve(c.requested)
			if c.wantType == "" {
				if err != nil {
					t.Fatalf("Resolve(%q): %v", c.requested, err)
				}
				if db.Name != c.wantName {
					t.Errorf("Name = %q, want %q", db.Name, c.wantName)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(%q) = %s, want %s", c.requested, db.Name, c.wantType)
			}
			e, ok := apierr.As(err)
			if !ok {
				t.Fatalf("Resolve(%q): %v is not an apierr.Error", c.requested, err)
			}
			if e.Type != c.wantType {
				t.Errorf("Resolve(%q): type %s, want %s (%s)", c.requested, e.Type, c.wantType, e.Message)
			}
			if e.Details["param"] != "db_connection" {
				t.Errorf("param = %v, want db_connection", e.Details["param"])
			}
			if c.mention != "" && !strings.Contains(e.Message, c.mention) {
				t.Errorf("message %q does not mention %q", e.Message, c.mention)
			}
		})
	}
}

// TestResolveUnixSocketPattern: libpq names a local server by its socket
// directory, and the FORBIDDEN message tells the caller to ask for
// "<dir>:<port>/<db>". The operator must be able to allow that.
func TestResolveUnixSocketPattern(t *testing.T) {
	// A Pattern built directly works: matching itself handles socket hosts.
	pol := NewPolicy("", []Pattern{{Host: "/tmp/sock", Database: "db"}})
	db, err := pol.Resolve("host=/tmp/sock dbname=db")
	if err != nil {
		t.Fatalf("socket pattern: %v", err)
	}
	if db.Name != "/tmp/sock:5432/db" {
		t.Errorf("Name = %q", db.Name)
	}
	if _, err := pol.Resolve("host=/tmp/other dbname=db"); apierr.TypeOf(err) != apierr.Forbidden {
		t.Errorf("other socket: %v, want FORBIDDEN", err)
	}
	if _, err := pol.Resolve("host=/tmp/sock dbname=prod"); apierr.TypeOf(err) != apierr.Forbidden {
		t.Errorf("other database on the socket: %v, want FORBIDDEN", err)
	}

	// The flag's syntax must express it too.
	_, noAllow := NewPolicy("", nil).Resolve("host=/tmp/sock dbname=db")
	e, _ := apierr.As(noAllow)
	if e == nil || !strings.Contains(e.Message, "/tmp/sock:5432/db") {
		t.Fatalf("no-allow-list message %v does not say what to allow", noAllow)
	}
	for _, spec := range []string{"/tmp/sock/db", "/tmp/sock:5432/db"} {
		p, err := ParsePattern(spec)
		if err != nil {
			t.Fatalf("ParsePattern(%q) fails (%v): it cuts at the first \"/\", so a unix-socket host can never be allowed, although the FORBIDDEN message tells the caller to ask for exactly this pattern", spec, err)
		}
		if _, err := NewPolicy("", []Pattern{p}).Resolve("host=/tmp/sock dbname=db"); err != nil {
			t.Errorf("pattern %q does not allow the socket: %v", spec, err)
		}
	}
}

// TestResolveReadsNoFilesBeforeCheck: a request naming a database the
// operator did not allow must be refused as FORBIDDEN without the server
// touching the files its connection string names (sslrootcert, servicefile,
// ...), and the answer must not depend on whether those files exist.
func TestResolveReadsNoFilesBeforeCheck(t *testing.T) {
	policies := map[string]*Policy{
		"no allow list":   NewPolicy("", nil),
		"other host only": NewPolicy("", mustPatterns(t, "192.0.2.1/*")),
	}
	for name, pol := range policies {
		t.Run(name, func(t *testing.T) {
			var msgs []string
			for _, dsn := range []string{
				"host=10.9.9.9 dbname=x sslmode=verify-ca sslrootcert=/nonexistent/ca.pem",
				"host=10.9.9.9 dbname=x sslmode=verify-ca sslrootcert=/etc/hostname",
				"host=10.9.9.9 dbname=x servicefile=/nonexistent/svc service=a",
				"host=10.9.9.9 dbname=x servicefile=/etc/passwd service=root",
			} {
				_, err := pol.Resolve(dsn)
				if apierr.TypeOf(err) != apierr.Forbidden {
					t.Fatalf("Resolve calls pgx.ParseConfig, which reads sslrootcert/sslcert/sslkey/servicefile/passfile from the server's disk, before the allow-list check: %q gives %v instead of FORBIDDEN, and the message reveals whether a server file exists", dsn, err)
				}
				msgs = append(msgs, err.Error())
			}
			for _, m := range msgs {
				if strings.Contains(m, "nonexistent") || strings.Contains(m, "/etc/") {
					t.Errorf("message names a server file: %s", m)
				}
			}
		})
	}
}

func TestResolveDefault(t *testing.T) {
	db, err := NewPolicy("postgresql://op:opsecret@127.0.0.1:5432/opdb", nil).Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if db.Name != "127.0.0.1:5432/opdb" {
		t.Errorf("Name = %q", db.Name)
	}
	// The default is used even though no db_connection is allowed.
	_, err = NewPolicy("postgresql://op:op%zzsecret@127.0.0.1:99999/opdb", nil).Resolve("")
	e, ok := apierr.As(err)
	if !ok || e.Type != apierr.DatabaseError {
		t.Fatalf("invalid default URL: %v, want DATABASE_ERROR", err)
	}
	if strings.Contains(e.Error(), "secret") {
		t.Errorf("message leaks the password: %s", e.Error())
	}
	if !strings.Contains(e.Message, "--database-url") {
		t.Errorf("message %q does not say what to fix", e.Message)
	}
}
