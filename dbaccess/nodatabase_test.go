package dbaccess

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// errNoServer is what the tests' dialer answers: no server anywhere, so no
// test depends on what listens on this machine's default socket.
var errNoServer = errors.New("connection refused (test dialer)")

// withoutServer makes d's connections fail at once, whatever host it names.
func withoutServer(d *Database) {
	d.config.DialFunc = func(context.Context, string, string) (net.Conn, error) { return nil, errNoServer }
	d.config.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
}

// clearDatabaseEnv unsets (sets empty, which the driver and the policy both
// take as unset) every libpq variable that says where a database is.
func clearDatabaseEnv(t *testing.T) {
	for _, name := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGSERVICEFILE"} {
		t.Setenv(name, "")
	}
}

// TestConnectNoDatabaseGiven: when nothing names the operator's database (no
// URL, no PGHOST, PGPORT, PGDATABASE, PGUSER or PGSERVICE), a failure to
// connect says that no database was given and how to give one, rather than
// naming the driver's built-in default as if it were configured. As soon as
// anything names the database, the failure is the usual "cannot connect".
func TestConnectNoDatabaseGiven(t *testing.T) {
	serviceFile := filepath.Join(t.TempDir(), "pg_service.conf")
	if err := os.WriteFile(serviceFile, []byte("[vectors]\nhost=/nonexistent\ndbname=vectors\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		url   string
		env   map[string]string
		given bool
	}{
		{name: "nothing", given: false},
		{name: "a URL", url: "postgres://app@db.internal:5432/vectors", given: true},
		{name: "a keyword/value string", url: "host=db.internal dbname=vectors", given: true},
		{name: "PGHOST", env: map[string]string{"PGHOST": "db.internal"}, given: true},
		{name: "PGPORT", env: map[string]string{"PGPORT": "6543"}, given: true},
		{name: "PGDATABASE", env: map[string]string{"PGDATABASE": "vectors"}, given: true},
		{name: "PGUSER", env: map[string]string{"PGUSER": "app"}, given: true},
		{name: "PGSERVICE", env: map[string]string{"PGSERVICE": "vectors", "PGSERVICEFILE": serviceFile}, given: true},
		// How to connect is not where: the default is still the driver's.
		{name: "only PGPASSWORD and PGSSLMODE", env: map[string]string{"PGPASSWORD": "pw-0815", "PGSSLMODE": "disable"}, given: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearDatabaseEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			db, err := NewPolicy(c.url, nil).Resolve("")
			if err != nil {
				t.Fatal(err)
			}
			withoutServer(db)
			_, err = db.Connect(context.Background())
			e, ok := apierr.As(err)
			if !ok || e.Type != apierr.DatabaseError || e.Reason != ReasonUnreachable {
				t.Fatalf("Connect: %v, want DATABASE_ERROR with reason %s", err, ReasonUnreachable)
			}
			if !errors.Is(err, errNoServer) {
				t.Errorf("the driver's error is not wrapped: %v", err)
			}
			said := strings.Contains(e.Message, "no database was given")
			if said == c.given {
				t.Errorf("given=%v, but the message is: %s", c.given, e.Message)
			}
			if c.given {
				if !strings.HasPrefix(e.Message, "cannot connect to "+db.Name+": ") {
					t.Errorf("message: %s", e.Message)
				}
				return
			}
			for _, want := range []string{"--database-url", "DATABASE_URL=postgres://user@host:5432/db", "PGHOST", db.Name, errNoServer.Error()} {
				if !strings.Contains(e.Message, want) {
					t.Errorf("message lacks %q: %s", want, e.Message)
				}
			}
			if pw := c.env["PGPASSWORD"]; pw != "" && strings.Contains(e.Message, pw) {
				t.Errorf("message shows the password: %s", e.Message)
			}
		})
	}
}

// TestConnectNoDatabaseGivenCancelled: a cancelled connect is CANCELLED,
// whatever named the database.
func TestConnectNoDatabaseGivenCancelled(t *testing.T) {
	clearDatabaseEnv(t)
	db, err := NewPolicy("", nil).Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	withoutServer(db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Connect(ctx); apierr.TypeOf(err) != apierr.Cancelled {
		t.Errorf("Connect with a cancelled context: %v, want CANCELLED", err)
	}
}

// TestConnectRequestedNeverUnset: a request's own db_connection names its
// database; its failure is never "no database was given", even when the
// operator's default is named by nothing.
func TestConnectRequestedNeverUnset(t *testing.T) {
	clearDatabaseEnv(t)
	p := NewPolicy("", []Pattern{{Host: "127.0.0.1", Port: "1", Database: "vectors"}})
	db, err := p.Resolve("postgres://app:secret-4711@127.0.0.1:1/vectors")
	if err != nil {
		t.Fatal(err)
	}
	withoutServer(db)
	_, err = db.Connect(context.Background())
	if msg := apierr.MessageOf(err); !strings.HasPrefix(msg, "cannot connect to 127.0.0.1:1/vectors: ") || strings.Contains(msg, "secret-4711") {
		t.Errorf("Connect: %s", msg)
	}
}
