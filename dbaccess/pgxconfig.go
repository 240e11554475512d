package dbaccess

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// templateConnString is what the policy gives pgx's parser once, to obtain a
// configuration pgx will connect with (pgx refuses any it did not parse).
// It is built so that parsing it reads nothing: every key that names a file
// is set empty, which hides the PG* variables and home-directory defaults
// for it; the host is a socket directory, so pgx does not look for TLS files
// at all; a password is set, so pgx does not read a password file; and
// every setting the environment could make invalid is set explicitly.
// servicefile is left alone: only when the operator's environment names a
// service (PGSERVICE) does pgx read the operator's service file, once, here
// as for the operator's own database. Every field a connection string or
// the environment influences is overwritten for each request (fromRequest).
const templateConnString = "host=/nonexistent port=5432 dbname=unused user=unused password=unused" +
	" sslmode=disable sslcertmode=disable sslrootcert='' sslcert='' sslkey='' sslpassword='' passfile=''" +
	" target_session_attrs=any connect_timeout=0 channel_binding=prefer sslnegotiation=postgres" +
	" min_protocol_version=3.0 max_protocol_version=3.0 require_auth=''"

// newTemplate parses templateConnString.
func newTemplate() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(templateConnString)
	if err != nil {
		return nil, fmt.Errorf("parse the template for requested connections: %w", err)
	}
	return cfg, nil
}

// fromRequest returns a copy of template set up for req. Every field of
// pgconn.Config is decided here from req alone or reset to pgx's default, so
// nothing of the template's environment leaks into a request's connection
// (TestFromRequestSetsEveryField keeps this list complete).
func fromRequest(template *pgx.ConnConfig, req *request) *pgx.ConnConfig {
	cfg := template.Copy()
	c := &cfg.Config
	opts := req.options

	var fallbacks []*pgconn.FallbackConfig
	for _, ep := range req.endpoints {
		for _, tlsConfig := range tlsConfigsFor(ep.host, opts) {
			fallbacks = append(fallbacks, &pgconn.FallbackConfig{Host: ep.host, Port: ep.port, TLSConfig: tlsConfig})
		}
	}
	c.Host, c.Port, c.TLSConfig = fallbacks[0].Host, fallbacks[0].Port, fallbacks[0].TLSConfig
	c.Fallbacks = fallbacks[1:]
	c.Database, c.User, c.Password = req.database, req.user, req.password

	timeout, _ := strconv.Atoi(opts["connect_timeout"]) // checked by checkOption; "" is 0, no timeout
	c.ConnectTimeout = time.Duration(timeout) * time.Second
	c.DialFunc = (&net.Dialer{Timeout: c.ConnectTimeout}).DialContext
	c.LookupFunc = net.DefaultResolver.LookupHost

	c.RuntimeParams = make(map[string]string)
	if name := opts["application_name"]; name != "" {
		c.RuntimeParams["application_name"] = name
	}
	c.ValidateConnect = validatorFor(opts["target_session_attrs"])
	c.ChannelBinding = opts["channel_binding"]
	if c.ChannelBinding == "" {
		c.ChannelBinding = "prefer"
	}
	c.SSLNegotiation = opts["sslnegotiation"]
	c.SSLCertMode = "disable" // a request never presents a client certificate
	c.KerberosSrvName, c.KerberosSpn = "", ""
	c.RequireAuth = ""
	c.MinProtocolVersion, c.MaxProtocolVersion = "3.0", "3.0"
	c.MaxProtocolMessageBodyLen = 0
	c.AfterNetConnect, c.AfterConnect, c.OAuthTokenProvider = nil, nil, nil
	c.OnNotice, c.OnNotification = nil, nil
	// Kept from pgx's defaults: BuildFrontend, BuildContextWatcherHandler,
	// OnPgError (closes the connection on FATAL errors).
	cfg.Tracer = nil
	return cfg
}

func validatorFor(targetSessionAttrs string) pgconn.ValidateConnectFunc {
	switch targetSessionAttrs {
	case "read-write":
		return pgconn.ValidateConnectTargetSessionAttrsReadWrite
	case "read-only":
		return pgconn.ValidateConnectTargetSessionAttrsReadOnly
	case "primary":
		return pgconn.ValidateConnectTargetSessionAttrsPrimary
	case "standby":
		return pgconn.ValidateConnectTargetSessionAttrsStandby
	case "prefer-standby":
		return pgconn.ValidateConnectTargetSessionAttrsPreferStandby
	}
	return nil // any
}

func isSocketDir(host string) bool { return strings.HasPrefix(host, "/") }

// tlsConfigsFor lists the TLS settings to try for one host, as pgx's own
// parser would for the same sslmode, sslnegotiation and sslsni, but with no
// root certificate, client certificate or key file: verify-ca and
// verify-full check against the system's trust store. nil means plain
// text; allow tries plain text first, prefer (the default) TLS first.
func tlsConfigsFor(host string, opts map[string]string) []*tls.Config {
	mode := opts["sslmode"]
	if mode == "" {
		mode = "prefer"
	}
	if isSocketDir(host) || mode == "disable" {
		return []*tls.Config{nil} // libpq never uses TLS over a socket
	}
	c := &tls.Config{}
	if opts["sslnegotiation"] == "direct" {
		c.NextProtos = []string{"postgresql"}
	}
	switch mode {
	case "allow", "prefer", "require":
		// Encryption without verification, as libpq does without a root
		// certificate.
		c.InsecureSkipVerify = true
	case "verify-ca":
		// The chain must verify, the host name need not match: crypto/tls
		// cannot express that, so verification is done here.
		c.InsecureSkipVerify = true
		c.VerifyPeerCertificate = verifyChainOnly
	case "verify-full":
		c.ServerName = host
	}
	if opts["sslsni"] != "0" && net.ParseIP(host) == nil {
		c.ServerName = host
	}
	switch mode {
	case "allow":
		return []*tls.Config{nil, c}
	case "prefer":
		return []*tls.Config{c, nil}
	}
	return []*tls.Config{c}
}

// verifyChainOnly verifies the server's certificate chain against the
// system's roots without checking the host name: libpq's verify-ca.
func verifyChainOnly(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	if len(rawCerts) == 0 {
		return errors.New("the server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		cert, err := x509.ParseCertificate(raw)
		if err != nil {
			return fmt.Errorf("parse the server's certificate: %w", err)
		}
		certs[i] = cert
	}
	opts := x509.VerifyOptions{Intermediates: x509.NewCertPool()} // nil Roots: the system's
	for _, cert := range certs[1:] {
		opts.Intermediates.AddCert(cert)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("verify the server's certificate: %w", err)
	}
	return nil
}
