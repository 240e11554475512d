package tools

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// TestResultError: the metrics' outcome of a tool call is what its result
// says: ok, the error object's type and reason, a question for the person
// as CONFIRMATION_REQUIRED, a result of no error object as the contract's
// type for failures it does not name.
func TestResultError(t *testing.T) {
	h := &handlers{logger: slog.New(slog.DiscardHandler)}
	conflict := h.errorResult("restore_vector_backup", apierr.New(apierr.Conflict, "held").With("reason", "lock_timeout"))
	for _, c := range []struct {
		name    string
		res     *mcp.CallToolResult
		err     error
		typ     apierr.Type
		reason  string
		noError bool
	}{
		{name: "ok", res: &mcp.CallToolResult{}, noError: true},
		{name: "error object", res: conflict, typ: apierr.Conflict, reason: "lock_timeout"},
		{name: "question", res: &mcp.CallToolResult{Result: mcp.Result{ResultType: mcp.ResultTypeInputRequired}}, typ: apierr.ConfirmationRequired},
		{name: "no object", res: &mcp.CallToolResult{IsError: true, StructuredContent: "garbage"}, typ: apierr.DatabaseError},
		{name: "handler error", err: errors.New("boom"), typ: apierr.DatabaseError},
	} {
		err := resultError(c.res, c.err)
		if c.noError {
			if err != nil {
				t.Errorf("%s: %v, want none", c.name, err)
			}
			continue
		}
		e := apierr.From(err)
		if e.Type != c.typ || e.Reason != c.reason {
			t.Errorf("%s: %s reason %q, want %s reason %q", c.name, e.Type, e.Reason, c.typ, c.reason)
		}
	}
}
