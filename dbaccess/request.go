package dbaccess

import (
	"errors"
	"net"
	"os/user"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// request is a request's db_connection after every check: the endpoints it
// reaches and the few settings a request may choose.
type request struct {
	endpoints []hostPort // in the order libpq tries them
	database  string
	user      string
	password  string
	// options are the validated settings other than host, port, dbname, user
	// and password, by libpq keyword; a key is absent when not given.
	options map[string]string
}

// Keys a request may set. Each only says which server to reach, who to log
// in as, or how to protect the connection, and none makes libpq or pgx read
// anything on this machine. sslmode verify-ca and verify-full check the
// server's certificate against the system's trust store, as libpq's
// sslrootcert=system does: a request cannot name a root certificate file.
func isSafeKey(key string) bool {
	switch key {
	case "host", "port", "dbname", "user", "password",
		"sslmode", "sslnegotiation", "sslsni", "channel_binding",
		"connect_timeout", "application_name", "target_session_attrs":
		return true
	}
	return false
}

const safeKeyList = "host, port, dbname, user, password, sslmode, sslnegotiation, sslsni, channel_binding, connect_timeout, application_name, target_session_attrs"

// isServerFileKey reports keys that make libpq or pgx read a file on this
// machine: certificates, keys, revocation lists, the password and service
// files, and a service name (looked up in a service file, whose entries can
// redirect the connection). sslpassword only decrypts an sslkey file, and
// sslkeylogfile writes one.
func isServerFileKey(key string) bool {
	switch key {
	case "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir", "sslpassword",
		"sslkeylogfile", "passfile", "servicefile", "service":
		return true
	}
	return false
}

// refusedKeyReason explains, for libpq keywords a reader might expect to
// work, why a request may not set them.
func refusedKeyReason(key string) string {
	switch key {
	case "options":
		return "it sets server settings for the session, which could change what a restore or backup reads and writes"
	case "hostaddr":
		return "this server's driver does not honour it; give the address as host"
	case "krbsrvname", "krbspn", "gsslib", "gssencmode", "gssdelegation", "sslcertmode", "require_auth":
		return "this server authenticates only with a password, never with Kerberos, GSSAPI or a client certificate"
	case "ssl":
		return "use sslmode"
	}
	return "it is not one of the keys a request may set (" + safeKeyList + ")"
}

func dbConnError(t apierr.Type, format string, args ...any) *apierr.Error {
	return apierr.New(t, format, args...).With("param", "db_connection")
}

// parseRequest decides on a request's db_connection from its parts alone:
// nothing is opened, read or dialled. In order: the string must take apart
// cleanly and name well-formed endpoints (INVALID_PARAMS); the operator must
// allow requests at all (FORBIDDEN); it must not name a server file or
// service (FORBIDDEN, the same answer whatever the file system holds); every
// other key must be a safe one with a valid value (INVALID_PARAMS); and
// every endpoint must match the allow list (FORBIDDEN).
func (p *Policy) parseRequest(requested string) (*request, *apierr.Error) {
	params, err := parseConnString(requested)
	if err != nil {
		return nil, invalidSyntax(err)
	}
	endpoints, err := params.endpoints()
	if err != nil {
		return nil, invalidSyntax(err)
	}
	if len(p.allow) == 0 {
		return nil, dbConnError(apierr.Forbidden,
			"db_connection is not allowed on this server; omit it to use the server's database, or ask the operator to allow %s with --allow-db-connection",
			params.describeForOperator(endpoints))
	}
	var fileKeys []string
	for _, key := range params.keys {
		if isServerFileKey(key) {
			fileKeys = append(fileKeys, key)
		}
	}
	if len(fileKeys) > 0 {
		sort.Strings(fileKeys)
		return nil, dbConnError(apierr.Forbidden,
			"db_connection may not set %s: it names a file or service definition on the server; connect without it, or ask the operator to configure the connection with --database-url",
			strings.Join(fileKeys, ", "))
	}
	for _, key := range params.keys {
		if !isSafeKey(key) {
			return nil, dbConnError(apierr.InvalidParams, "db_connection may not set %s: %s", key, refusedKeyReason(key))
		}
	}
	if len(endpoints) == 0 {
		return nil, dbConnError(apierr.InvalidParams,
			"db_connection names no host; name the server, e.g. postgresql://user:password@host:5432/database or host=/run/postgresql for a local socket")
	}
	req := &request{endpoints: endpoints, password: params.values["password"], options: make(map[string]string)}
	for _, key := range params.keys {
		value := params.values[key]
		if err := checkOption(key, value); err != nil {
			return nil, err
		}
		if value != "" && !isEndpointKey(key) {
			req.options[key] = value
		}
	}
	if err := checkTLSCombination(req.options); err != nil {
		return nil, err
	}
	req.user = params.values["user"]
	if req.user == "" {
		// libpq's last default, without the PGUSER variable: a request's
		// connection depends on nothing but its string and this account.
		account, err := user.Current()
		if err != nil || account.Username == "" {
			return nil, dbConnError(apierr.InvalidParams, "db_connection names no user, and the server's own account name is unknown; set user")
		}
		req.user = account.Username
	}
	req.database = params.values["dbname"]
	if req.database == "" {
		req.database = req.user // libpq's default
		// It must pass as a dbname too: ConnectionWithoutPassword names it.
		if err := checkOption("dbname", req.database); err != nil {
			return nil, err.Extend("set dbname: without it the database is named after the user")
		}
	}
	for _, ep := range endpoints {
		if !p.allowed(ep.host, ep.port, req.database) {
			return nil, dbConnError(apierr.Forbidden,
				"db_connection names %s, which the operator has not allowed; allowed: %s",
				endpoint(ep.host, ep.port, req.database), p.allowedList())
		}
	}
	return req, nil
}

func invalidSyntax(err error) *apierr.Error {
	var se *syntaxError
	reason := "it cannot be read"
	if errors.As(err, &se) {
		reason = se.reason
	}
	return apierr.Wrap(apierr.InvalidParams, err,
		"db_connection is not a valid PostgreSQL URL or keyword string (%s); use postgresql://user:password@host:port/database", reason).
		With("param", "db_connection")
}

func isEndpointKey(key string) bool {
	switch key {
	case "host", "port", "dbname", "user", "password":
		return true
	}
	return false
}

// endpoints lists the hosts and ports libpq would try, in order: one port
// for every host, or a single port for all of them; an empty port is 5432.
// It is empty when no host is named.
func (c *connParams) endpoints() ([]hostPort, error) {
	hostList := c.values["host"]
	if hostList == "" {
		if c.values["port"] != "" {
			return nil, syntaxErrorf("a port is given without a host")
		}
		return nil, nil
	}
	hosts := strings.Split(hostList, ",")
	ports := strings.Split(c.values["port"], ",")
	if len(ports) > 1 && len(ports) != len(hosts) {
		return nil, syntaxErrorf("%d ports are given for %d hosts", len(ports), len(hosts))
	}
	out := make([]hostPort, len(hosts))
	for i, host := range hosts {
		if err := checkHost(host); err != nil {
			return nil, err
		}
		portText := ports[0]
		if len(ports) > 1 {
			portText = ports[i]
		}
		port := uint16(5432)
		if portText != "" {
			n, err := strconv.ParseUint(portText, 10, 16)
			if err != nil || n == 0 || strings.Trim(portText, "0123456789") != "" {
				return nil, syntaxErrorf("a port is not a number from 1 to 65535")
			}
			port = uint16(n)
		}
		out[i] = hostPort{host: host, port: port}
	}
	return out, nil
}

// checkHost accepts a socket directory (an absolute, clean path), an IPv6
// literal without a zone, or a DNS name or IPv4 address: nothing a resolver
// or dialler could read two ways, and no path that a pattern could match
// before "..", "." or "//" moved it elsewhere.
func checkHost(host string) error {
	switch {
	case host == "":
		return syntaxErrorf("a host list has an empty host")
	case strings.HasPrefix(host, "/"):
		if path.Clean(host) != host || hasControl(host) {
			return syntaxErrorf("a socket directory is not a clean absolute path")
		}
	case strings.Contains(host, ":"):
		if net.ParseIP(host) == nil {
			return syntaxErrorf("a host with : is not an IPv6 address (zones are not accepted)")
		}
	default:
		if len(host) > 253 {
			return syntaxErrorf("a host name is longer than 253 characters")
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return syntaxErrorf("a host name holds a character other than letters, digits, '.', '-' and '_'")
			}
		}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return true
		}
	}
	return false
}

// checkOption validates one safe key's value (hosts and ports are checked by
// endpoints). As in libpq, an empty dbname, user, password or
// application_name means the default, and an empty value for any other
// setting is invalid.
func checkOption(key, value string) *apierr.Error {
	switch key {
	case "host", "port", "password":
		return nil
	case "dbname", "user", "application_name":
		if value == "" {
			return nil
		}
	}
	oneOf := func(allowed ...string) *apierr.Error {
		for _, a := range allowed {
			if value == a {
				return nil
			}
		}
		return dbConnError(apierr.InvalidParams, "db_connection sets %s to a value it does not take; use one of: %s", key, strings.Join(allowed, ", "))
	}
	switch key {
	case "sslmode":
		return oneOf("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
	case "sslnegotiation":
		return oneOf("postgres", "direct")
	case "sslsni":
		return oneOf("0", "1")
	case "channel_binding":
		return oneOf("disable", "prefer", "require")
	case "target_session_attrs":
		return oneOf("any", "read-write", "read-only", "primary", "standby", "prefer-standby")
	case "connect_timeout":
		if n, err := strconv.Atoi(value); err != nil || n < 0 || n > maxConnectTimeoutSeconds || strings.Trim(value, "0123456789") != "" {
			return dbConnError(apierr.InvalidParams, "db_connection sets connect_timeout to something other than a number of seconds from 0 to %d", maxConnectTimeoutSeconds)
		}
	case "dbname":
		// libpq's PQconnectdbParams (psql's first argument) reads a dbname
		// holding "=" or starting like a URL as a whole connection string.
		if hasControl(value) || strings.Contains(value, "=") || strings.HasPrefix(value, "postgres://") || strings.HasPrefix(value, "postgresql://") {
			return dbConnError(apierr.InvalidParams, "db_connection's dbname holds a control character, \"=\" or a URL, which libpq could read as a connection string")
		}
	case "user", "application_name":
		if hasControl(value) {
			return dbConnError(apierr.InvalidParams, "db_connection's %s holds a control character", key)
		}
	}
	return nil
}

// maxConnectTimeoutSeconds bounds connect_timeout: an hour is more than any
// real connection needs, and the bound keeps the duration from overflowing.
const maxConnectTimeoutSeconds = 3600

// checkTLSCombination refuses what libpq refuses: direct TLS negotiation
// with an sslmode that would also try without TLS.
func checkTLSCombination(options map[string]string) *apierr.Error {
	if options["sslnegotiation"] != "direct" {
		return nil
	}
	switch options["sslmode"] {
	case "require", "verify-ca", "verify-full":
		return nil
	}
	return dbConnError(apierr.InvalidParams, "db_connection sets sslnegotiation=direct, which needs sslmode require, verify-ca or verify-full")
}

// describeForOperator names, for the no-allow-list answer, the pattern the
// caller would ask the operator for, as far as the string says it.
func (c *connParams) describeForOperator(endpoints []hostPort) string {
	db, key := c.values["dbname"], "dbname"
	if db == "" {
		db, key = c.values["user"], "user"
	}
	// Only a name that would pass the later checks is echoed.
	if len(endpoints) == 0 || db == "" || checkOption(key, db) != nil {
		return "host[:port]/database"
	}
	return endpoint(endpoints[0].host, endpoints[0].port, db)
}

// render writes req back as a keyword/value string, every value quoted, the
// password left out unless withPassword. Parsing the result gives the same
// endpoints, database, user and options.
func (req *request) render(withPassword bool) string {
	hosts := make([]string, len(req.endpoints))
	ports := make([]string, len(req.endpoints))
	for i, ep := range req.endpoints {
		hosts[i] = ep.host
		ports[i] = strconv.Itoa(int(ep.port))
	}
	var b strings.Builder
	add := func(key, value string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteString("='")
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value))
		b.WriteByte('\'')
	}
	add("host", strings.Join(hosts, ","))
	add("port", strings.Join(ports, ","))
	add("dbname", req.database)
	add("user", req.user)
	if withPassword && req.password != "" {
		add("password", req.password)
	}
	keys := make([]string, 0, len(req.options))
	for k := range req.options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(k, req.options[k])
	}
	return b.String()
}
