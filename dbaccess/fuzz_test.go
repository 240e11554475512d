//go:build linux

package dbaccess

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// openWatch reports every file opened or read in some directories, through
// Linux's inotify: the fuzzer's proof that Resolve touches none of them.
type openWatch struct{ fd int }

func newOpenWatch(tb testing.TB, dirs ...string) *openWatch {
	tb.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		tb.Fatalf("inotify: %v", err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	for _, dir := range dirs {
		if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_OPEN|syscall.IN_ACCESS); err != nil {
			tb.Fatalf("watch %s: %v", dir, err)
		}
	}
	return &openWatch{fd: fd}
}

// drain returns the names of the files opened or read since the last call.
// inotify queues an event during the open or read system call itself, so
// everything the calling goroutine did before is included.
func (w *openWatch) drain(tb testing.TB) []string {
	var names []string
	buf := make([]byte, 64*1024)
	for {
		n, err := syscall.Read(w.fd, buf)
		if errors.Is(err, syscall.EAGAIN) {
			return names
		}
		if err != nil {
			tb.Fatalf("read inotify events: %v", err)
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+nameLen]), "\x00")
			names = append(names, name)
			off += syscall.SizeofInotifyEvent + nameLen
		}
	}
}

// fuzzSafeKeys is the safe key list in the form pgx's allow-list option
// takes.
var fuzzSafeKeys = strings.Split(strings.ReplaceAll(safeKeyList, " ", ""), ",")

// FuzzResolve feeds Resolve arbitrary connection strings and checks that it
// never opens a file (watched with inotify: the home directory pgx takes its
// defaults from, and the files the seeds name, one a FIFO that would hang
// whoever opened it), that every refusal is FORBIDDEN or INVALID_PARAMS
// naming db_connection without the password, and that whatever it accepts
// holds only safe keys, reaches only allowed endpoints, carries no
// certificate from a file, renders back to itself without the password, and
// means the same to pgx's own libpq-compatible parser: pgx, told to accept
// only the safe keys, must parse it (it refuses any other key before
// touching the file system) to the same endpoints, TLS attempts, database,
// user, password and options.
func FuzzResolve(f *testing.F) {
	home := f.TempDir()
	files := f.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".pgpass"), []byte("*:*:*:*:frompgpass\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".pg_service.conf"), []byte("[foo]\nhost=10.9.9.9\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	named := filepath.Join(files, "named.pem")
	if err := os.WriteFile(named, []byte("not a certificate\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	fifo := filepath.Join(files, "named.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		f.Fatal(err)
	}
	// pgx's defaults come from HOME and the PG* variables; empty ones count
	// as unset, so both parsers start from nothing but the string.
	f.Setenv("HOME", home)
	for _, name := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE",
		"PGAPPNAME", "PGCONNECT_TIMEOUT", "PGSSLMODE", "PGSSLKEY", "PGSSLCERT", "PGSSLSNI",
		"PGSSLROOTCERT", "PGSSLPASSWORD", "PGSSLNEGOTIATION", "PGTARGETSESSIONATTRS", "PGSERVICE",
		"PGSERVICEFILE", "PGTZ", "PGOPTIONS", "PGMINPROTOCOLVERSION", "PGMAXPROTOCOLVERSION",
		"PGCHANNELBINDING", "PGREQUIREAUTH"} {
		f.Setenv(name, "")
	}
	f.Setenv("PGSSLCERTMODE", "allow") // pgx refuses it empty; allow is its default

	for _, attack := range attackStrings {
		f.Add(strings.ReplaceAll(attack, "PATH", named))
		f.Add(strings.ReplaceAll(attack, "PATH", fifo))
	}
	for _, seed := range []string{
		"host=127.0.0.1 dbname=x", "host=127.0.0.1 dbname=x user=u password=pw sslmode=require",
		"host = h port = 1 dbname = 'a b' user='o\\'b'", "host=a,b port=1,2 dbname=x",
		"host=a,b port=7 dbname=x sslmode=allow", "host=::1 dbname=x", "host=/tmp/sock dbname=x",
		"postgresql://u:pw@h:6543/app?sslmode=verify-full&application_name=a%20b",
		"postgres://u:p%40ss@h1:1,h2/x?target_session_attrs=read-write", "postgresql://u@[::1]:5432,[2001:db8::1]/x",
		"postgresql://u@/x?host=/tmp/sock", "postgresql://u@%2Ftmp%2Fsock/x", "postgresql://h/x?connect_timeout=5",
		"host=h dbname=x sslnegotiation=direct sslmode=require sslsni=0 channel_binding=require",
		"host=127.0.0.1 dbname=x service=foo", "postgres://x@h/db?sslrootcert%3D" + named,
	} {
		f.Add(seed)
	}

	pol := NewPolicy("", mustPatterns(f, "*/*", "*:*/*", "/tmp/sock/*", "127.0.0.1/x"))
	watch := newOpenWatch(f, home, files)
	f.Fuzz(func(t *testing.T, dsn string) {
		if dsn == "" {
			return // the operator's database, not a request
		}
		watch.drain(t)
		db, err := resolveWithin(t, pol, dsn)
		if opened := watch.drain(t); len(opened) > 0 {
			t.Fatalf("Resolve(%q) opened or read %v", dsn, opened)
		}
		params, parseErr := parseConnString(dsn)
		if err != nil {
			checkRefusal(t, dsn, err, params, home, files)
			return
		}
		if parseErr != nil {
			t.Fatalf("Resolve(%q) accepted a string its parser refuses: %v", dsn, parseErr)
		}
		checkAccepted(t, pol, dsn, db, params)
		checkSameForPgx(t, dsn, db)
	})
}

func checkRefusal(t *testing.T, dsn string, err error, params *connParams, dirs ...string) {
	t.Helper()
	e, ok := apierr.As(err)
	if !ok || (e.Type != apierr.Forbidden && e.Type != apierr.InvalidParams) || e.Details["param"] != "db_connection" {
		t.Fatalf("Resolve(%q): %v, want FORBIDDEN or INVALID_PARAMS naming db_connection", dsn, err)
	}
	if params != nil {
		if pw := params.values["password"]; len(pw) >= minSubstringSecret && strings.Contains(e.Message, pw) {
			t.Fatalf("Resolve(%q): the message carries the password: %s", dsn, e.Message)
		}
	}
	for _, dir := range dirs {
		if strings.Contains(e.Message, dir) && !strings.Contains(dsn, dir) {
			t.Fatalf("Resolve(%q): the message names a server path it was not given: %s", dsn, e.Message)
		}
	}
}

func checkAccepted(t *testing.T, pol *Policy, dsn string, db *Database, params *connParams) {
	t.Helper()
	for _, key := range params.keys {
		if !isSafeKey(key) || isServerFileKey(key) {
			t.Fatalf("Resolve(%q) accepted key %q", dsn, key)
		}
	}
	c := db.config
	for _, hp := range hosts(c) {
		if !pol.allowed(hp.host, hp.port, c.Database) {
			t.Fatalf("Resolve(%q) would dial %s, which is not allowed", dsn, endpoint(hp.host, hp.port, c.Database))
		}
	}
	for _, tc := range tlsOf(c) {
		if tc != nil && (tc.RootCAs != nil || tc.ClientCAs != nil || len(tc.Certificates) > 0 || tc.GetClientCertificate != nil) {
			t.Fatalf("Resolve(%q): TLS configuration carries certificates", dsn)
		}
	}
	for k := range c.RuntimeParams {
		if k != "application_name" {
			t.Fatalf("Resolve(%q) sends server setting %q", dsn, k)
		}
	}
	if c.Password != params.values["password"] || c.KerberosSrvName != "" || c.RequireAuth != "" || c.SSLCertMode != "disable" {
		t.Fatalf("Resolve(%q): password, Kerberos, require_auth or sslcertmode do not come from the string alone", dsn)
	}
	rendered := db.ConnectionWithoutPassword()
	back, err := pol.Resolve(rendered)
	if err != nil {
		t.Fatalf("Resolve(%q) renders as %q, which is refused: %v", dsn, rendered, err)
	}
	if strings.Join(endpointsOf(back.config), " ") != strings.Join(endpointsOf(c), " ") ||
		back.config.Database != c.Database || back.config.User != c.User || back.HasPassword() ||
		!reflect.DeepEqual(back.req.options, db.req.options) || back.ConnectionWithoutPassword() != rendered {
		t.Fatalf("Resolve(%q) renders as %q, which resolves differently", dsn, rendered)
	}
}

// checkSameForPgx parses dsn with pgx's own parser, allowing only the safe
// keys, and compares. Its defaults (HOME, PG*) are empty here, so the only
// file it may open is the home directory's .pgpass, for a string without a
// password: the caller's watch is drained before the next Resolve.
func checkSameForPgx(t *testing.T, dsn string, db *Database) {
	t.Helper()
	theirs, err := pgconn.ParseConfigWithOptions(dsn, pgconn.ParseConfigOptions{ConnStringAllowedKeys: fuzzSafeKeys})
	if err != nil {
		t.Fatalf("Resolve(%q) accepted what pgx, allowing only the safe keys, refuses: %v", dsn, err)
	}
	ours := &db.config.Config
	if ours.Password == "" {
		theirs.Password = "" // pgx filled it from the test's .pgpass; a request never reads one
	}
	if theirs.RuntimeParams["application_name"] == "" {
		// pgx sends an empty one; libpq, like Resolve, sends none.
		delete(theirs.RuntimeParams, "application_name")
	}
	wantDB := theirs.Database
	if wantDB == "" {
		wantDB = theirs.User // libpq's default, which pgx leaves to the server
	}
	if ours.User != theirs.User || ours.Password != theirs.Password || ours.Database != wantDB ||
		ours.ConnectTimeout != theirs.ConnectTimeout || ours.SSLNegotiation != theirs.SSLNegotiation ||
		ours.ChannelBinding != theirs.ChannelBinding || (ours.ValidateConnect == nil) != (theirs.ValidateConnect == nil) ||
		!reflect.DeepEqual(ours.RuntimeParams, theirs.RuntimeParams) {
		t.Fatalf("Resolve(%q) and pgx disagree:\nours  user=%q db=%q timeout=%v negotiation=%q binding=%q params=%v\npgx's user=%q db=%q timeout=%v negotiation=%q binding=%q params=%v",
			dsn, ours.User, ours.Database, ours.ConnectTimeout, ours.SSLNegotiation, ours.ChannelBinding, ours.RuntimeParams,
			theirs.User, theirs.Database, theirs.ConnectTimeout, theirs.SSLNegotiation, theirs.ChannelBinding, theirs.RuntimeParams)
	}
	type attempt struct {
		host                 string
		port                 uint16
		tls, skip, chainOnly bool
		serverName           string
		protos               string
	}
	attempts := func(c *pgconn.Config) []attempt {
		var out []attempt
		all := append([]*pgconn.FallbackConfig{{Host: c.Host, Port: c.Port, TLSConfig: c.TLSConfig}}, c.Fallbacks...)
		for _, fb := range all {
			a := attempt{host: fb.Host, port: fb.Port}
			if tc := fb.TLSConfig; tc != nil {
				a.tls, a.skip, a.chainOnly = true, tc.InsecureSkipVerify, tc.VerifyPeerCertificate != nil
				a.serverName, a.protos = tc.ServerName, strings.Join(tc.NextProtos, ",")
			}
			out = append(out, a)
		}
		return out
	}
	if a, b := attempts(ours), attempts(theirs); !reflect.DeepEqual(a, b) {
		t.Fatalf("Resolve(%q) and pgx would try different connections:\nours  %+v\npgx's %+v", dsn, a, b)
	}
}
