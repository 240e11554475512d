package dbaccess

import (
	"crypto/tls"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// hosts lists every endpoint pgx may dial, fallbacks included.
func hosts(cfg *pgx.ConnConfig) []hostPort {
	out := []hostPort{{cfg.Host, cfg.Port}}
	for _, fb := range cfg.Fallbacks {
		out = append(out, hostPort{fb.Host, fb.Port})
	}
	return out
}

// tlsOf lists the TLS configuration of every attempt pgx would make.
func tlsOf(c *pgx.ConnConfig) []*tls.Config {
	out := []*tls.Config{c.TLSConfig}
	for _, fb := range c.Fallbacks {
		out = append(out, fb.TLSConfig)
	}
	return out
}

// endpointsOf lists the distinct host:port pairs pgx would try, in order.
func endpointsOf(c *pgx.ConnConfig) []string {
	var out []string
	for _, hp := range hosts(c) {
		e := endpoint(hp.host, hp.port, "")
		if len(out) == 0 || out[len(out)-1] != e {
			out = append(out, e)
		}
	}
	return out
}

func TestResolveForms(t *testing.T) {
	pol := NewPolicy("", mustPatterns(t, "*/*", "*:*/*", "/tmp/sock/*", "/run/postgresql:5433/*"))
	cases := []struct {
		in                 string
		endpoints          []string
		db, user, password string
	}{
		{"host=db.example.com port=6543 dbname=app user=u password=pw", []string{"db.example.com:6543/"}, "app", "u", "pw"},
		{"host = db.example.com  port = 6543\tdbname\v=\fapp user=u", []string{"db.example.com:6543/"}, "app", "u", ""},
		{"host=h dbname='my db' user='o\\'brien' password='p w\\\\'", []string{"h:5432/"}, "my db", "o'brien", `p w\`},
		{"host=h dbname=a\\ b user=u password=p=q", []string{"h:5432/"}, "a b", "u", "p=q"},
		{"host=h dbname='' user=u", []string{"h:5432/"}, "u", "u", ""},
		{"host=h user=u", []string{"h:5432/"}, "u", "u", ""},
		{"host=a,b port=1,2 dbname=x user=u", []string{"a:1/", "b:2/"}, "x", "u", ""},
		{"host=a,b port=7 dbname=x user=u", []string{"a:7/", "b:7/"}, "x", "u", ""},
		{"host=a,b port=,7 dbname=x user=u", []string{"a:5432/", "b:7/"}, "x", "u", ""},
		{"host=::1 dbname=x user=u", []string{"[::1]:5432/"}, "x", "u", ""},
		{"host=/tmp/sock dbname=x user=u", []string{"/tmp/sock:5432/"}, "x", "u", ""},
		{"postgresql://u:pw@h:6543/app", []string{"h:6543/"}, "app", "u", "pw"},
		{"postgres://u:p%40ss%3Aw%2Bd@h/app", []string{"h:5432/"}, "app", "u", "p@ss:w+d"},
		{"postgresql://u:a:b@h/app", []string{"h:5432/"}, "app", "u", "a:b"},
		{"postgresql://u:pa+ss@h/app", []string{"h:5432/"}, "app", "u", "pa+ss"},
		{"postgresql://us%65r@h/my%20db", []string{"h:5432/"}, "my db", "user", ""},
		{"postgresql://u@h1:1,h2:2/x", []string{"h1:1/", "h2:2/"}, "x", "u", ""},
		{"postgresql://u@h1,h2:2/x", []string{"h1:5432/", "h2:2/"}, "x", "u", ""},
		{"postgresql://u@[::1]:6543,[2001:db8::1]/x", []string{"[::1]:6543/", "[2001:db8::1]:5432/"}, "x", "u", ""},
		{"postgresql://u@/x?host=/tmp/sock", []string{"/tmp/sock:5432/"}, "x", "u", ""},
		{"postgresql://u@%2Ftmp%2Fsock/x", []string{"/tmp/sock:5432/"}, "x", "u", ""},
		{"postgresql:///x?host=/run/postgresql&port=5433&user=u", []string{"/run/postgresql:5433/"}, "x", "u", ""},
		{"postgresql://h/x?user=u&password=pw&sslmode=require&application_name=a%20b", []string{"h:5432/"}, "x", "u", "pw"},
		{"postgresql://u@h/x?", []string{"h:5432/"}, "x", "u", ""},
		{"postgresql://u@h?dbname=x", []string{"h:5432/"}, "x", "u", ""},
	}
	for _, c := range cases {
		db, err := pol.Resolve(c.in)
		if err != nil {
			t.Errorf("Resolve(%q): %v", c.in, err)
			continue
		}
		got := endpointsOf(db.config)
		if strings.Join(got, " ") != strings.Join(c.endpoints, " ") {
			t.Errorf("Resolve(%q): endpoints %v, want %v", c.in, got, c.endpoints)
		}
		if db.Database() != c.db || db.config.User != c.user || db.config.Password != c.password {
			t.Errorf("Resolve(%q): database %q user %q password %q, want %q %q %q", c.in, db.Database(), db.config.User, db.config.Password, c.db, c.user, c.password)
		}
		if host, _, _ := net.SplitHostPort(strings.TrimSuffix(c.endpoints[0], "/")); db.Host() != host {
			t.Errorf("Resolve(%q): Host() = %q, want %q", c.in, db.Host(), host)
		}
		if !db.Requested() || db.HasPassword() != (c.password != "") {
			t.Errorf("Resolve(%q): Requested %v HasPassword %v", c.in, db.Requested(), db.HasPassword())
		}
	}
}

// TestResolveMultiHostEveryHostChecked: one host outside the allow list
// refuses the whole string, in either form and in any position.
func TestResolveMultiHostEveryHostChecked(t *testing.T) {
	pol := NewPolicy("", mustPatterns(t, "127.0.0.1/*", "10.0.0.1:5432/x"))
	for _, in := range []string{
		"host=127.0.0.1,10.9.9.9 dbname=x",
		"host=10.9.9.9,127.0.0.1 dbname=x",
		"host=127.0.0.1,10.0.0.1 port=5432,5433 dbname=x",
		"postgresql://u@127.0.0.1,10.9.9.9/x",
		"postgresql://u@127.0.0.1,10.0.0.1:5433/x",
		"postgresql://u@/x?host=127.0.0.1,10.9.9.9",
		"postgresql://u@127.0.0.1,10.0.0.1/y",
	} {
		if _, err := pol.Resolve(in); apierr.TypeOf(err) != apierr.Forbidden {
			t.Errorf("Resolve(%q): %v, want FORBIDDEN", in, err)
		}
	}
	if _, err := pol.Resolve("host=127.0.0.1,10.0.0.1 port=1,5432 dbname=x"); err != nil {
		t.Errorf("both hosts allowed: %v", err)
	}
}

// TestResolveRefusesMalformedAndAmbiguous: anything libpq, pgx or a reader
// could take two ways is INVALID_PARAMS naming db_connection.
func TestResolveRefusesMalformedAndAmbiguous(t *testing.T) {
	pol := NewPolicy("", mustPatterns(t, "*/*", "/tmp/sock/*"))
	for _, in := range []string{
		"host=h dbname='x'user=u", "host=h dbname='x", "host=h dbname=x'y", "host=h dbname=x\\",
		"host= dbname=x", "host=h =x", "host=h dbname", "host=h dbname=x extra",
		"host=h dbname=x dbname=y", "host=h dbname=\x01x", "host=h dbname=\u00e9", "host=h\x00 dbname=x",
		"host=h,,i dbname=x", "host=h, dbname=x", "host=h port=1,2,3 dbname=x", "host=h port=0 dbname=x",
		"host=h port=65536 dbname=x", "host=h port=+5 dbname=x", "host=h port=5432 port=5433 dbname=x",
		"port=5432 dbname=x", "dbname=x", "host=/tmp/../etc dbname=x", "host=/tmp/sock/ dbname=x",
		"host=fe80::1%eth0 dbname=x", "host=h:5432 dbname=x", "host=h;x dbname=x", "host='h h' dbname=x",
		"host=h dbname=a=b", "host=h dbname=postgresql://h/x", "host=h sslmode=bogus", "host=h sslsni=2",
		"host=h connect_timeout=-1", "host=h connect_timeout=99999999999999", "host=h target_session_attrs=x",
		"host=h sslnegotiation=direct", "host=h sslnegotiation=direct sslmode=prefer", "host=h user=a\nb",
		"Host=h dbname=x", "host=h sslmode=", "host=h connect_timeout=", "host=h target_session_attrs=''", "host=h dbname=x sslrootcert%3D=y",
		"postgresql://", "postgresql://u@", "postgresql://u@h:/x", "postgresql://u@h:abc/x", "postgresql://u@h:99999/x",
		"postgresql://u@h:%35/x", "postgresql://u@[::1/x", "postgresql://u@[]/x", "postgresql://u@[::1]x/x",
		"postgresql://u@h%2Ci/x", "postgresql://u@h,,i/x", "postgresql://a@b@h/x", "postgresql://h/x?user=a@b",
		"postgresql://h?x=a@evil/db", "postgresql://u@h/x/y", "postgresql://u@h/x#frag", "postgresql://u@h/x y",
		"postgresql://u@h/x?sslmode", "postgresql://u@h/x?a=b=c", "postgresql://u@h/x?&sslmode=disable",
		"postgresql://u@h/x?sslmode=disable&", "postgresql://u@h/x?dbname=y", "postgresql://u@h/x?host=i",
		"postgresql://u@h/x?user=v", "postgresql://u:p%zz@h/x", "postgresql://u@h/%00", "postgresql://u@h/%ff",
		"postgresql://u@h/x?SSLMODE=disable", "postgresql://u@h/x?ssl=true", "POSTGRESQL://u@h/x",
		" postgresql://u@h/x", "postgresql://u@h:2/x?port=1", "postgresql://u@h/x\\y",
	} {
		_, err := pol.Resolve(in)
		e, ok := apierr.As(err)
		if !ok || e.Type != apierr.InvalidParams || e.Details["param"] != "db_connection" {
			t.Errorf("Resolve(%q): %v, want INVALID_PARAMS naming db_connection", in, err)
		}
	}
}

// TestConnectionWithoutPasswordRoundTrip: passing the rendering back
// resolves to the same endpoints, TLS attempts, database, user and options.
func TestConnectionWithoutPasswordRoundTrip(t *testing.T) {
	pol := NewPolicy("", mustPatterns(t, "*/*", "*:*/*", "/tmp/sock/*"))
	for _, in := range []string{
		"postgresql://u:secret@h1:1,h2/x?sslmode=verify-full&application_name=it's%20a%20%5C%20test&connect_timeout=5",
		"host=a,b,/tmp/sock port=,2,3 dbname='d b' user=\"q\" password=pw target_session_attrs=read-write sslmode=allow",
		"host=::1 dbname=x sslnegotiation=direct sslmode=require sslsni=0 channel_binding=require",
		"host=h",
	} {
		db, err := pol.Resolve(in)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", in, err)
		}
		out := db.ConnectionWithoutPassword()
		if strings.Contains(out, "secret") || strings.Contains(out, "pw") {
			t.Errorf("ConnectionWithoutPassword(%q) = %q carries the password", in, out)
		}
		back, err := pol.Resolve(out)
		if err != nil {
			t.Fatalf("Resolve(ConnectionWithoutPassword(%q) = %q): %v", in, out, err)
		}
		if back.HasPassword() {
			t.Errorf("%q: the rendering resolves with a password", out)
		}
		a, b := db.config, back.config
		if strings.Join(endpointsOf(a), " ") != strings.Join(endpointsOf(b), " ") || len(a.Fallbacks) != len(b.Fallbacks) ||
			a.Database != b.Database || a.User != b.User || !reflect.DeepEqual(a.RuntimeParams, b.RuntimeParams) ||
			a.ConnectTimeout != b.ConnectTimeout || a.SSLNegotiation != b.SSLNegotiation || a.ChannelBinding != b.ChannelBinding ||
			(a.ValidateConnect == nil) != (b.ValidateConnect == nil) || !reflect.DeepEqual(db.req.options, back.req.options) {
			t.Errorf("%q renders as %q, which resolves differently", in, out)
		}
		if out2 := back.ConnectionWithoutPassword(); out2 != out {
			t.Errorf("rendering is not stable: %q, then %q", out, out2)
		}
	}
	def, err := NewPolicy("postgresql://op:pw@127.0.0.1/opdb", nil).Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if def.Requested() || def.ConnectionWithoutPassword() != "" || !def.HasPassword() ||
		def.Host() != "127.0.0.1" || def.Port() != 5432 || def.Database() != "opdb" {
		t.Errorf("default database: Requested %v, rendering %q, HasPassword %v, %s %d %s",
			def.Requested(), def.ConnectionWithoutPassword(), def.HasPassword(), def.Host(), def.Port(), def.Database())
	}
}

// TestTLSModes: the TLS attempts for each sslmode match what pgx's parser
// builds without files: no roots from a file, verification only where asked.
func TestTLSModes(t *testing.T) {
	pol := NewPolicy("", mustPatterns(t, "*/*", "/tmp/sock/*"))
	cases := []struct {
		mode  string
		want  string // per attempt: "-" plain, "s" TLS unverified, "v" verified
		names string // ServerName of the TLS attempts
	}{
		{"disable", "-", ""}, {"allow", "-s", "h"}, {"prefer", "s-", "h"},
		{"require", "s", "h"}, {"verify-ca", "v", "h"}, {"verify-full", "v", "h"},
	}
	for _, c := range cases {
		db, err := pol.Resolve("host=h dbname=x sslmode=" + c.mode)
		if c.mode == "prefer" {
			db, err = pol.Resolve("host=h dbname=x") // the default
		}
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, tc := range tlsOf(db.config) {
			switch {
			case tc == nil:
				got += "-"
			case tc.RootCAs != nil || len(tc.Certificates) > 0:
				t.Errorf("sslmode=%s: certificates or roots in the TLS configuration", c.mode)
			case tc.InsecureSkipVerify && tc.VerifyPeerCertificate == nil:
				got += "s"
			default:
				got += "v"
			}
			if tc != nil && tc.ServerName != c.names {
				t.Errorf("sslmode=%s: ServerName %q, want %q", c.mode, tc.ServerName, c.names)
			}
		}
		if got != c.want {
			t.Errorf("sslmode=%s: attempts %q, want %q", c.mode, got, c.want)
		}
	}
	db, err := pol.Resolve("host=/tmp/sock dbname=x sslmode=verify-full")
	if err != nil || db.config.TLSConfig != nil || len(db.config.Fallbacks) != 0 {
		t.Errorf("socket with sslmode=verify-full: %v; want one plain attempt, as libpq", err)
	}
}

// TestFromRequestSetsEveryField: fromRequest must decide every field of
// pgx's configuration, or the template's environment could leak into a
// request's connection. A pgx upgrade that adds a field fails here until
// fromRequest handles it and it is listed.
func TestFromRequestSetsEveryField(t *testing.T) {
	handled := map[string]bool{
		"Host": true, "Port": true, "Database": true, "User": true, "Password": true, "TLSConfig": true,
		"ConnectTimeout": true, "DialFunc": true, "LookupFunc": true, "BuildFrontend": true,
		"MaxProtocolMessageBodyLen": true, "BuildContextWatcherHandler": true, "RuntimeParams": true,
		"KerberosSrvName": true, "KerberosSpn": true, "Fallbacks": true, "SSLNegotiation": true,
		"SSLCertMode": true, "AfterNetConnect": true, "ValidateConnect": true, "AfterConnect": true,
		"OnNotice": true, "OnNotification": true, "OnPgError": true, "OAuthTokenProvider": true,
		"MinProtocolVersion": true, "MaxProtocolVersion": true, "ChannelBinding": true, "RequireAuth": true,
		// pgx.ConnConfig's own
		"Config": true, "Tracer": true, "StatementCacheCapacity": true, "DescriptionCacheCapacity": true,
		"DefaultQueryExecMode": true,
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(pgconn.Config{}), reflect.TypeOf(pgx.ConnConfig{})} {
		for i := 0; i < typ.NumField(); i++ {
			if f := typ.Field(i); f.IsExported() && !handled[f.Name] {
				t.Errorf("%s.%s is new: decide it in fromRequest and list it here", typ, f.Name)
			}
		}
	}
}
