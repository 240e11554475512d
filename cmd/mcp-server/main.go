// Command mcp-server serves the vector backup tools over MCP on stdio:
// stdout carries the protocol only, logs go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/target"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: testable, and every exit path returns.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcp-server: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	cat, err := catalog.New(cfg.projectRoot, cfg.backupRoot)
	if err != nil {
		logger.Error("cannot use the backup root", "err", err)
		return 1
	}
	svc := &service.Service{
		Catalog: cat,
		Policy:  target.NewPolicy(cfg.databaseURL, cfg.allow),
		Logger:  logger,
	}
	if cfg.confirm == "token" {
		if svc.Confirm, err = confirm.NewSealer(cfg.confirmKey, confirm.DefaultTTL); err != nil {
			logger.Error("cannot set up confirmations", "err", err)
			return 1
		}
		if cfg.confirmKey != nil {
			// Tokens outlive this process: so must the record of spent ones.
			svc.Confirm.PersistUsed(filepath.Join(cat.BackupRoot, ".confirm_used_tokens"))
		}
	}
	srv, err := tools.NewServer(svc, tools.Options{ReadOnly: cfg.readOnly, Version: version(), Logger: logger})
	if err != nil {
		logger.Error("cannot build the MCP server", "err", err)
		return 1
	}
	logger.Info("serving MCP on stdio", "version", version(), "project_root", cat.ProjectRoot,
		"backup_root", cat.BackupRoot, "read_only", cfg.readOnly, "confirm", cfg.confirm)

	stdio := server.NewStdioServer(srv)
	stdio.SetErrorLogger(log.New(stderr, "mcp: ", log.LstdFlags))
	track := newInflight()
	if err := stdio.Listen(ctx, track.reader(ctx, stdin), track.writer(stdout)); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		logger.Error("stdio transport failed", "err", err)
		return 1
	}
	return 0
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
