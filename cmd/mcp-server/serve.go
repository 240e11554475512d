package main

import (
	"context"
	"errors"
	"io"
	"log"

	"github.com/mark3labs/mcp-go/server"
	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/httpapi"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the MCP tools on stdio, or over HTTP with the old REST API",
		Long: `serve serves the MCP tools on stdio, as mcp-server alone does; with --http
ADDR it serves on that address instead:

  /mcp                                       the same tools, MCP streamable HTTP
  GET  /api/v0/data_pipeline/vector/restore/list    the old service's REST API,
  POST /api/v0/data_pipeline/vector/restore         same requests, envelope and
  POST /api/v0/data_pipeline/vector/backup          messages
  GET  /health                               whether the database answers

ADDR without a host (":8084") binds loopback. Any other address needs
--auth-token (or MCP_AUTH_TOKEN): every route but /health then wants
"Authorization: Bearer <token>". Requests from a web page of another origin
are refused (--allow-origin admits one). On SIGTERM running calls may finish
for --shutdown-grace, then are cancelled: restores roll back.`,
		Example: `  # The drop-in for the old service, on loopback port 8084:
  mcp-server serve --http :8084 --project-root /srv/text2sql

  # Reachable from other machines, with a token:
  MCP_AUTH_TOKEN=$(openssl rand -hex 32) mcp-server serve --http 0.0.0.0:8084`,
		Args: noArgs,
		RunE: a.serve,
	}
	a.reads(cmd, servingFlags()...)
	return cmd
}

// serve builds the server and serves it on stdio or HTTP until the
// command's context ends or stdin closes.
func (a *app) serve(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	svc, err := a.cfg.service(a.logger)
	if err != nil {
		return err
	}
	srv, err := tools.NewServer(svc, tools.Options{ReadOnly: a.cfg.readOnly, Version: version(), Logger: a.logger})
	if err != nil {
		return err
	}
	attrs := []any{"version", version(), "project_root", svc.Catalog.ProjectRoot, "backup_root", svc.Catalog.BackupRoot,
		"read_only", a.cfg.readOnly, "confirm", a.cfg.confirm}
	if a.cfg.http == "" {
		a.logger.Info("serving MCP on stdio", attrs...)
		return a.serveStdio(ctx, srv)
	}
	ln, err := httpapi.Listen(a.cfg.http, a.cfg.authToken)
	if errors.Is(err, httpapi.ErrTokenRequired) {
		return usageError{error: err, command: cmd.CommandPath()}
	}
	if err != nil {
		return err
	}
	h, err := httpapi.New(svc, srv, httpapi.Options{
		AuthToken:    a.cfg.authToken,
		AllowOrigins: a.cfg.allowOrigins,
		Version:      version(),
		Logger:       a.logger,
	})
	if err != nil {
		ln.Close()
		return err
	}
	a.logger.Info("serving HTTP", append(attrs, "addr", ln.Addr().String(), "mcp", "http://"+ln.Addr().String()+httpapi.MCPPath,
		"auth_token", a.cfg.authToken != "")...)
	return httpapi.Serve(ctx, ln, h, a.cfg.shutdownGrace)
}

// serveStdio serves MCP on the process's stdin and stdout.
func (a *app) serveStdio(ctx context.Context, srv *server.MCPServer) error {
	stdio := server.NewStdioServer(srv)
	stdio.SetErrorLogger(log.New(a.stderr, "mcp: ", log.LstdFlags))
	track := newInflight()
	err := stdio.Listen(ctx, track.reader(ctx, a.stdin), track.writer(a.stdout))
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
