package dbaccess

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// TestNoPasswordLeaks resolves connection strings with passwords, valid and
// not, under several policies, and checks no message, detail or name carries
// the password (raw or percent-decoded).
func TestNoPasswordLeaks(t *testing.T) {
	const pw = "S3cr3tPw"
	inputs := []string{
		"postgresql://u:" + pw + "@127.0.0.1:5432/db",
		"postgres://u:" + pw + "@10.1.2.3/x",
		"postgresql://u:S3cr%33tPw@10.1.2.3/x", // percent-encoded
		"postgresql://u:" + pw + "@127.0.0.1,10.9.9.9/db",
		"host=10.1.2.3 user=u password=" + pw + " dbname=x",
		"host=10.1.2.3 user=u password='" + pw + "' dbname=x",
		// Malformed: parsing fails.
		"postgresql://u:pa%ss@host/db",
		"postgresql://u:" + pw + "%zz@host/db",
		"postgresql://u:" + pw + "@host:99999/db",
		"postgresql://u:" + pw + "@host:abc/db",
		"postgresql://u:" + pw + "@[::1/db",
		"postgresql://u:" + pw + "@host/db?sslmode=bogus",
		"postgresql://u:" + pw + "@host/db?connect_timeout=x",
		"host=h password=" + pw + " port=abc",
		"host=h password='" + pw + " dbname=x",
		"host=h password=" + pw + " dbname=x garbage",
		"password=" + pw + " host=h port=99999",
		"postgresql://u:" + pw + "@",
	}
	policies := map[string]*Policy{
		"none":  NewPolicy("", nil),
		"all":   NewPolicy("", mustPatterns(t, "*/*", "*:*/*")),
		"local": NewPolicy("", mustPatterns(t, "127.0.0.1/db")),
	}
	for pname, pol := range policies {
		for _, in := range inputs {
			db, err := pol.Resolve(in)
			for _, secret := range []string{pw, "pa%ss", "S3cr%33tPw"} {
				if !strings.Contains(in, secret) && !(secret == pw && strings.Contains(in, "S3cr%33tPw")) {
					continue
				}
				if db != nil && strings.Contains(db.Name, secret) {
					t.Errorf("%s: %q: Name %q contains the password", pname, in, db.Name)
				}
				if err != nil {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("%s: %q: error leaks the password: %s", pname, in, err)
					}
					if e, ok := apierr.As(err); ok {
						b, _ := json.Marshal(e.Details)
						if strings.Contains(string(b), secret) {
							t.Errorf("%s: %q: details leak the password: %s", pname, in, b)
						}
					}
				}
			}
		}
	}
}

// TestConnectErrorRedacted dials a closed port with a password: the error
// must not carry it.
func TestConnectErrorRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url := "postgresql://u:hunter2@127.0.0.1:" + strconv.Itoa(port) + "/db?sslmode=disable&connect_timeout=5"
	db, err := NewPolicy("", mustPatterns(t, "127.0.0.1/db")).Resolve(url)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(db.Name, "hunter2") || strings.Contains(db.Name, "u@") {
		t.Errorf("Name %q carries credentials", db.Name)
	}
	_, err = db.Connect(context.Background())
	e, ok := apierr.As(err)
	if !ok || e.Type != apierr.DatabaseError {
		t.Fatalf("connect to a closed port: %v, want DATABASE_ERROR", err)
	}
	if strings.Contains(e.Message, "hunter2") {
		t.Errorf("message leaks the password: %s", e.Message)
	}
	if !strings.Contains(e.Message, db.Name) {
		t.Errorf("message %q does not name the target %s", e.Message, db.Name)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = db.Connect(ctx)
	if apierr.TypeOf(err) != apierr.Cancelled {
		t.Errorf("connect with a cancelled context: %v, want CANCELLED", err)
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ s, secret, want string }{
		{"password is hunter2", "hunter2", "password is ********"},
		{"hunter2 and hunter2", "hunter2", "******** and ********"},
		{"nothing here", "hunter2", "nothing here"},
		{"empty secret is a no-op", "", "empty secret is a no-op"},
		{"", "x", ""},
		{"postgresql://u:pw@h/db failed", "postgresql://u:pw@h/db", "******** failed"},
	}
	for _, c := range cases {
		if got := Redact(c.s, c.secret); got != c.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", c.s, c.secret, got, c.want)
		}
	}
}

// TestRedactPassword: connect errors lose every URL password and
// password=value pair whatever its length, and the password itself where it
// is long enough to tell from ordinary text; a short one does not garble
// the message ("p" used to turn "dial tcp" into "dial tc********").
func TestRedactPassword(t *testing.T) {
	cases := []struct{ s, password, want string }{
		{"dial tcp 127.0.0.1:5432: connect: connection refused", "p", "dial tcp 127.0.0.1:5432: connect: connection refused"},
		{"dial tcp: lookup h", "tcp", "dial tcp: lookup h"},
		{"failed for postgresql://u:p@h/db", "p", "failed for postgresql://u:********@h/db"},
		{"failed for postgres://:x@h", "x", "failed for postgres://:********@h"},
		{"bad password=p here", "p", "bad password=******** here"},
		{"bad password = 'a b\\'c' here", "a b'c", "bad password = ******** here"},
		{"server said hunter2 twice: hunter2", "hunter2", "server said ******** twice: ********"},
		{"nothing to hide", "", "nothing to hide"},
	}
	for _, c := range cases {
		if got := redactPassword(c.s, c.password); got != c.want {
			t.Errorf("redactPassword(%q, %q) = %q, want %q", c.s, c.password, got, c.want)
		}
	}
}

// TestConnectErrorShortPassword: a one-letter password leaves the connect
// error readable.
func TestConnectErrorShortPassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	db, err := NewPolicy("", mustPatterns(t, "127.0.0.1/db")).Resolve("postgresql://u:p@127.0.0.1:" + strconv.Itoa(port) + "/db?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Connect(context.Background())
	e, ok := apierr.As(err)
	if !ok || e.Type != apierr.DatabaseError {
		t.Fatalf("connect to a closed port: %v, want DATABASE_ERROR", err)
	}
	if strings.Contains(e.Message, "*") || !strings.Contains(e.Message, "dial") {
		t.Errorf("message garbled by redaction of a short password: %s", e.Message)
	}
}
