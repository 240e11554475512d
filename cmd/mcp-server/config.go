package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/vectorops/pgvector-backup-mcp/target"
)

// config is the server's configuration: flags first, then environment, then
// defaults, as the contract's table says.
type config struct {
	databaseURL string
	projectRoot string
	backupRoot  string
	allow       []target.Pattern
	readOnly    bool
	confirm     string // "token" or "none"
	confirmKey  []byte // 32 bytes, or nil for a key made at start
	logLevel    slog.Level
}

const defaultBackupRoot = "data_pipeline/training_data"

func parseConfig(args []string, getenv func(string) (string, bool), stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("mcp-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mcp-server [flags]\n\nServes the vector backup tools over MCP on stdio (logs on stderr).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.databaseURL, "database-url", "", "target database URL (env DATABASE_URL, else libpq's PG* variables)")
	fs.StringVar(&cfg.projectRoot, "project-root", "", "what relative backup_paths start from (env VECTOR_PROJECT_ROOT, default .)")
	fs.StringVar(&cfg.backupRoot, "backup-root", "", "where backups live, relative to the project root or absolute (env VECTOR_BACKUP_ROOT, default "+defaultBackupRoot+")")
	fs.Func("allow-db-connection", "host[:port]/database pattern (* allowed) a request's db_connection may name; repeatable", func(s string) error {
		p, err := target.ParsePattern(s)
		if err != nil {
			return err
		}
		cfg.allow = append(cfg.allow, p)
		return nil
	})
	fs.BoolVar(&cfg.readOnly, "read-only", false, "serve only the read-only tools")
	fs.StringVar(&cfg.confirm, "confirm", "token", "token: restores that delete or overwrite rows need a person's approval; none: unattended pipelines")
	fs.Func("log-level", "debug, info, warn or error (default info)", func(s string) error {
		return cfg.logLevel.UnmarshalText([]byte(s))
	})
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see -help)", fs.Arg(0))
	}
	cfg.databaseURL = orEnv(cfg.databaseURL, getenv, "DATABASE_URL", "")
	cfg.projectRoot = orEnv(cfg.projectRoot, getenv, "VECTOR_PROJECT_ROOT", ".")
	cfg.backupRoot = orEnv(cfg.backupRoot, getenv, "VECTOR_BACKUP_ROOT", defaultBackupRoot)
	if cfg.confirm != "token" && cfg.confirm != "none" {
		return cfg, fmt.Errorf("--confirm must be token or none, got %q", cfg.confirm)
	}
	if key, ok := getenv("MCP_CONFIRM_KEY"); ok && key != "" {
		// A fixed key lets tokens survive a restart of the server.
		b, err := hex.DecodeString(key)
		if err != nil || len(b) != 32 {
			return cfg, fmt.Errorf("MCP_CONFIRM_KEY must be 64 hex digits (32 bytes)")
		}
		cfg.confirmKey = b
	}
	return cfg, nil
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
