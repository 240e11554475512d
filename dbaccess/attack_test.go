package dbaccess

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// serverFiles makes one path of each kind a request could name: a file, a
// missing file, a directory and a FIFO (which hangs whoever opens it for
// reading), plus /dev/zero (which never ends).
func serverFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "file.pem")
	if err := os.WriteFile(file, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"existing file": file,
		"missing file":  filepath.Join(dir, "missing.pem"),
		"directory":     dir,
		"fifo":          fifo,
		"device":        "/dev/zero",
	}
}

// resolveWithin runs Resolve, failing the test instead of hanging when
// Resolve blocks (as opening a FIFO would).
func resolveWithin(t *testing.T, pol *Policy, dsn string) (*Database, error) {
	t.Helper()
	type result struct {
		db  *Database
		err error
	}
	done := make(chan result, 1)
	go func() {
		db, err := pol.Resolve(dsn)
		done <- result{db, err}
	}()
	select {
	case r := <-done:
		return r.db, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Resolve(%q) did not return within 10s: it opened a FIFO or a device", dsn)
		return nil, nil
	}
}

// attackStrings name a server file where PATH stands; each tried to slip a
// file key past the old regexp check, or reads a file some other way.
var attackStrings = []string{
	"host=127.0.0.1 dbname='x'sslrootcert=PATH",
	"host=127.0.0.1\vsslrootcert=PATH dbname=x",
	"host=127.0.0.1\fsslrootcert=PATH dbname=x",
	"host=127.0.0.1 dbname=x sslrootcert=PATH",
	"host = 127.0.0.1 dbname = x sslrootcert = PATH",
	"host=127.0.0.1 dbname=x sslmode=verify-ca sslrootcert='PATH'",
	"host=127.0.0.1 dbname=x SSLROOTCERT=PATH",
	"host= sslrootcert=PATH dbname=x",
	"host=127.0.0.1 dbname=x\\ sslrootcert=PATH",
	"host=127.0.0.1 dbname=x sslcert=PATH sslkey=PATH",
	"host=127.0.0.1 dbname=x sslcrl=PATH",
	"host=127.0.0.1 dbname=x sslcrldir=PATH",
	"host=127.0.0.1 dbname=x sslkeylogfile=PATH",
	"host=127.0.0.1 dbname=x sslkey=PATH sslpassword=secret",
	"host=127.0.0.1 dbname=x user=u passfile=PATH",
	"host=127.0.0.1 dbname=x servicefile=PATH service=foo",
	"service=foo",
	"host=127.0.0.1 dbname=x service=foo",
	"postgres://x@127.0.0.1/x?sslrootcert=PATH",
	"postgres://x@h/db?sslrootcert=PATH",
	"postgres://x@127.0.0.1/x?sslrootcert%3DPATH",
	"postgres://x@127.0.0.1/x?ssl%72ootcert=PATH",
	"postgres://x@127.0.0.1/x?sslmode=verify-full&sslrootcert=PATH",
	"postgresql://x@127.0.0.1/x?passfile=PATH",
	"postgresql://x@127.0.0.1/x?servicefile=PATH&service=a",
	"postgresql://x@127.0.0.1/x?sslcert=PATH&sslkey=PATH",
	"postgresql://x@127.0.0.1/x?host=127.0.0.1&sslrootcert=PATH",
	"postgresql://x@127.0.0.1/x?options=-c%20ssl_ca_file%3DPATH",
	"postgresql://x@127.0.0.1/x?x=1@PATH",
}

// TestAttackStringsRefusedWhateverTheFileSystemHolds: every attack string
// is refused, under every policy, with the same answer whether its file
// exists, is missing, is a directory, a FIFO or a device, and the answer
// never names the file.
func TestAttackStringsRefusedWhateverTheFileSystemHolds(t *testing.T) {
	files := serverFiles(t)
	policies := map[string]*Policy{
		"no allow list":  NewPolicy("", nil),
		"allow all":      NewPolicy("", mustPatterns(t, "*/*", "127.0.0.1/x")),
		"allow loopback": NewPolicy("", mustPatterns(t, "127.0.0.1/*", "h/*")),
	}
	for pname, pol := range policies {
		for _, attack := range attackStrings {
			answers := map[string]string{}
			for kind, path := range files {
				dsn := strings.ReplaceAll(attack, "PATH", path)
				db, err := resolveWithin(t, pol, dsn)
				if err == nil {
					t.Errorf("%s: Resolve(%q) = %s, want it refused", pname, dsn, db.Name)
					continue
				}
				e, ok := apierr.As(err)
				if !ok || (e.Type != apierr.Forbidden && e.Type != apierr.InvalidParams) || e.Details["param"] != "db_connection" {
					t.Errorf("%s: Resolve(%q): %v (details %v), want FORBIDDEN or INVALID_PARAMS naming db_connection", pname, dsn, err, e)
					continue
				}
				if strings.Contains(e.Message, path) {
					t.Errorf("%s: Resolve(%q): message names the file: %s", pname, dsn, e.Message)
				}
				answers[kind] = string(e.Type) + ": " + e.Message
			}
			var first string
			for kind, answer := range answers {
				if first == "" {
					first = answer
				} else if answer != first {
					t.Errorf("%s: %q: the answer depends on the file system (%s: %s, another: %s)", pname, attack, kind, answer, first)
				}
			}
		}
	}
}

// TestFileKeysForbiddenOnAllowedHost: on a host the operator allowed, a file
// key is FORBIDDEN and named (only the key, never its value).
func TestFileKeysForbiddenOnAllowedHost(t *testing.T) {
	pol := NewPolicy("", mustPatterns(t, "127.0.0.1/*"))
	for _, key := range []string{"sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir", "sslpassword", "sslkeylogfile", "passfile", "servicefile", "service"} {
		for _, dsn := range []string{
			"host=127.0.0.1 dbname=x " + key + "=/etc/hostname",
			"postgresql://u@127.0.0.1/x?" + key + "=%2Fetc%2Fhostname",
		} {
			_, err := pol.Resolve(dsn)
			e, ok := apierr.As(err)
			if !ok || e.Type != apierr.Forbidden || !strings.Contains(e.Message, key) || strings.Contains(e.Message, "hostname") {
				t.Errorf("Resolve(%q): %v, want FORBIDDEN naming %s and not its value", dsn, err, key)
			}
		}
	}
}

// TestRefusedKeys: keys that are not files but are not safe either are
// INVALID_PARAMS naming the key.
func TestRefusedKeys(t *testing.T) {
	pol := NewPolicy("", mustPatterns(t, "*/*"))
	for _, kv := range []string{
		"options=-csearch_path=evil", "hostaddr=10.9.9.9", "krbsrvname=postgres", "gssencmode=require",
		"sslcertmode=require", "require_auth=none", "replication=database", "client_encoding=latin1",
		"keepalives=0", "load_balance_hosts=random", "statement_cache_capacity=0", "default_query_exec_mode=exec",
		"search_path=evil", "database=other", "ssl=true", "min_protocol_version=3.2",
	} {
		key, _, _ := strings.Cut(kv, "=")
		_, err := pol.Resolve("host=h dbname=x " + kv)
		e, ok := apierr.As(err)
		if !ok || e.Type != apierr.InvalidParams || e.Details["param"] != "db_connection" || !strings.Contains(e.Message, key) {
			t.Errorf("%s: %v, want INVALID_PARAMS naming %s", kv, err, key)
		}
	}
}

// TestRequestReadsNoHomeOrEnvironmentFiles: pgx reads ~/.pgpass when a
// connection string has no password, ~/.postgresql/* for TLS, and the files
// PG* variables name; every one of them is a FIFO here, so opening any hangs
// (and fails the test). The PG* variables must not change a requested
// connection either.
func TestRequestReadsNoHomeOrEnvironmentFiles(t *testing.T) {
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".postgresql"), 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := func(name string) string {
		p := filepath.Join(home, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("HOME", home)
	fifo(".pgpass")
	fifo(".pg_service.conf")
	fifo(".postgresql/root.crt")
	fifo(".postgresql/postgresql.crt")
	fifo(".postgresql/postgresql.key")
	t.Setenv("PGPASSFILE", fifo("passfile"))
	t.Setenv("PGSSLROOTCERT", fifo("root"))
	t.Setenv("PGSSLCERT", fifo("cert"))
	t.Setenv("PGSSLKEY", fifo("key"))
	t.Setenv("PGSERVICEFILE", fifo("services"))
	for k, v := range map[string]string{
		"PGHOST": "10.9.9.9", "PGPORT": "1", "PGUSER": "envuser", "PGDATABASE": "envdb",
		"PGPASSWORD": "envpassword", "PGOPTIONS": "-c search_path=evil", "PGAPPNAME": "envapp",
		"PGSSLMODE": "verify-full", "PGTARGETSESSIONATTRS": "standby", "PGCONNECT_TIMEOUT": "1",
		"PGSSLNEGOTIATION": "direct", "PGCHANNELBINDING": "require", "PGTZ": "Mars/Olympus",
	} {
		t.Setenv(k, v)
	}

	pol := NewPolicy("", mustPatterns(t, "127.0.0.1/*", "/tmp/sock/*"))
	for _, dsn := range []string{
		"host=127.0.0.1 dbname=x user=u",
		"postgresql://u@127.0.0.1/x",
		"postgresql://u@127.0.0.1/x?sslmode=verify-full",
		"host=/tmp/sock dbname=x user=u",
	} {
		db, err := resolveWithin(t, pol, dsn)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", dsn, err)
		}
		c := db.config
		if c.Password != "" || c.User != "u" || c.Database != "x" || c.Port != 5432 || c.ConnectTimeout != 0 ||
			len(c.RuntimeParams) != 0 || c.ValidateConnect != nil || c.SSLNegotiation != "" || c.ChannelBinding != "prefer" {
			t.Errorf("Resolve(%q): the PG* environment leaked into the request's configuration: %+v", dsn, c)
		}
		for _, tc := range tlsOf(c) {
			if tc != nil && (tc.RootCAs != nil || len(tc.Certificates) != 0) {
				t.Errorf("Resolve(%q): TLS configuration carries certificates from files", dsn)
			}
		}
	}
}

// TestOperatorServiceDoesNotReachRequests: with PGSERVICE set, pgx reads the
// operator's service file once, when the policy is made (as it does for the
// operator's own database); nothing from it reaches a requested connection.
func TestOperatorServiceDoesNotReachRequests(t *testing.T) {
	services := filepath.Join(t.TempDir(), "services")
	conf := "[svc]\nhost=10.9.9.9\nport=1\nuser=svcuser\npassword=svcpassword\ndbname=svcdb\nsslmode=verify-full\napplication_name=svc\noptions=-csearch_path=evil\ntarget_session_attrs=standby\n"
	if err := os.WriteFile(services, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGSERVICEFILE", services)
	t.Setenv("PGSERVICE", "svc")
	pol := NewPolicy("", mustPatterns(t, "127.0.0.1/*"))
	db, err := pol.Resolve("host=127.0.0.1 dbname=x user=u")
	if err != nil {
		t.Fatal(err)
	}
	c := db.config
	if c.Host != "127.0.0.1" || c.Port != 5432 || c.User != "u" || c.Password != "" || c.Database != "x" ||
		len(c.RuntimeParams) != 0 || c.ValidateConnect != nil || c.TLSConfig == nil || c.TLSConfig.ServerName != "" {
		t.Errorf("the operator's service leaked into a requested connection: %+v", c)
	}

	t.Setenv("PGSERVICE", "missing")
	_, err = NewPolicy("", mustPatterns(t, "127.0.0.1/*")).Resolve("host=127.0.0.1 dbname=x user=u")
	if e, ok := apierr.As(err); !ok || e.Type != apierr.DatabaseError || !strings.Contains(e.Message, "PG*") {
		t.Errorf("PGSERVICE naming a missing service: %v, want DATABASE_ERROR telling the operator", err)
	}
}
