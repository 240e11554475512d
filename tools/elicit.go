package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/service"
)

// approver asks the person at the client to approve a restore plan through
// MCP elicitation, or returns nil when the client did not declare the
// elicitation capability: mcp-go would send elicitation/create regardless,
// and a client that never declared it cannot answer.
func (h *handlers) approver(ctx context.Context) service.Approver {
	if !canElicit(ctx) {
		return nil
	}
	return func(ctx context.Context, message string) (bool, error) {
		res, err := h.srv.RequestElicitation(ctx, mcp.ElicitationRequest{
			Params: mcp.ElicitationParams{
				Message: message,
				RequestedSchema: map[string]any{
					"type": "object",
					"properties": map[string]any{
						"approve": map[string]any{
							"type":        "boolean",
							"title":       "Approve this restore",
							"description": "Yes replaces the rows as described; no changes nothing.",
						},
					},
					"required": []string{"approve"},
				},
			},
		})
		if err != nil {
			return false, err
		}
		if res.Action != mcp.ElicitationResponseActionAccept {
			return false, nil
		}
		content, _ := res.Content.(map[string]any)
		approved, _ := content["approve"].(bool)
		return approved, nil
	}
}

// canElicit reports whether the client declared elicitation: per request in
// the 2026-07-28 protocol, per session before it.
func canElicit(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	session, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
	return ok && session.GetClientCapabilities().Elicitation != nil
}
