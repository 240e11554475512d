// Package tools adapts the service's operations to MCP tools: definitions
// with generated schemas and explicit annotations, one generic handler that
// validates and decodes arguments before any operation runs, and results as
// structured content plus a short summary for the model.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
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

// NewServer returns an MCP server serving svc's operations.
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
	srv := server.NewMCPServer(ServerName, opts.Version,
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithPromptCapabilities(false),
		server.WithHooks(hooks),
		server.WithInstructions(instructions),
		server.WithRecovery(),
		server.WithElicitation(),
	)
	h.srv = srv
	h.addResources(srv)
	h.addPrompts(srv)
	for _, t := range h.tools() {
		if opts.ReadOnly && !t.readOnly {
			continue
		}
		srv.AddTool(t.definition(), t.handler)
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

// tool is one MCP tool. The four hints are always set: mcp-go's defaults
// would call every tool destructive and open-world.
type tool struct {
	name, title, description          string
	readOnly, destructive, idempotent bool
	types                             schemas.Tool
	handler                           server.ToolHandlerFunc
}

func (t tool) definition() mcp.Tool {
	def := mcp.NewToolWithRawSchema(t.name, t.description, schemas.Input(t.types.Args))
	for _, opt := range []mcp.ToolOption{
		mcp.WithToolTitle(t.title),
		mcp.WithRawOutputSchema(schemas.Output(t.types.Result)),
		mcp.WithToolAnnotation(mcp.ToolAnnotation{
			Title:           t.title,
			ReadOnlyHint:    mcp.ToBoolPtr(t.readOnly),
			DestructiveHint: mcp.ToBoolPtr(t.destructive),
			IdempotentHint:  mcp.ToBoolPtr(t.idempotent),
			OpenWorldHint:   mcp.ToBoolPtr(false), // only the local backup root and the configured database
		}),
	} {
		opt(&def)
	}
	return def
}

// typed makes a tool handler from an operation on typed arguments: it
// validates and decodes the raw arguments against the published schema, runs
// op, and turns its result or error into an MCP result. Every tool goes
// through here, so none can skip validation or answer in another shape.
func typed[A any, R any](h *handlers, name string, op func(context.Context, mcp.CallToolRequest, A) (*R, error), summary func(*R) string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		// The raw bytes, when the transport kept them, avoid a lossy
		// round trip through map[string]any (integers above 2^53).
		raw := []byte(req.Params.RawArguments)
		if len(raw) == 0 {
			var err error
			if raw, err = json.Marshal(req.Params.Arguments); err != nil {
				return h.errorResult(name, apierr.New(apierr.InvalidParams, "arguments are not a JSON object")), nil
			}
		}
		var args A
		if err := h.validator.Decode(name, raw, &args); err != nil {
			return h.errorResult(name, err), nil
		}
		res, err := op(ctx, req, args)
		var ask inputRequired
		if errors.As(err, &ask) {
			return ask.result, nil
		}
		if err != nil {
			return h.errorResult(name, err), nil
		}
		return &mcp.CallToolResult{
			Content:           []mcp.Content{mcp.NewTextContent(summary(res))},
			StructuredContent: res,
		}, nil
	}
}

// errorResult is an isError result whose structured content is the error
// object of the output schema's second branch.
func (h *handlers) errorResult(tool string, err error) *mcp.CallToolResult {
	e := apierr.From(err)
	obj := e.Fields()
	obj["message"] = e.Message
	h.logger.Warn("tool call failed", "tool", tool, "error_type", e.Type, "err", err)
	return &mcp.CallToolResult{
		IsError:           true,
		Content:           []mcp.Content{mcp.NewTextContent(string(e.Type) + ": " + e.Message)},
		StructuredContent: obj,
	}
}

// progress returns a reporter that sends MCP progress notifications when the
// client asked for them by sending a progress token, else nil.
func (h *handlers) progress(ctx context.Context, req mcp.CallToolRequest) service.Progress {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return nil
	}
	token := req.Params.Meta.ProgressToken
	return func(done, total float64, message string) {
		err := h.srv.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
			"progressToken": token,
			"progress":      done,
			"total":         total,
			"message":       message,
		})
		if err != nil {
			h.logger.Debug("progress notification not sent", "err", err)
		}
	}
}
