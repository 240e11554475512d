package main

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log"

	"github.com/mark3labs/mcp-go/server"
	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/httpapi"
	"github.com/vectorops/pgvector-backup-mcp/metrics"
	"github.com/vectorops/pgvector-backup-mcp/oauth"
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
--auth-token (or MCP_AUTH_TOKEN) or --oauth-issuer: every route but /health
then wants "Authorization: Bearer <token>", the static token or an access
token of the issuer (scope vector-backups:read to list and inspect,
vector-backups:write to restore and back up; its metadata is at
/.well-known/oauth-protected-resource). --legacy-api read-only or off
closes the old REST API's restore, which runs without a confirmation.
Requests from a web page of another origin
are refused (--allow-origin admits one). On SIGTERM running calls may finish
for --shutdown-grace, then are cancelled: restores roll back.`,
		Example: `  # The drop-in for the old service, on loopback port 8084:
  mcp-server serve --http :8084 --project-root /srv/text2sql

  # Reachable from other machines, with a token:
  MCP_AUTH_TOKEN=$(openssl rand -hex 32) mcp-server serve --http 0.0.0.0:8084

  # Behind a load balancer, for agents with OAuth access tokens:
  mcp-server serve --http 0.0.0.0:8084 --public-url https://backups.example.com/mcp \
    --oauth-issuer https://login.example.com/realms/ops --legacy-api read-only`,
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
	if a.cfg.metrics != "" {
		svc.Metrics = metrics.New(version())
		stop, err := a.serveMetrics(a.cfg.metrics, svc.Metrics)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv, err := tools.NewServer(svc, tools.Options{ReadOnly: a.cfg.readOnly, Version: version(), Logger: a.logger})
	if err != nil {
		return err
	}
	attrs := []any{"version", version(), "project_root", svc.Catalog.ProjectRoot, "backup_root", svc.Catalog.BackupRoot,
		"read_only", a.cfg.readOnly, "confirm", a.cfg.confirm}
	if a.cfg.http == "" {
		if a.cfg.oauthIssuer != "" {
			a.logger.Warn("--oauth-issuer protects the HTTP server only: on stdio the caller is the local operator")
		}
		a.logger.Info("serving MCP on stdio", attrs...)
		return a.serveStdio(ctx, srv)
	}
	ln, err := httpapi.Listen(a.cfg.http, a.cfg.authToken != "" || a.cfg.oauthIssuer != "")
	if errors.Is(err, httpapi.ErrTokenRequired) {
		return usageError{error: err, command: cmd.CommandPath()}
	}
	if err != nil {
		return err
	}
	publicURL := cmp.Or(a.cfg.publicURL, "http://"+ln.Addr().String()+httpapi.MCPPath)
	var verifier *oauth.Verifier
	if a.cfg.oauthIssuer != "" {
		// Bounded (oauth.DiscoveryTimeout): an issuer that does not answer
		// stops the start, saying what to fix.
		verifier, err = oauth.New(ctx, oauth.Config{Issuer: a.cfg.oauthIssuer, Audience: cmp.Or(a.cfg.oauthAudience, publicURL), Logger: a.logger})
		if err != nil {
			ln.Close()
			return err
		}
	}
	h, err := httpapi.New(svc, srv, httpapi.Options{
		AuthToken:    a.cfg.authToken,
		OAuth:        verifier,
		PublicURL:    publicURL,
		LegacyAPI:    httpapi.LegacyMode(a.cfg.legacyAPI),
		AllowOrigins: a.cfg.allowOrigins,
		Version:      version(),
		Logger:       a.logger,
	})
	if err != nil {
		ln.Close()
		return err
	}
	attrs = append(attrs, "addr", ln.Addr().String(), "mcp", publicURL, "auth_token", a.cfg.authToken != "", "legacy_api", cmp.Or(a.cfg.legacyAPI, string(httpapi.LegacyOn)))
	if verifier != nil {
		attrs = append(attrs, "oauth_issuer", verifier.Issuer(), "oauth_audience", verifier.Audience())
	}
	a.logger.Info("serving HTTP", attrs...)
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
