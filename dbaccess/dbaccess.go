// Package dbaccess decides which PostgreSQL database a call works on. The
// operator's database is the default; a request may name another one only when
// the operator allowed its host and database, and the check happens on the
// parsed configuration, before anything is dialled. Passwords never leave this
// package: callers get a description without them.
package dbaccess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Policy holds the operator's database and the patterns a request's
// db_connection must match.
type Policy struct {
	defaultURL string
	// defaultGiven reports whether anything names the operator's database:
	// defaultURL, or a libpq variable that picks a server, database or user.
	// When nothing does, the driver falls back on PostgreSQL's built-in
	// default (the local socket, a database named as the OS user), and a
	// failure there means the server was never told where its database
	// is, not that the database is down.
	defaultGiven bool
	allow        []Pattern
	// template is the configuration requested connections start from (see
	// newTemplate); nil, with templateErr set, when it could not be made.
	template    *pgx.ConnConfig
	templateErr error
}

// Pattern is one allowed "host[:port]/database"; each part may use * and ?
// as in path.Match. A pattern without a port matches any port.
type Pattern struct {
	Host, Port, Database string
}

// ParsePattern parses "host[:port]/database". The host may be an IPv6
// literal in brackets, or a unix socket directory ("/run/postgresql/db",
// "/run/postgresql:5432/db").
func ParsePattern(s string) (Pattern, error) {
	var hostPort, db string
	if strings.HasPrefix(s, "/") {
		i := strings.LastIndex(s, "/")
		hostPort, db = s[:i], s[i+1:]
	} else {
		hostPort, db, _ = strings.Cut(s, "/")
	}
	if hostPort == "" || db == "" {
		return Pattern{}, fmt.Errorf("allow pattern %q: want host[:port]/database", s)
	}
	p := Pattern{Host: hostPort, Database: db}
	switch {
	case strings.HasPrefix(hostPort, "/"):
		if i := strings.LastIndex(hostPort, ":"); i > 0 {
			p.Host, p.Port = hostPort[:i], hostPort[i+1:]
		}
	case strings.HasPrefix(hostPort, "[") && strings.HasSuffix(hostPort, "]"):
		p.Host = hostPort[1 : len(hostPort)-1] // IPv6 without a port
	default:
		if h, port, err := net.SplitHostPort(hostPort); err == nil {
			p.Host, p.Port = h, port
		}
	}
	for _, part := range []string{p.Host, p.Port, p.Database} {
		if _, err := path.Match(part, ""); err != nil {
			return Pattern{}, fmt.Errorf("allow pattern %q: %w", s, err)
		}
	}
	return p, nil
}

func (p Pattern) matches(host string, port uint16, db string) bool {
	if ok, _ := path.Match(p.Host, host); !ok {
		return false
	}
	if p.Port != "" {
		if ok, _ := path.Match(p.Port, strconv.Itoa(int(port))); !ok {
			return false
		}
	}
	ok, _ := path.Match(p.Database, db)
	return ok
}

func (p Pattern) String() string {
	if p.Port == "" {
		return p.Host + "/" + p.Database
	}
	return net.JoinHostPort(p.Host, p.Port) + "/" + p.Database
}

// NewPolicy returns a policy whose default database is defaultURL (empty
// means libpq's PG* environment variables) and which lets requests name only
// databases matching allow.
func NewPolicy(defaultURL string, allow []Pattern) *Policy {
	p := &Policy{defaultURL: defaultURL, defaultGiven: defaultURL != "" || databaseInEnvironment(), allow: allow}
	if len(allow) > 0 {
		// Made once, now, so that no request ever runs pgx's parser.
		p.template, p.templateErr = newTemplate()
	}
	return p
}

// databaseInEnvironment reports whether the environment names the
// operator's database through libpq's variables that say where it is, set
// and not empty as the driver reads them; the others (PGPASSWORD,
// PGSSLMODE, ...) say how to connect, not where. It reads the process's
// environment, as the driver does when it parses the default URL.
func databaseInEnvironment() bool {
	for _, name := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"} {
		if os.Getenv(name) != "" {
			return true
		}
	}
	return false
}

// Database is a resolved target: a connection configuration and a
// password-free description for results and logs.
type Database struct {
	config *pgx.ConnConfig
	Name   string   // "host:port/database", no user or password
	req    *request // the request's connection; nil for the operator's
	// builtIn: the operator's database, named by nothing (see
	// Policy.defaultGiven), so the driver's built-in default.
	builtIn bool
}

// Resolve returns the database a call should use: the operator's default when
// requested is empty, else requested if the policy allows it. A requested
// connection string is judged from its parts before anything is opened,
// read or dialled (see parseRequest), and its configuration is then built
// without pgx reading any file or PG* variable for it (see fromRequest).
func (p *Policy) Resolve(requested string) (*Database, error) {
	if requested == "" {
		cfg, err := pgx.ParseConfig(p.defaultURL)
		if err != nil {
			return nil, apierr.New(apierr.DatabaseError,
				"the server's database URL is invalid (%s); the operator must fix --database-url or DATABASE_URL", redactErr(err, p.defaultURL))
		}
		return &Database{config: cfg, Name: describe(cfg), builtIn: !p.defaultGiven}, nil
	}
	req, apiErr := p.parseRequest(requested)
	if apiErr != nil {
		// Messages quote keys, hosts and database names, never the
		// password; should one of those equal it, it is hidden all the same.
		if params, err := parseConnString(requested); err == nil {
			apiErr.Message = redactPassword(apiErr.Message, params.values["password"])
		}
		return nil, apiErr
	}
	if p.templateErr != nil {
		return nil, apierr.Wrap(apierr.DatabaseError, p.templateErr,
			"the server cannot set up requested connections (%v); the operator must fix the PG* environment variables", p.templateErr).
			With("param", "db_connection")
	}
	cfg := fromRequest(p.template, req)
	return &Database{config: cfg, Name: describe(cfg), req: req}, nil
}

func (p *Policy) allowed(host string, port uint16, db string) bool {
	for _, pat := range p.allow {
		if pat.matches(host, port, db) {
			return true
		}
	}
	return false
}

func (p *Policy) allowedList() string {
	names := make([]string, len(p.allow))
	for i, pat := range p.allow {
		names[i] = pat.String()
	}
	return strings.Join(names, ", ")
}

// ReasonUnreachable is the "reason" detail of the error Connect returns when
// the database cannot be reached.
const ReasonUnreachable = "database_unreachable"

// Connect opens a connection to d.
func (d *Database) Connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, d.config.Copy())
	if err != nil {
		if ctx.Err() != nil {
			return nil, apierr.Wrap(apierr.Cancelled, ctx.Err(), "cancelled while connecting to %s", d.Name)
		}
		cause := redactPassword(err.Error(), d.config.Password)
		if d.builtIn {
			// What failed is a guess nobody made; what to do is say where
			// the database is.
			return nil, apierr.Wrap(apierr.DatabaseError, err, "no database was given: set --database-url or DATABASE_URL=postgres://user@host:5432/db, "+
				"or libpq's PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER); "+
				"PostgreSQL's default, %s, did not answer: %s", d.Name, cause).
				With("reason", ReasonUnreachable)
		}
		return nil, apierr.Wrap(apierr.DatabaseError, err, "cannot connect to %s: %s", d.Name, cause).
			With("reason", ReasonUnreachable)
	}
	return conn, nil
}

type hostPort struct {
	host string
	port uint16
}

func describe(cfg *pgx.ConnConfig) string {
	return endpoint(cfg.Host, cfg.Port, cfg.Database)
}

func endpoint(host string, port uint16, db string) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port))) + "/" + db
}

// redactErr renders err without secret, which pgx may echo when a connection
// string fails to parse.
func redactErr(err error, secret string) string {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		msg = "cannot parse connection string"
		if pe.Unwrap() != nil {
			msg += ": " + pe.Unwrap().Error()
		}
	}
	return Redact(msg, secret)
}

// Redact removes secret from s; it is a no-op for an empty secret.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "********")
}
