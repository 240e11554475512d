// Package mcptest connects mcp-go clients to the MCP servers under test (in
// process, over stdio, over streamable HTTP) and reads their answers, the
// same way for every package's tests.
package mcptest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Options configure a connection.
type Options struct {
	// Protocol is the MCP revision the client is pinned to and asks for in
	// its initialize; the server must agree to exactly it.
	Protocol string
	// Name is the client's name in clientInfo ("mcptest" when "").
	Name string
	// Client are more options of the client: handlers, capabilities.
	Client []client.ClientOption
	// Timeout bounds starting and initializing (20 s when 0).
	Timeout time.Duration
	// Detached starts the transport with a context that never ends: the
	// stdio transport kills the server process when Start's context ends.
	// Otherwise Start gets the timeout's context.
	Detached bool
	// Started, when set, runs once the transport has started, before the
	// initialize (to read a server's stderr, say). Cleanups it registers run
	// before the client's Close, so they may close the client themselves.
	Started func(*client.Client)
}

// Connect makes a client over tr, starts it, initializes it with
// o.Protocol, and closes it when the test ends. A failure fails the test.
func Connect(t testing.TB, tr transport.Interface, o Options) *client.Client {
	t.Helper()
	c, _, err := Dial(t, tr, o)
	if err != nil {
		t.Fatalf("connect (%s): %v", o.Protocol, err)
	}
	return c
}

// ConnectInProcess is Connect to srv in this process, with the client's
// handlers (o.Client: sampling, elicitation, roots) wired to the server.
func ConnectInProcess(t testing.TB, srv *server.MCPServer, o Options) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClientWithOptions(srv, clientOptions(o)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start(t, c, o); err != nil {
		t.Fatalf("connect (%s): %v", o.Protocol, err)
	}
	return c
}

// Dial is Connect for connections that may be refused: an error starting
// or initializing is returned, not fatal. The initialize's result is
// returned too. A server that agrees to another revision than o.Protocol
// still fails the test.
func Dial(t testing.TB, tr transport.Interface, o Options) (*client.Client, *mcp.InitializeResult, error) {
	t.Helper()
	c := client.NewClient(tr, clientOptions(o)...)
	res, err := start(t, c, o)
	if err != nil {
		return nil, nil, err
	}
	return c, res, nil
}

func clientOptions(o Options) []client.ClientOption {
	return append([]client.ClientOption{client.WithProtocolVersion(o.Protocol)}, o.Client...)
}

// start starts and initializes c; once it has started, it is closed when
// the test ends.
func start(t testing.TB, c *client.Client, o Options) (*mcp.InitializeResult, error) {
	t.Helper()
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	startCtx := ctx
	if o.Detached {
		startCtx = context.Background()
	}
	if err := c.Start(startCtx); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	if o.Started != nil {
		o.Started(c)
	}
	name := o.Name
	if name == "" {
		name = "mcptest"
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = o.Protocol
	init.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		return nil, err
	}
	if o.Protocol != "" && res.ProtocolVersion != o.Protocol {
		t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, o.Protocol)
	}
	return res, nil
}

// Call calls the tool name with args (and meta, when not nil), which must
// answer within a minute, and returns its result with the structured
// content decoded (Structured).
func Call(t testing.TB, c *client.Client, name string, args any, meta *mcp.Meta) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	req.Params.Meta = meta
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res, Structured(t, res)
}

// Structured decodes a result's structured content into a map (nil when
// there is none); content that is not a JSON object fails the test.
func Structured(t testing.TB, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("structured content is not an object: %s", b)
	}
	return m
}

// Text is the first text content of res ("" when it has none, or res is
// nil).
func Text(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}
