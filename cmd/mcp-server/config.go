package main

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/target"
)

// config is the server's configuration: flags first, then environment, then
// defaults, as the contract's table says. Every command takes it.
type config struct {
	databaseURL string
	projectRoot string
	backupRoot  string
	allow       []target.Pattern
	readOnly    bool
	confirm     string // "token" or "none"
	confirmKey  []byte // 32 bytes, or nil for a key made at start
	logLevel    slog.Level
	keepSnaps   int // pre-restore snapshot sets kept; 0 keeps all

	lockWait time.Duration

	// Serving HTTP.
	http          string // address; "" serves stdio
	authToken     string
	allowOrigins  []string
	shutdownGrace time.Duration
}

const (
	defaultBackupRoot    = "data_pipeline/training_data"
	defaultShutdownGrace = 20 * time.Second
	defaultKeepSnapshots = 10
)

// bindFlags declares the configuration flags on fs, writing into c.
func (c *config) bindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.databaseURL, "database-url", "", "target database URL (env DATABASE_URL, else libpq's PG* variables)")
	fs.StringVar(&c.projectRoot, "project-root", "", "what relative backup_paths start from (env VECTOR_PROJECT_ROOT, default .)")
	fs.StringVar(&c.backupRoot, "backup-root", "", "where backups live, relative to the project root or absolute (env VECTOR_BACKUP_ROOT, default "+defaultBackupRoot+")")
	fs.Func("allow-db-connection", "host[:port]/database pattern (* allowed) a request's db_connection may name; repeatable", func(s string) error {
		p, err := target.ParsePattern(s)
		if err != nil {
			return err
		}
		c.allow = append(c.allow, p)
		return nil
	})
	fs.BoolVar(&c.readOnly, "read-only", false, "serve only the read-only tools")
	fs.StringVar(&c.confirm, "confirm", "token", "token: restores that delete or overwrite rows need a person's approval; none: unattended pipelines")
	fs.Func("log-level", "debug, info, warn or error (default info)", func(s string) error {
		return c.logLevel.UnmarshalText([]byte(s))
	})
	fs.DurationVar(&c.lockWait, "lock-timeout", restore.DefaultLockWait, "how long a restore waits for a lock another session holds before it fails with CONFLICT naming that session")
	fs.IntVar(&c.keepSnaps, "keep-snapshots", defaultKeepSnapshots, "pre-restore snapshot sets kept; after a restore, older ones this server wrote are removed (0 keeps all)")
	fs.StringVar(&c.http, "http", "", "serve HTTP on this address instead of stdio (host:port; a bare :port means loopback)")
	fs.StringVar(&c.authToken, "auth-token", "", "bearer token HTTP requests must carry; required off loopback (env MCP_AUTH_TOKEN)")
	fs.StringArrayVar(&c.allowOrigins, "allow-origin", nil, "web origin (https://host[:port]) allowed to call the HTTP server besides its own; repeatable")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", defaultShutdownGrace, "on SIGTERM, how long running HTTP calls may finish before they are cancelled (and roll back)")
}

// resolve fills what the flags left unset from the environment, then the
// defaults, and checks the values.
func (c *config) resolve(getenv func(string) (string, bool)) error {
	c.databaseURL = orEnv(c.databaseURL, getenv, "DATABASE_URL", "")
	c.projectRoot = orEnv(c.projectRoot, getenv, "VECTOR_PROJECT_ROOT", ".")
	c.backupRoot = orEnv(c.backupRoot, getenv, "VECTOR_BACKUP_ROOT", defaultBackupRoot)
	c.authToken = orEnv(c.authToken, getenv, "MCP_AUTH_TOKEN", "")
	if c.confirm != "token" && c.confirm != "none" {
		return fmt.Errorf("--confirm must be token or none, got %q", c.confirm)
	}
	if c.keepSnaps < 0 {
		return fmt.Errorf("--keep-snapshots must be 0 (keep all) or more, got %d", c.keepSnaps)
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
		err = cat.Check()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot use the backup root: %w", err)
	}
	svc := &service.Service{
		Catalog:       cat,
		Policy:        target.NewPolicy(c.databaseURL, c.allow),
		Logger:        logger,
		KeepSnapshots: c.keepSnaps,
		LockWait:      c.lockWait,
	}
	if c.confirm == "token" {
		if svc.Confirm, err = confirm.NewSealer(c.confirmKey, confirm.DefaultTTL); err != nil {
			return nil, fmt.Errorf("cannot set up confirmations: %w", err)
		}
		if c.confirmKey != nil {
			// Tokens outlive this process: so must the record of spent ones.
			svc.Confirm.PersistSpent(cat.BackupRoot)
		}
	}
	return svc, nil
}
