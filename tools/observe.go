package tools

import (
	"context"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/caller"
)

// observed wraps the handler of the tool name: the call carries its front
// (MCP, and the tool's name) for the audit trail, and is counted in the
// service's metrics, with the outcome its result says.
func (h *handlers) observed(name string, next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		ctx = caller.WithFront(ctx, caller.Front{Name: caller.FrontMCP, Operation: name})
		res, err := next(ctx, req)
		h.svc.Metrics.Call(caller.FrontMCP, name, resultError(res, err), time.Since(start))
		return res, err
	}
}

// resultError is the error a tool's result reports, as far as the metrics
// need it (its type and reason, from the error object errorResult made),
// or nil for a result that is no error. A question for the person counts
// as CONFIRMATION_REQUIRED.
func resultError(res *mcp.CallToolResult, err error) error {
	if err != nil {
		return err
	}
	if res != nil && res.ResultType == mcp.ResultTypeInputRequired {
		// The person is asked to approve (2026-07-28): like the token's
		// round trip, nothing ran yet.
		return apierr.New(apierr.ConfirmationRequired, "")
	}
	if res == nil || !res.IsError {
		return nil
	}
	obj, _ := res.StructuredContent.(map[string]any)
	typ, _ := obj["error_type"].(string)
	reason, _ := obj["reason"].(string)
	if typ == "" {
		typ = string(apierr.DatabaseError) // the contract's type for failures it does not name
	}
	e := apierr.New(apierr.Type(typ), "")
	if reason != "" {
		e = e.With("reason", reason)
	}
	return e
}
