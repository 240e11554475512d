package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rpcAnswer is an answer from /mcp, sent as JSON or as an event stream.
type rpcAnswer struct {
	status  int
	header  http.Header
	raw     string
	id      json.RawMessage
	code    int // the JSON-RPC error's, 0 for a result
	message string
	result  map[string]any
}

// mcpRequest sends method to /mcp with headers ("Name: value") and decodes
// the JSON-RPC answer, if any.
func (r *rig) mcpRequest(t *testing.T, method, body string, headers ...string) rpcAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, r.url+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s /mcp: %v", method, err)
	}
	defer res.Body.Close()
	a := rpcAnswer{status: res.StatusCode, header: res.Header}
	switch {
	case method == http.MethodGet && res.StatusCode == http.StatusOK:
		// A session's event stream stays open: its status is the answer.
	case strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream"):
		// The answer is the stream's first event.
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				a.raw = data
				break
			}
		}
	default:
		b, _ := io.ReadAll(res.Body)
		a.raw = string(b)
	}
	var msg struct {
		ID    json.RawMessage `json:"id"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Result map[string]any `json:"result"`
	}
	if json.Unmarshal([]byte(a.raw), &msg) == nil {
		a.id, a.result = msg.ID, msg.Result
		if msg.Error != nil {
			a.code, a.message = msg.Error.Code, msg.Error.Message
		}
	}
	return a
}

// refused checks an answer is a JSON-RPC error with these statuses and id,
// whose message contains each of subs.
func (a rpcAnswer) refused(t *testing.T, status, code int, id string, subs ...string) {
	t.Helper()
	if a.status != status || a.code != code || string(a.id) != id {
		t.Errorf("got %d, code %d, id %s; want %d, %d, %s\n%s", a.status, a.code, a.id, status, code, id, a.raw)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, sub := range subs {
		if !strings.Contains(a.message, sub) {
			t.Errorf("the message lacks %q: %s", sub, a.message)
		}
	}
}

func (a rpcAnswer) answered(t *testing.T, id string) {
	t.Helper()
	if a.status != http.StatusOK || a.code != 0 || a.result == nil || string(a.id) != id {
		t.Errorf("got %d, code %d, id %s; want 200 with a result for id %s\n%s", a.status, a.code, a.id, id, a.raw)
	}
}

// The sessionless protocol (2026-07-28): every request carries its version
// and capabilities, in _meta and in headers.
const modern = "2026-07-28"

func modernRequest(id, method, extraMeta string) string {
	meta := `"io.modelcontextprotocol/protocolVersion":"` + modern + `","io.modelcontextprotocol/clientCapabilities":{}`
	if extraMeta != "" {
		meta += "," + extraMeta
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":{"_meta":{%s}}}`, id, method, meta)
}

func modernHeaders(method string) []string {
	return []string{"Mcp-Protocol-Version: " + modern, "Mcp-Method: " + method}
}

// The session protocol (2025-06-18): initialize, then the session's id on
// every request.
const legacy = "2025-06-18"

func (r *rig) initialize(t *testing.T) string {
	t.Helper()
	a := r.mcpRequest(t, "POST", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+legacy+`","capabilities":{},"clientInfo":{"name":"hostile","version":"1"}}}`)
	a.answered(t, "1")
	session := a.header.Get("Mcp-Session-Id")
	if session == "" {
		t.Fatalf("initialize gave no session id: %v", a.header)
	}
	if a := r.mcpRequest(t, "POST", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, legacyHeaders(session)...); a.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %d %s", a.status, a.raw)
	}
	return session
}

func legacyHeaders(session string) []string {
	h := []string{"Mcp-Protocol-Version: " + legacy}
	if session != "" {
		h = append(h, "Mcp-Session-Id: "+session)
	}
	return h
}

// TestMCPBatch sends JSON-RPC batches, which MCP dropped in 2025-06-18: the
// answer says so, as a JSON-RPC Invalid Request with HTTP 400, rather than
// calling the body invalid JSON.
func TestMCPBatch(t *testing.T) {
	r := newRig(t, rigOptions{})
	session := r.initialize(t)
	for _, body := range []string{
		`[{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`,
		" \r\n\t[" + modernRequest("2", "tools/list", "") + "," + modernRequest("3", "tools/list", "") + "]",
		`[]`,
	} {
		r.mcpRequest(t, "POST", body, legacyHeaders(session)...).refused(t, 400, -32600, "null", "batches", "2025-06-18", "one request per POST")
		r.mcpRequest(t, "POST", body, modernHeaders("tools/list")...).refused(t, 400, -32600, "null", "batches")
	}
}

// TestMCPNumberIDs sends ids and progress tokens beyond 2^53, which mcp-go
// would answer rounded (9007199254740993 as 9007199254740992): they are
// refused, naming the limit and echoing the id exactly; ids up to the limit
// are answered exactly, in both protocol eras.
func TestMCPNumberIDs(t *testing.T) {
	r := newRig(t, rigOptions{})
	session := r.initialize(t)
	eras := []struct {
		name    string
		request func(id, extraMeta string) string
		headers []string
	}{
		{modern, func(id, extra string) string { return modernRequest(id, "tools/list", extra) }, modernHeaders("tools/list")},
		{legacy, func(id, extra string) string {
			return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/list","params":{"_meta":{%s}}}`, id, extra)
		}, legacyHeaders(session)},
	}
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			for _, id := range []string{"9007199254740993", "-9007199254740993", "18446744073709551617", "1.5", "1e3"} {
				r.mcpRequest(t, "POST", era.request(id, ""), era.headers...).refused(t, 400, -32600, id, "9007199254740991", "string id")
			}
			for _, id := range []string{"9007199254740991", "-9007199254740991", "0", `"9007199254740993"`} {
				r.mcpRequest(t, "POST", era.request(id, ""), era.headers...).answered(t, id)
			}
			r.mcpRequest(t, "POST", era.request("7", `"progressToken":9007199254740993`), era.headers...).refused(t, 400, -32602, "7", "progress token", "9007199254740991")
			r.mcpRequest(t, "POST", era.request("8", `"progressToken":9007199254740991`), era.headers...).answered(t, "8")
		})
	}
}

// TestMCPSessions checks sessions as the spec asks of a server that hands
// them out: in the session era (2025-06-18) a request without a session id
// is 400, one with an id the server does not know (never handed out, or
// ended) is 404, which tells the client to initialize again; in the
// sessionless era (2026-07-28) the header is ignored.
func TestMCPSessions(t *testing.T) {
	r := newRig(t, rigOptions{})
	session := r.initialize(t)
	toolsList := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`

	r.mcpRequest(t, "POST", toolsList, legacyHeaders(session)...).answered(t, "2")
	r.mcpRequest(t, "POST", toolsList, legacyHeaders("")...).refused(t, 400, -32600, "2", "Mcp-Session-Id", "initialize")
	for _, unknown := range []string{"mcp-session-0f8c7e4e-3b2a-4f7d-9a59-2f1f6a1e6b1c", "mcp-session-" + strings.Repeat("A", 26), "nonsense"} {
		r.mcpRequest(t, "POST", toolsList, legacyHeaders(unknown)...).refused(t, 404, -32600, "2", "initialize")
		r.mcpRequest(t, "GET", "", legacyHeaders(unknown)...).refused(t, 404, -32600, "null", "initialize")
		r.mcpRequest(t, "DELETE", "", legacyHeaders(unknown)...).refused(t, 404, -32600, "null", "initialize")
	}
	r.mcpRequest(t, "GET", "", legacyHeaders("")...).refused(t, 400, -32600, "null", "Mcp-Session-Id")
	r.mcpRequest(t, "DELETE", "", legacyHeaders("")...).refused(t, 400, -32600, "null", "Mcp-Session-Id")
	// A client's answer to a server's request needs its session too.
	r.mcpRequest(t, "POST", `{"jsonrpc":"2.0","id":5,"result":{}}`, legacyHeaders("")...).refused(t, 400, -32600, "5")

	// The session's own event stream opens.
	if a := r.mcpRequest(t, "GET", "", append(legacyHeaders(session), "Accept: text/event-stream")...); a.status != http.StatusOK {
		t.Errorf("GET with the session: %d %s", a.status, a.raw)
	}
	// An ended session is unknown.
	if a := r.mcpRequest(t, "DELETE", "", legacyHeaders(session)...); a.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", a.status, a.raw)
	}
	r.mcpRequest(t, "POST", toolsList, legacyHeaders(session)...).refused(t, 404, -32600, "2", "initialize")
	// A new one works.
	r.mcpRequest(t, "POST", toolsList, legacyHeaders(r.initialize(t))...).answered(t, "2")

	// Sessionless: no id needed, and any is ignored.
	for _, header := range [][]string{nil, {"Mcp-Session-Id: mcp-session-0f8c7e4e-3b2a-4f7d-9a59-2f1f6a1e6b1c"}, {"Mcp-Session-Id: " + session}} {
		r.mcpRequest(t, "POST", modernRequest("3", "tools/list", ""), append(modernHeaders("tools/list"), header...)...).answered(t, "3")
	}
}

// TestMCPBodyLimit sends /mcp a body over the limit without declaring its
// length (chunked): 413, as on every route, not a parse error.
func TestMCPBodyLimit(t *testing.T) {
	r := newRig(t, rigOptions{})
	body := modernRequest("1", "tools/list", `"padding":"`+strings.Repeat("x", 2<<20)+`"`)
	r.chunked(t, "/mcp", body).refused(t, 413, "请求体过大", "INVALID_PARAMS")
	// At the limit exactly, the body is read and answered.
	pad := 1<<20 - len(modernRequest("1", "tools/list", `"padding":""`))
	body = modernRequest("1", "tools/list", `"padding":"`+strings.Repeat("x", pad)+`"`)
	if len(body) != 1<<20 {
		t.Fatalf("body of %d bytes", len(body))
	}
	r.mcpRequest(t, "POST", body, modernHeaders("tools/list")...).answered(t, "1")
}
