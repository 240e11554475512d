package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/spf13/pflag"

	"github.com/vectorops/pgvector-backup-mcp/audit"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/httpapi"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/oauth"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// config is the server's configuration: flags first, then environment, then
// defaults, as the contract's table says. Every command takes it.
type config struct {
	databaseURL string
	projectRoot string
	backupRoot  string
	allow       []dbaccess.Pattern
	readOnly    bool
	confirm     string // "token" or "none"
	confirmKey  []byte // 32 bytes, or nil for a key made at start
	logLevel    slog.Level
	keepSnaps   int // pre-restore snapshot sets kept; 0 keeps all

	lockWait    time.Duration
	indexMemory string

	// Serving HTTP.
	http          string // address; "" serves stdio
	authToken     string
	allowOrigins  []string
	shutdownGrace time.Duration
	// OAuth: the issuer whose JWTs are accepted, the aud they must name
	// ("" means the public URL), the URL clients reach /mcp at ("" means
	// http://ADDR/mcp once the address is bound), and the old REST API's
	// mode ("" means on).
	oauthIssuer   string
	oauthAudience string
	publicURL     string
	legacyAPI     string
	metrics       string // address of /metrics; "" serves none
}

const (
	defaultBackupRoot    = layout.LegacyRoot
	defaultShutdownGrace = 20 * time.Second
	defaultKeepSnapshots = 10
)

// defaultConfig is the configuration before any flag or variable: the
// defaults every command starts from, whether or not it has the flag that
// would change them.
func defaultConfig() config {
	return config{
		confirm:       "token",
		lockWait:      restore.DefaultLockWait,
		keepSnaps:     defaultKeepSnapshots,
		shutdownGrace: defaultShutdownGrace,
	}
}

// The configuration flags. Each command registers those it reads (see
// root.go), so that its help lists no flag that would change nothing.
const (
	flagDatabaseURL   = "database-url"
	flagProjectRoot   = "project-root"
	flagBackupRoot    = "backup-root"
	flagAllowDB       = "allow-db-connection"
	flagReadOnly      = "read-only"
	flagConfirm       = "confirm"
	flagLogLevel      = "log-level"
	flagLockTimeout   = "lock-timeout"
	flagKeepSnapshots = "keep-snapshots"
	flagIndexMemory   = "index-memory"
	flagHTTP          = "http"
	flagAuthToken     = "auth-token"
	flagAllowOrigin   = "allow-origin"
	flagShutdownGrace = "shutdown-grace"
	flagOAuthIssuer   = "oauth-issuer"
	flagOAuthAudience = "oauth-audience"
	flagPublicURL     = "public-url"
	flagLegacyAPI     = "legacy-api"
	flagMetrics       = "metrics"
)

// servingFlags are the flags of mcp-server alone and serve: all of them,
// since the tools they serve read every setting.
func servingFlags() []string {
	return []string{flagDatabaseURL, flagProjectRoot, flagBackupRoot, flagAllowDB, flagReadOnly, flagConfirm, flagLogLevel,
		flagLockTimeout, flagKeepSnapshots, flagIndexMemory, flagHTTP, flagAuthToken, flagAllowOrigin, flagShutdownGrace, flagMetrics,
		flagOAuthIssuer, flagOAuthAudience, flagPublicURL, flagLegacyAPI}
}

// bindFlags declares the named configuration flags on fs, writing into c.
// Each flag's default is c's value now (see defaultConfig).
func (c *config) bindFlags(fs *pflag.FlagSet, names ...string) {
	for _, name := range names {
		switch name {
		case flagDatabaseURL:
			fs.StringVar(&c.databaseURL, name, c.databaseURL, "target database URL (env DATABASE_URL, else libpq's PG* variables)")
		case flagProjectRoot:
			fs.StringVar(&c.projectRoot, name, c.projectRoot, "what relative backup_paths start from (env VECTOR_PROJECT_ROOT, default .)")
		case flagBackupRoot:
			fs.StringVar(&c.backupRoot, name, c.backupRoot, "where backups live: a folder, relative to the project root or absolute, or a bucket URL such as s3://BUCKET/PREFIX?region=R (env VECTOR_BACKUP_ROOT, default "+defaultBackupRoot+"; credentials only from the environment)")
		case flagAllowDB:
			fs.Func(name, "host[:port]/database pattern (* allowed) a request's db_connection may name; repeatable", func(s string) error {
				p, err := dbaccess.ParsePattern(s)
				if err != nil {
					return err
				}
				c.allow = append(c.allow, p)
				return nil
			})
		case flagReadOnly:
			fs.BoolVar(&c.readOnly, name, c.readOnly, "serve only the read-only tools")
		case flagConfirm:
			fs.StringVar(&c.confirm, name, c.confirm, "token: restores that delete or overwrite rows need a person's approval; none: unattended pipelines")
		case flagLogLevel:
			fs.Func(name, "debug, info, warn or error (default info)", func(s string) error {
				return c.logLevel.UnmarshalText([]byte(s))
			})
		case flagLockTimeout:
			fs.DurationVar(&c.lockWait, name, c.lockWait, "how long a restore waits for a lock another session holds before it fails with CONFLICT naming that session")
		case flagKeepSnapshots:
			fs.IntVar(&c.keepSnaps, name, c.keepSnaps, "pre-restore snapshot sets kept; after a restore, older ones this server wrote are removed (0 keeps all)")
		case flagIndexMemory:
			fs.StringVar(&c.indexMemory, name, c.indexMemory, "maintenance_work_mem for building the vector indexes (HNSW, IVFFlat) a truncating restore drops before its load and builds after it, e.g. 512MB or 4GB (default "+restore.DefaultIndexMemory+", or the server's own when higher)")
		case flagHTTP:
			fs.StringVar(&c.http, name, c.http, "serve HTTP on this address instead of stdio (host:port; a bare :port means loopback)")
		case flagAuthToken:
			fs.StringVar(&c.authToken, name, c.authToken, "bearer token HTTP requests must carry; required off loopback (env MCP_AUTH_TOKEN)")
		case flagAllowOrigin:
			fs.StringArrayVar(&c.allowOrigins, name, c.allowOrigins, "web origin (https://host[:port]) allowed to call the HTTP server besides its own; repeatable")
		case flagShutdownGrace:
			fs.DurationVar(&c.shutdownGrace, name, c.shutdownGrace, "on SIGTERM, how long running HTTP calls may finish before they are cancelled (and roll back)")
		case flagMetrics:
			fs.StringVar(&c.metrics, name, c.metrics, "serve Prometheus metrics at /metrics on this address, also when serving stdio (host:port; a bare :port means loopback; env MCP_METRICS_ADDR; default off)")
		case flagOAuthIssuer:
			fs.StringVar(&c.oauthIssuer, name, c.oauthIssuer, "OAuth issuer whose access tokens (JWTs) HTTP requests may carry, exactly as its tokens' iss names it, e.g. https://login.example.com/realms/ops; https:// unless on loopback (env MCP_OAUTH_ISSUER)")
		case flagOAuthAudience:
			fs.StringVar(&c.oauthAudience, name, c.oauthAudience, "the aud an OAuth token must name: the audience (API identifier) the issuer mints this server's tokens for (env MCP_OAUTH_AUDIENCE, default --public-url)")
		case flagPublicURL:
			fs.StringVar(&c.publicURL, name, c.publicURL, "the absolute URL clients reach /mcp at, behind a load balancer or proxy, e.g. https://backups.example.com/mcp (env MCP_PUBLIC_URL, default http://ADDR/mcp)")
		case flagLegacyAPI:
			fs.StringVar(&c.legacyAPI, name, c.legacyAPI, "the old REST API: on, read-only (its list only: its restore runs without a confirmation) or off (default on)")
		default:
			panic("no configuration flag " + name) // a misspelt name: caught by any test that builds the commands
		}
	}
}

// resolve fills what the flags left unset from the environment, then the
// defaults, and checks the values.
func (c *config) resolve(getenv func(string) (string, bool)) error {
	c.databaseURL = orEnv(c.databaseURL, getenv, "DATABASE_URL", "")
	c.projectRoot = orEnv(c.projectRoot, getenv, "VECTOR_PROJECT_ROOT", ".")
	c.backupRoot = orEnv(c.backupRoot, getenv, "VECTOR_BACKUP_ROOT", defaultBackupRoot)
	c.authToken = orEnv(c.authToken, getenv, "MCP_AUTH_TOKEN", "")
	c.metrics = orEnv(c.metrics, getenv, "MCP_METRICS_ADDR", "")
	c.oauthIssuer = orEnv(c.oauthIssuer, getenv, "MCP_OAUTH_ISSUER", "")
	c.oauthAudience = orEnv(c.oauthAudience, getenv, "MCP_OAUTH_AUDIENCE", "")
	c.publicURL = orEnv(c.publicURL, getenv, "MCP_PUBLIC_URL", "")
	if c.http != "" {
		if err := c.checkServing(); err != nil {
			return err
		}
	}
	if c.confirm != "token" && c.confirm != "none" {
		return fmt.Errorf("--confirm must be token or none, got %q", c.confirm)
	}
	if c.keepSnaps < 0 {
		return fmt.Errorf("--keep-snapshots must be 0 (keep all) or more, got %d", c.keepSnaps)
	}
	if c.indexMemory != "" && !restore.ValidIndexMemory(c.indexMemory) {
		return fmt.Errorf("--index-memory must be a size such as 512MB or 2GB (units kB, MB, GB, TB), got %q", c.indexMemory)
	}
	if c.lockWait <= 0 {
		return fmt.Errorf("--lock-timeout must be more than 0, got %s", c.lockWait)
	}
	if c.shutdownGrace < 0 {
		return fmt.Errorf("--shutdown-grace must not be negative, got %s", c.shutdownGrace)
	}
	if key, ok := getenv("MCP_CONFIRM_KEY"); ok && key != "" {
		// A fixed key lets tokens survive a restart of the server.
		b, err := hex.DecodeString(key)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("MCP_CONFIRM_KEY must be 64 hex digits (32 bytes)")
		}
		if err := confirm.CheckKey(b); err != nil {
			return fmt.Errorf("MCP_CONFIRM_KEY %v; make one with: openssl rand -hex 32", err)
		}
		c.confirmKey = b
	}
	return nil
}

// checkServing checks the HTTP server's authorization settings.
func (c *config) checkServing() error {
	if c.legacyAPI != "" { // "" is on
		if _, err := httpapi.ParseLegacyMode(c.legacyAPI); err != nil {
			return err
		}
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--public-url %q: want the absolute URL clients reach /mcp at, such as https://backups.example.com/mcp", c.publicURL)
		}
	}
	if c.oauthIssuer != "" {
		return oauth.CheckIssuer(c.oauthIssuer)
	}
	if c.oauthAudience != "" {
		return fmt.Errorf("--oauth-audience is set but --oauth-issuer is not: set the issuer whose tokens name that audience")
	}
	return nil
}

func orEnv(flagValue string, getenv func(string) (string, bool), name, fallback string) string {
	if flagValue != "" {
		return flagValue
	}
	if v, ok := getenv(name); ok && v != "" {
		return v
	}
	return fallback
}

// service builds the core every front end calls.
func (c *config) service(logger *slog.Logger) (*service.Service, error) {
	cat, err := catalog.New(c.projectRoot, c.backupRoot)
	if err == nil {
		// Bounded: a bucket whose endpoint does not answer must not hang
		// the start.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = cat.Check(ctx)
		cancel()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot use the backup root: %w", err)
	}
	svc := &service.Service{
		Catalog:       cat,
		Policy:        dbaccess.NewPolicy(c.databaseURL, c.allow),
		Logger:        logger,
		KeepSnapshots: c.keepSnaps,
		LockWait:      c.lockWait,
		IndexMemory:   c.indexMemory,
		Audit:         audit.New(cat.Store),
	}
	if c.confirm == "token" {
		if svc.Confirm, err = confirm.NewSealer(c.confirmKey, confirm.DefaultTTL); err != nil {
			return nil, fmt.Errorf("cannot set up confirmations: %w", err)
		}
		if c.confirmKey != nil {
			// Tokens outlive this process: so must the record of spent ones.
			svc.Confirm.PersistSpent(cat.Store)
		}
	}
	return svc, nil
}
