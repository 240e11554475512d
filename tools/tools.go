// Package tools adapts the service's operations to MCP: one file and one
// constructor per tool (its definition, schemas derived from its argument
// and result types, annotations and handler), one generic handler that
// validates and decodes arguments before any operation runs (tool.go), and
// results as structured content plus a short summary for the model; and the
// prompt and resources for the people behind the model.
package tools

import (
	"cmp"
	"log/slog"

	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// Options configure the MCP server.
type Options struct {
	ReadOnly bool   // serve only the read-only tools
	Version  string // reported to clients
	Logger   *slog.Logger
}

// ServerName is the name the server reports to clients.
const ServerName = "pgvector-backup-mcp"

const instructions = `Tools to see and roll back the vector training data (LangChain PGVector tables langchain_pg_collection and langchain_pg_embedding) of a text-to-SQL stack.
Start with list_vector_backups to find backup sets; each set is named by its folder (relative_path, pass it as backup_path) and its timestamp.
restore_vector_backup replaces or appends table rows in one transaction: it either completes or changes nothing. Use truncate_before_restore=true to roll the tables back to the backup.
The prompt rollback_vector_data walks through a safe rollback; each set's manifest and log are resources (vector-backup://{location}/{timestamp}/manifest and /log).`

// NewServer returns an MCP server serving svc's operations. It routes
// svc's log records about a call to that call's client too (logging.go).
func NewServer(svc *service.Service, opts Options) (*server.MCPServer, error) {
	v, err := schemas.NewValidator()
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handlers{svc: svc, validator: v, logger: logger}
	hooks := &server.Hooks{}
	hooks.AddAfterListResources(h.listResources)
	hooks.AddOnRequestInitialization(boundPromptRequest)
	logging := newLoggingClients()
	logging.hook(hooks)
	srv := server.NewMCPServer(ServerName, opts.Version,
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithPromptCapabilities(false),
		server.WithHooks(hooks),
		server.WithInstructions(instructions),
		server.WithRecovery(),
		server.WithElicitation(),
		server.WithLogging(),
	)
	h.srv = srv
	// Records about a call also go to its client, when it asked (logging.go).
	h.logger = forwardLogs(logger, srv, logging)
	svc.Logger = forwardLogs(cmp.Or(svc.Logger, slog.New(slog.DiscardHandler)), srv, logging)
	h.addResources(srv)
	h.addPrompts(srv)
	for _, construct := range toolset {
		t := construct(h)
		if opts.ReadOnly && !t.readOnly() {
			continue
		}
		srv.AddTool(t.def, h.observed(t.def.Name, t.handler))
	}
	return srv, nil
}

// handlers holds what tool handlers share.
type handlers struct {
	svc       *service.Service
	srv       *server.MCPServer
	validator *schemas.Validator
	logger    *slog.Logger
}
