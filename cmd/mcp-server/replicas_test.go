//go:build linux

package main

// Two replicas of the built binary serving HTTP on loopback, sharing one
// database, one bucket backup root and one MCP_CONFIRM_KEY, behave as one
// server: a confirmation token minted by one runs on the other, exactly
// once, also when both get it at the same moment; a token of a replica with
// another key is refused saying the keys differ; a 2026-07-28 client whose
// requests alternate between the replicas (a round-robin proxy) lists,
// inspects and restores, the person asked in between; a session-era client
// through the same proxy is told plainly that its session is unknown there.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// confirmKey is a fresh MCP_CONFIRM_KEY.
func confirmKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// replicaSet is replicas of one server over a bucket project.
type replicaSet struct {
	*bucketProject
	key string
}

func newReplicaSet(t *testing.T) *replicaSet {
	t.Helper()
	return &replicaSet{bucketProject: newBucketProject(t), key: confirmKey(t)}
}

// start starts a replica; key is its MCP_CONFIRM_KEY (the set's when "").
func (r *replicaSet) start(t *testing.T, key string) *httpServer {
	t.Helper()
	if key == "" {
		key = r.key
	}
	return startHTTP(t, serverEnv(r.p.DB, r.p.Root, "MCP_CONFIRM_KEY="+key), "--backup-root", r.url, "--confirm", "token")
}

// mcpURL is a replica's /mcp on 127.0.0.1.
func mcpURL(s *httpServer) string {
	return strings.Replace(s.base, "localhost", "127.0.0.1", 1) + "/mcp"
}

// dialHTTP is an MCP client of the endpoint u speaking protocol.
func dialHTTP(t *testing.T, u, protocol string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(u)
	if err != nil {
		t.Fatal(err)
	}
	return mcptest.Connect(t, tr, mcptest.Options{Protocol: protocol, Name: "replicas-test", Client: opts})
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	return mcptest.Call(t, c, name, args, nil)
}

// wantRefused checks a refusal of a token: INVALID_PARAMS naming
// confirm_token with reason.
func wantRefused(t *testing.T, what string, res *mcp.CallToolResult, out map[string]any, reason string) {
	t.Helper()
	if !res.IsError || out["error_type"] != "INVALID_PARAMS" || out["param"] != "confirm_token" || out["reason"] != reason {
		t.Errorf("%s: %v, want INVALID_PARAMS for confirm_token, reason %s: %s", what, out, reason, text(res))
	}
}

// TestReplicasShareTokens: a token minted by replica A runs on B, then is
// refused on A as used; sent to both at the same moment, it runs exactly
// once (rounds of it); a token of a replica with another key is refused on
// B, saying the keys differ, and changes nothing.
func TestReplicasShareTokens(t *testing.T) {
	t.Parallel()
	r := newReplicaSet(t)
	a, b := r.start(t, ""), r.start(t, "")
	protocol := mcp.LATEST_PROTOCOL_VERSION
	ca, cb := dialHTTP(t, mcpURL(a), protocol), dialHTTP(t, mcpURL(b), protocol)

	// The task's set into the empty tables (nothing to approve). A
	// truncating restore of the same set then replaces its rows by the same
	// rows: the world its token is bound to stays the same, so only the
	// record of spent tokens can refuse a token's second use.
	seed := map[string]any{"backup_path": bucketTaskPath, "timestamp": bucketTaskTS}
	if res, out := callTool(t, ca, "restore_vector_backup", seed); res.IsError {
		t.Fatalf("seed: %v", out)
	}
	args := map[string]any{"backup_path": bucketTaskPath, "timestamp": bucketTaskTS, "truncate_before_restore": true}
	mint := func(c *client.Client) string {
		t.Helper()
		res, out := callTool(t, c, "restore_vector_backup", args)
		token := confirmToken(t, res, out)
		if token == "" {
			t.Fatalf("a truncating restore over rows ran without approval: %v", out)
		}
		return token
	}

	token := mint(ca)
	if res, out := callTool(t, cb, "restore_vector_backup", withToken(args, token)); res.IsError || out["restore_performed"] != true {
		t.Fatalf("A's token on B: %s", text(res))
	}
	res, out := callTool(t, ca, "restore_vector_backup", withToken(args, token))
	wantRefused(t, "B's spent token replayed on A", res, out, "used")
	res, out = callTool(t, cb, "restore_vector_backup", withToken(args, token))
	wantRefused(t, "the spent token replayed on B", res, out, "used")

	// At the same moment, on both: exactly one runs.
	for round := range 4 {
		token := mint([]*client.Client{ca, cb}[round%2])
		type answer struct {
			res *mcp.CallToolResult
			out map[string]any
		}
		answers := make([]answer, 2)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i, c := range []*client.Client{ca, cb} {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				req := mcp.CallToolRequest{}
				req.Params.Name = "restore_vector_backup"
				req.Params.Arguments = withToken(args, token)
				ready.Done()
				<-start
				res, err := c.CallTool(ctx, req)
				if err != nil {
					t.Errorf("round %d, replica %d: %v", round, i, err)
					return
				}
				answers[i] = answer{res, structured(t, res)}
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		ran := 0
		for i, ans := range answers {
			switch {
			case ans.res == nil:
			case !ans.res.IsError && ans.out["restore_performed"] == true:
				ran++
			default:
				wantRefused(t, fmt.Sprintf("round %d, replica %c", round, 'A'+i), ans.res, ans.out, "used")
			}
		}
		if ran != 1 {
			t.Errorf("round %d: the token sent to both replicas at once ran %d times, want exactly once", round, ran)
		}
	}
	pgtest.Compare(t, r.p.DB, r.task, sample.Default)

	// A replica with another key: its token is refused on B, saying why.
	other := r.start(t, confirmKey(t))
	co := dialHTTP(t, mcpURL(other), protocol)
	foreign := mint(co)
	before := pgtest.Dump(t, r.p.DB)
	res, out = callTool(t, cb, "restore_vector_backup", withToken(args, foreign))
	wantRefused(t, "a token of a replica with another key", res, out, "invalid")
	if out["key_mismatch"] != true || !strings.Contains(text(res), "every replica must have the same MCP_CONFIRM_KEY") {
		t.Errorf("the refusal does not say the replicas' keys differ: %v: %s", out, text(res))
	}
	if pgtest.Dump(t, r.p.DB) != before {
		t.Error("a refused token changed the tables")
	}
}

// roundRobin is a load balancer without session affinity: each request
// goes to the next replica. It records which replica served each POST, by
// the JSON-RPC method it carried.
type roundRobin struct {
	proxies []*httputil.ReverseProxy
	mu      sync.Mutex
	next    int
	served  []string // "method@replica", in order
}

func newRoundRobin(t *testing.T, replicas ...*httpServer) *httptest.Server {
	t.Helper()
	rr := &roundRobin{}
	for _, s := range replicas {
		target, err := url.Parse(strings.Replace(s.base, "localhost", "127.0.0.1", 1))
		if err != nil {
			t.Fatal(err)
		}
		rr.proxies = append(rr.proxies, &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }})
	}
	srv := httptest.NewServer(rr)
	t.Cleanup(srv.Close)
	return srv
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Method string `json:"method"`
	}
	if r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		json.Unmarshal(body, &msg)
	}
	rr.mu.Lock()
	i := rr.next
	rr.next = (rr.next + 1) % len(rr.proxies)
	rr.served = append(rr.served, fmt.Sprintf("%s@%c", msg.Method, 'A'+i))
	rr.mu.Unlock()
	rr.proxies[i].ServeHTTP(w, r)
}

// TestReplicasWithoutAffinity: through a round-robin proxy, a 2026-07-28
// client lists, inspects and restores, its calls served by both replicas:
// the token route (minted on one, spent on the other) and the person asked
// (the input_required round trip, its second round on the other replica).
// A session-era client through the same proxy gets 404 "unknown session"
// from the replica that did not start its session: the answer that tells it
// to initialize again, never another session's or an empty one's.
func TestReplicasWithoutAffinity(t *testing.T) {
	t.Parallel()
	r := newReplicaSet(t)
	a, b := r.start(t, ""), r.start(t, "")
	lb := newRoundRobin(t, a, b)
	rr := lb.Config.Handler.(*roundRobin)
	protocol := mcp.LATEST_PROTOCOL_VERSION
	c := dialHTTP(t, lb.URL+"/mcp", protocol)
	// Log messages come on each call's own stream, from whichever replica
	// serves it: the level travels with every request.
	var logged sync.Map
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if data, ok := n.Params.AdditionalFields["data"].(map[string]any); ok && n.Method == string(mcp.MethodNotificationMessage) {
			logged.Store(data["message"], true)
		}
	})
	level := mcp.SetLevelRequest{}
	level.Params.Level = mcp.LoggingLevelInfo
	if err := c.SetLevel(context.Background(), level); err != nil {
		t.Fatal(err)
	}

	res, list := callTool(t, c, "list_vector_backups", map[string]any{})
	if res.IsError || len(sets(list)) != 3 {
		t.Fatalf("list through the proxy: %s", text(res))
	}
	res, ins := callTool(t, c, "inspect_vector_backup", map[string]any{"backup_path": bucketOldPath, "timestamp": bucketOldTS})
	if res.IsError || ins["restorable"] != true {
		t.Fatalf("inspect through the proxy: %s", text(res))
	}
	if res, out := callTool(t, c, "restore_vector_backup", map[string]any{"backup_path": bucketTaskPath, "timestamp": bucketTaskTS}); res.IsError {
		t.Fatalf("seed through the proxy: %v", out)
	}
	args := map[string]any{"backup_path": bucketOldPath, "timestamp": bucketOldTS, "truncate_before_restore": true}
	rr.mu.Lock()
	first := len(rr.served)
	rr.mu.Unlock()
	res, out := callTool(t, c, "restore_vector_backup", args)
	token := confirmToken(t, res, out)
	if token == "" {
		t.Fatalf("a truncating restore ran without approval: %v", out)
	}
	if res, out := callTool(t, c, "restore_vector_backup", withToken(args, token)); res.IsError || out["restore_performed"] != true {
		t.Fatalf("the token through the proxy: %v", out)
	}
	pgtest.Compare(t, r.p.DB, r.old, sample.Default)
	for _, msg := range []string{"restore starting", "restore committed", "snapshot saved"} {
		deadline := time.Now().Add(10 * time.Second)
		for _, ok := logged.Load(msg); !ok && time.Now().Before(deadline); _, ok = logged.Load(msg) {
			time.Sleep(20 * time.Millisecond)
		}
		if _, ok := logged.Load(msg); !ok {
			t.Errorf("no log message %q came with the restore", msg)
		}
	}
	rr.mu.Lock()
	calls := rr.served[first:]
	rr.mu.Unlock()
	if len(calls) != 2 || calls[0][len(calls[0])-1] == calls[1][len(calls[1])-1] {
		t.Errorf("the token was minted and spent on the same replica (served %q): the test shows nothing", calls)
	}

	// The person asked: the question on one replica, the answer (the
	// sealed token as request state) on the other.
	who := &person{approve: true}
	asking := dialHTTP(t, lb.URL+"/mcp", protocol, client.WithElicitationHandler(who))
	args["timestamp"] = bucketTaskTS
	args["backup_path"] = bucketTaskPath
	rr.mu.Lock()
	first = len(rr.served)
	rr.mu.Unlock()
	if res, out := callTool(t, asking, "restore_vector_backup", args); res.IsError || out["restore_performed"] != true || who.asked.Load() != 1 {
		t.Fatalf("approved through the proxy: asked %d times, %v", who.asked.Load(), out)
	}
	pgtest.Compare(t, r.p.DB, r.task, sample.Default)
	rr.mu.Lock()
	calls = rr.served[first:]
	rr.mu.Unlock()
	if len(calls) != 2 || calls[0][len(calls[0])-1] == calls[1][len(calls[1])-1] {
		t.Errorf("the question and its answer went to the same replica (served %q): the test shows nothing", calls)
	}

	// A session-era client: its session lives on the replica it
	// initialized with; the other answers 404, saying to initialize again.
	post := func(body string, session string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest("POST", lb.URL+"/mcp", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set(mcp.HeaderSessionID, session)
			req.Header.Set(mcp.HeaderProtocolVersion, mcp.ProtocolVersion20250618)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got), resp.Header
	}
	status, body, header := post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`, "")
	session := header.Get(mcp.HeaderSessionID)
	if status != 200 || session == "" {
		t.Fatalf("initialize through the proxy: %d %s", status, body)
	}
	answers := map[int]int{}
	for i := range 4 {
		status, body, _ := post(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, session)
		answers[status]++
		switch status {
		case 200:
			if !strings.Contains(body, "restore_vector_backup") {
				t.Errorf("request %d, on the session's replica: %s", i, body)
			}
		case 404:
			if !strings.Contains(body, "unknown") || !strings.Contains(body, "send initialize") {
				t.Errorf("request %d, on the other replica: 404 without saying what to do: %s", i, body)
			}
		default:
			t.Errorf("request %d: %d %s, want 200 on the session's replica or 404 unknown session on the other", i, status, body)
		}
	}
	if answers[200] != 2 || answers[404] != 2 {
		t.Errorf("a session-era client through round robin: answers %v, want two 200 and two 404", answers)
	}
}
