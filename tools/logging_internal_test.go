package tools

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
)

// TestLogsOnlyToClientsThatAsked: an error logged during a session-era
// client's call reaches that client only when it asked for log messages
// (mcp-go alone would send a session's errors to a client that never
// asked), and with a level it asked for; records at any level still reach
// the server's own handler.
func TestLogsOnlyToClientsThatAsked(t *testing.T) {
	hooks := &server.Hooks{}
	clients := newLoggingClients()
	clients.hook(hooks)
	srv := server.NewMCPServer("test", "1", server.WithToolCapabilities(false), server.WithLogging(), server.WithHooks(hooks))
	var written atomic.Int32
	base := slog.New(countingHandler{&written})
	logger := forwardLogs(base, srv, clients)
	srv.AddTool(mcp.NewTool("fail", mcp.WithDescription("logs an error and a debug record")), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		logger.With("op", "test").WithGroup("g").ErrorContext(ctx, "boom", "n", 1, "took", time.Second)
		logger.DebugContext(ctx, "detail")
		logger.Error("no call's record")
		return mcp.NewToolResultText("done"), nil
	})

	connect := func(name string) (*client.Client, *atomic.Int32, *atomic.Value) {
		c := mcptest.ConnectInProcess(t, srv, mcptest.Options{Protocol: mcp.ProtocolVersion20250618, Name: name})
		var n atomic.Int32
		var last atomic.Value
		c.OnNotification(func(note mcp.JSONRPCNotification) {
			if note.Method == string(mcp.MethodNotificationMessage) {
				n.Add(1)
				last.Store(note.Params.AdditionalFields)
			}
		})
		return c, &n, &last
	}
	asker, asked, last := connect("asker")
	quiet, heard, _ := connect("quiet")
	req := mcp.SetLevelRequest{}
	req.Params.Level = mcp.LoggingLevelError
	if err := asker.SetLevel(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{quiet, asker} {
		if res, _ := mcptest.Call(t, c, "fail", map[string]any{}, nil); res.IsError {
			t.Fatal(mcptest.Text(res))
		}
	}
	for deadline := time.Now().Add(5 * time.Second); asked.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the client that asked for errors got %d messages, want the 1 error of its call", n)
	}
	if f, _ := last.Load().(map[string]any); f != nil {
		data, _ := f["data"].(map[string]any)
		g, _ := data["g"].(map[string]any)
		if data["message"] != "boom" || data["op"] != "test" || g["n"] != int64(1) || g["took"] != "1s" || f["logger"] != LoggerName {
			t.Errorf("the error's notification: %v", f)
		}
	}
	if n := heard.Load(); n != 0 {
		t.Errorf("the client that never asked got %d messages", n)
	}
	if n := written.Load(); n != 6 {
		t.Errorf("the server's own handler got %d records, want all 6", n)
	}
}

// countingHandler counts the records it is given, at every level.
type countingHandler struct{ n *atomic.Int32 }

func (countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
