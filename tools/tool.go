package tools

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// toolset is every tool, in the order clients see them: one constructor
// each, in its own file, holding the tool's definition, annotations and
// handler.
var toolset = []func(*handlers) tool{listTool, inspectTool, restoreTool, createTool}

// tool is one MCP tool: its definition and its handler.
type tool struct {
	def     mcp.Tool
	handler server.ToolHandlerFunc
}

// readOnly is what the read-only server serves: derived from the
// annotation clients see, so the two cannot disagree.
func (t tool) readOnly() bool {
	h := t.def.Annotations.ReadOnlyHint
	return h != nil && *h
}

// hints are a tool's behaviour hints. All four are always set: mcp-go's
// defaults would call every tool destructive and open-world. None is
// open-world: tools see only the local backup root and the configured
// database.
type hints struct{ readOnly, destructive, idempotent bool }

// about is what a tool tells clients besides its schemas.
type about struct {
	title, description string
	hints              hints
}

// newTool makes a tool named name from an operation on typed arguments: its
// input and output schemas are derived from A and R (the schemas package's
// types for that name), and its handler validates and decodes the raw
// arguments against the published schema before op runs, then turns op's
// result or error into an MCP result. Every tool goes through here, so none
// can skip validation or answer in another shape.
func newTool[A any, R any](h *handlers, name string, a about, op func(context.Context, mcp.CallToolRequest, A) (*R, error), summary func(*R) string) tool {
	var args A
	var result R
	def := mcp.NewToolWithRawSchema(name, a.description, schemas.Input(args))
	for _, opt := range []mcp.ToolOption{
		mcp.WithToolTitle(a.title),
		mcp.WithRawOutputSchema(schemas.Output(result)),
		mcp.WithToolAnnotation(mcp.ToolAnnotation{
			Title:           a.title,
			ReadOnlyHint:    mcp.ToBoolPtr(a.hints.readOnly),
			DestructiveHint: mcp.ToBoolPtr(a.hints.destructive),
			IdempotentHint:  mcp.ToBoolPtr(a.hints.idempotent),
			OpenWorldHint:   mcp.ToBoolPtr(false),
		}),
	} {
		opt(&def)
	}
	scope := caller.Write
	if a.hints.readOnly {
		scope = caller.Read
	}
	return tool{def: def, handler: typed(h, name, scope, op, summary)}
}

// typed is newTool's handler. A caller not granted the tool's scope (read
// for the read-only tools, write for the others) is refused before
// anything runs.
func typed[A any, R any](h *handlers, name string, scope caller.Scope, op func(context.Context, mcp.CallToolRequest, A) (*R, error), summary func(*R) string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := permitted(ctx, scope, name); err != nil {
			return h.errorResult(name, err), nil
		}
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
	// Messages name paths, collections and keys from the caller, the backup
	// files and the database, not always quoted: the text escapes them, so
	// that none can start a line of its own. The one message of several
	// lines, a plan to approve, is the service's own, with its names quoted.
	text := display.Escape(e.Message)
	if e.Type == apierr.ConfirmationRequired {
		text = display.EscapeLines(e.Message)
	}
	return &mcp.CallToolResult{
		IsError:           true,
		Content:           []mcp.Content{mcp.NewTextContent(string(e.Type) + ": " + text)},
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
		message = display.Escape(message) // what a restore waits for names the database's sessions
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

// permitted refuses a call whose caller was not granted scope: FORBIDDEN,
// reason insufficient_scope, naming the scope; what is the tool, resource
// or prompt called. stdio and the command line are the local operator, who
// may do everything.
func permitted(ctx context.Context, scope caller.Scope, what string) error {
	if err := caller.From(ctx).Require(scope); err != nil {
		return apierr.Wrap(apierr.Forbidden, err, "%s: %v", what, err).With("reason", "insufficient_scope").With("scope", string(scope))
	}
	return nil
}
