package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// A restore that deletes or overwrites rows is put to the person behind the
// client, when the client declared it can ask them (elicitation):
//
//   - before protocol 2026-07-28, the server asks during the call
//     (elicitation/create); a client that then cannot answer gets the sealed
//     confirmation token instead;
//   - from 2026-07-28, which has no server-initiated requests, the call
//     answers input_required with the question, and the sealed token as the
//     request state; the client asks and calls again with the answer.
//
// A client that did not declare elicitation is never asked either way: it
// gets CONFIRMATION_REQUIRED with the plan and the token, for the model to
// show the person.

// approveID names the answer in the input requests and responses.
const approveID = "approve"

// approver asks the person directly, during the call (before 2026-07-28).
func (h *handlers) approver(ctx context.Context, question string) (bool, error) {
	res, err := h.srv.RequestElicitation(ctx, mcp.ElicitationRequest{Params: approval(question)})
	if err != nil {
		return false, err
	}
	return approved(res), nil
}

// approval is the question put to the person: a form with one yes/no.
func approval(question string) mcp.ElicitationParams {
	return mcp.ElicitationParams{
		Message: question,
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				approveID: map[string]any{
					"type":        "boolean",
					"title":       "Approve this restore",
					"description": "Yes replaces the rows as described; no changes nothing.",
				},
			},
			"required": []string{approveID},
		},
	}
}

// approved reports whether an answer accepts and approves, exactly: any
// other action or content is a no.
func approved(res *mcp.ElicitationResult) bool {
	if res == nil || res.Action != mcp.ElicitationResponseActionAccept {
		return false
	}
	content, _ := res.Content.(map[string]any)
	yes, _ := content[approveID].(bool)
	return yes
}

// inputRequired is an operation's answer that is a question for the client
// rather than a result or an error.
type inputRequired struct{ result *mcp.CallToolResult }

func (inputRequired) Error() string { return "input required" }

// isModern reports whether the request speaks protocol 2026-07-28 or later.
func isModern(ctx context.Context) bool {
	info := server.RequestProtocolInfoFromContext(ctx)
	return info != nil && info.Modern
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
