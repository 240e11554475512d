package main

// These tests build the real binary and drive it over stdio, as an MCP host
// (Claude Desktop, an IDE, an agent runtime) does: with mcp-go's own stdio
// client, and by hand, byte for byte, where the client would hide a problem
// (it silently skips stdout lines that are not JSON).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/testutil"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// protocols are the MCP revisions the stdio clients speak: 2025-06-18 as
// desktop clients do today (initialize handshake), and the newest this SDK
// knows (2026-07-28: no handshake, server/discover and per-request _meta).
var protocols = []string{mcp.ProtocolVersion20250618, mcp.LATEST_PROTOCOL_VERSION}

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// serverBinary builds the real mcp-server once per test run and returns its
// path.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mcp-server-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "mcp-server")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runOptions say how runServer runs the binary.
type runOptions struct {
	env     []string      // its environment; the test process's when nil
	dir     string        // its working directory; the test's when ""
	timeout time.Duration // how long it may take; 2 minutes when 0
}

// runServer runs the built binary with args to its end, its stdin empty
// (not a terminal), and returns what it wrote on stdout and stderr and its
// exit status.
func runServer(t *testing.T, o runOptions, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBinary(t), args...)
	cmd.Env, cmd.Dir = o.env, o.dir
	cmd.Stdin = strings.NewReader("")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// newProject is a project root with the default backup root under it, and
// no database.
func newProject(t *testing.T) *pgtest.Project {
	t.Helper()
	return pgtest.NewProject(t, pgtest.ProjectOptions{})
}

// noDatabase is a DATABASE_URL for tests that never reach a database: any
// attempt fails fast with connection refused. Its password must never show
// in results or logs.
const (
	noDatabasePassword = "s3cr3t-pw-4711"
	noDatabase         = "postgres://nobody:" + noDatabasePassword + "@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
)

// serverEnv is the environment the server runs with: the test process's, with
// the server's own variables replaced (later entries win in os/exec).
func serverEnv(db, projectRoot string, extra ...string) []string {
	env := append(os.Environ(),
		"DATABASE_URL="+db,
		"VECTOR_PROJECT_ROOT="+projectRoot,
		"VECTOR_BACKUP_ROOT=",
	)
	return append(env, extra...)
}

// stdioServer is the binary running under mcp-go's stdio client.
type stdioServer struct {
	c      *client.Client
	cmd    *exec.Cmd // the server process, for signals
	init   *mcp.InitializeResult
	stderr *testutil.Buffer // everything the server wrote on stderr
}

type serverOptions struct {
	db, projectRoot string
	args            []string
	extraEnv        []string
	dir             string                // working directory; the test's when empty
	client          []client.ClientOption // more options of the client
}

// startServer runs the binary with o under a stdio client pinned to protocol,
// initializes it, and closes it when the test ends.
func startServer(t *testing.T, protocol string, o serverOptions) *stdioServer {
	t.Helper()
	bin := serverBinary(t)
	env := serverEnv(o.db, o.projectRoot, o.extraEnv...)
	var started *exec.Cmd // set by the command func, which Start calls
	tr := transport.NewStdioWithOptions(bin, nil, o.args,
		transport.WithCommandFunc(func(ctx context.Context, command string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = env
			cmd.Dir = o.dir
			started = cmd
			return cmd, nil
		}))
	s := &stdioServer{stderr: &testutil.Buffer{}}
	c, res, err := mcptest.Dial(t, tr, mcptest.Options{
		Protocol: protocol,
		Name:     "stdio-test",
		Client:   o.client,
		// Not a context with a deadline: the transport starts the process
		// with exec.CommandContext, and ending the context would kill the
		// server.
		Detached: true,
		Started: func(c *client.Client) {
			s.cmd = started
			stderrDone := make(chan struct{})
			go func() {
				defer close(stderrDone)
				io.Copy(s.stderr, tr.Stderr())
			}()
			t.Cleanup(func() {
				c.Close()
				select {
				case <-stderrDone:
				case <-time.After(5 * time.Second):
				}
				if t.Failed() {
					t.Logf("server stderr:\n%s", s.stderr.String())
				}
			})
		},
	})
	if err != nil {
		t.Fatalf("start %s and initialize (%s): %v\nstderr:\n%s", bin, protocol, err, s.stderr.String())
	}
	s.c, s.init = c, res
	return s
}

// callTool calls a tool and returns its result with the structured content
// decoded into a map.
func (s *stdioServer) callTool(ctx context.Context, t *testing.T, name string, args any, meta *mcp.Meta) (*mcp.CallToolResult, map[string]any, error) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	req.Params.Meta = meta
	res, err := s.c.CallTool(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	return res, structured(t, res), nil
}

// call is callTool that must get a result within a minute.
func (s *stdioServer) call(t *testing.T, name string, args any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, out, err := s.callTool(ctx, t, name, args, nil)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res, out
}

// restore runs a restore to completion and returns its structured result.
// The contract wants a confirm_token for restores that delete or overwrite
// rows: when the server answers CONFIRMATION_REQUIRED (having changed
// nothing), the call is repeated with the token it gave.
func (s *stdioServer) restore(t *testing.T, args map[string]any) map[string]any {
	t.Helper()
	res, out := s.call(t, "restore_vector_backup", args)
	if token := confirmToken(t, res, out); token != "" {
		res, out = s.call(t, "restore_vector_backup", withToken(args, token))
	}
	if res.IsError || out["restore_performed"] != true {
		t.Fatalf("restore %v: %s\n%v", args, text(res), out)
	}
	return out
}

// confirmToken returns the token of a CONFIRMATION_REQUIRED result, or "".
func confirmToken(t *testing.T, res *mcp.CallToolResult, out map[string]any) string {
	t.Helper()
	if !res.IsError || out["error_type"] != "CONFIRMATION_REQUIRED" {
		return ""
	}
	token, _ := out["confirm_token"].(string)
	if token == "" {
		t.Fatalf("CONFIRMATION_REQUIRED without a confirm_token: %v", out)
	}
	return token
}

func withToken(args map[string]any, token string) map[string]any {
	out := map[string]any{"confirm_token": token}
	for k, v := range args {
		out[k] = v
	}
	return out
}

// seedAndConfirm puts the seed set (a complete set in seedPath, timestamp
// seedTS) in the tables and returns args ready to run without changing
// anything first: with a confirm_token when the server requires one. Whether
// it does is found out without side effects: by a truncating restore of the
// seed over itself, which leaves the same rows whether it runs or is refused.
func (s *stdioServer) seedAndConfirm(t *testing.T, seedPath, seedTS string, args map[string]any) map[string]any {
	t.Helper()
	seed := map[string]any{"backup_path": seedPath, "timestamp": seedTS}
	s.restore(t, seed)
	seed["truncate_before_restore"] = true
	res, out := s.call(t, "restore_vector_backup", seed)
	if confirmToken(t, res, out) == "" {
		if res.IsError || out["restore_performed"] != true {
			t.Fatalf("restore of the seed over itself: %s\n%v", text(res), out)
		}
		return args // no confirmation required
	}
	res, out = s.call(t, "restore_vector_backup", args)
	token := confirmToken(t, res, out)
	if token == "" {
		t.Fatalf("the server asks confirmation for the seed but not for %v: %s", args, text(res))
	}
	return withToken(args, token)
}

func (s *stdioServer) toolNames(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

var (
	structured = mcptest.Structured
	text       = mcptest.Text
)

// sets returns "relative_path@timestamp" for every set a list result shows.
func sets(list map[string]any) []string {
	var out []string
	locs, _ := list["backup_locations"].([]any)
	for _, l := range locs {
		loc := l.(map[string]any)
		backups, _ := loc["backups"].([]any)
		for _, b := range backups {
			out = append(out, fmt.Sprintf("%s@%s", loc["relative_path"], b.(map[string]any)["timestamp"]))
		}
	}
	return out
}

// TestStdioListAndRestore drives the binary over stdio in both protocol eras:
// list the backups, restore one over older data, and compare every row.
func TestStdioListAndRestore(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 12})
			db := p.DB
			old := sample.Generate(20, []string{"sql", "ddl"}, 6, 12)
			want := sample.Generate(21, []string{"sql", "ddl", "documentation", "error_sql"}, 30, 12)
			p.Write(t, old, "vector_bak", "20250720_080000")
			p.Write(t, old, "global_vector_bak", "20250722_010318")
			p.Write(t, want, "task_20250721_213627/vector_bak", "20250721_215758")

			s := startServer(t, protocol, serverOptions{db: db, projectRoot: p.Root})

			// The negotiated version. Pinned to 2025-06-18, the client does
			// the initialize handshake. Asked for the newest, mcp-go's stdio
			// client probes with server/discover, and this server (mcp-go
			// v1.2.1's stdio server) answers it, so the connection is on the
			// stateless 2026-07-28 core, not a legacy fallback.
			if s.init.ProtocolVersion != protocol || s.c.ProtocolVersion() != protocol {
				t.Fatalf("negotiated %s (client says %s), want %s", s.init.ProtocolVersion, s.c.ProtocolVersion(), protocol)
			}
			if s.init.ServerInfo.Name != "pgvector-backup-mcp" {
				t.Errorf("server name %q", s.init.ServerInfo.Name)
			}
			if s.init.Capabilities.Tools == nil {
				t.Errorf("server declares no tools capability: %+v", s.init.Capabilities)
			}
			// Logs go to stderr.
			if s.stderr.WaitFor(0, 10*time.Second, "serving MCP on stdio") == "" {
				t.Errorf("no startup log on stderr:\n%s", s.stderr.String())
			}

			res, list := s.call(t, "list_vector_backups", map[string]any{})
			if res.IsError {
				t.Fatalf("list: %s", text(res))
			}
			wantSets := []string{ // newest first across locations
				"./data_pipeline/training_data/global_vector_bak@20250722_010318",
				"./data_pipeline/training_data/task_20250721_213627/vector_bak@20250721_215758",
				"./data_pipeline/training_data/vector_bak@20250720_080000",
			}
			if got := sets(list); !slices.Equal(got, wantSets) {
				t.Errorf("sets\n got %v\nwant %v", got, wantSets)
			}
			if !strings.Contains(text(res), "timestamp=20250721_215758") {
				t.Errorf("summary text lacks the task set:\n%s", text(res))
			}

			// Older data in the tables, then roll them to the task's set.
			s.restore(t, map[string]any{"backup_path": "./data_pipeline/training_data/global_vector_bak", "timestamp": "20250722_010318"})
			pgtest.Compare(t, db, old, sample.Default)
			out := s.restore(t, map[string]any{
				"backup_path":             "./data_pipeline/training_data/task_20250721_213627/vector_bak",
				"timestamp":               "latest",
				"truncate_before_restore": true,
			})
			pgtest.Compare(t, db, want, sample.Default)
			if out["truncate_performed"] != true {
				t.Errorf("truncate_performed %v", out["truncate_performed"])
			}
			emb := out["restore_results"].(map[string]any)["langchain_pg_embedding"].(map[string]any)
			if emb["rows_restored"] != float64(len(want.Embeddings)) {
				t.Errorf("rows_restored %v, want %d", emb["rows_restored"], len(want.Embeddings))
			}
			// The restore is logged on stderr too.
			if s.stderr.WaitFor(0, 5*time.Second, "restore committed") == "" {
				t.Errorf("no restore log on stderr:\n%s", s.stderr.String())
			}
		})
	}
}

// rawServer is the binary driven by hand over its pipes, so that every byte
// it writes on stdout can be checked.
type rawServer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testutil.Buffer
	lines  chan []byte // stdout, line by line; closed at EOF

	mu       sync.Mutex
	stdout   [][]byte                   // every stdout line, in order
	byID     map[string]json.RawMessage // responses by id (JSON text of the id)
	finished bool
}

func startRaw(t *testing.T, env []string, args ...string) *rawServer {
	t.Helper()
	cmd := exec.Command(serverBinary(t), args...)
	cmd.Env = env
	r := &rawServer{cmd: cmd, stderr: &testutil.Buffer{}, lines: make(chan []byte, 64), byID: map[string]json.RawMessage{}}
	cmd.Stderr = r.stderr
	var err error
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.lines)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				r.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if r.finished {
			return
		}
		// The test stopped early: end the server and reap it.
		r.stdin.Close()
		timeout := time.After(5 * time.Second)
		for open := true; open; {
			select {
			case _, open = <-r.lines:
			case <-timeout:
				cmd.Process.Kill()
				timeout = nil
			}
		}
		cmd.Wait()
	})
	return r
}

// send writes one message (or a raw line when v is a string) to stdin.
func (r *rawServer) send(t *testing.T, v any) {
	t.Helper()
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("write to the server's stdin: %v", err)
	}
}

// await returns the response whose id has the JSON text id (e.g. `7`, or
// `null` for errors about unparsable input), reading stdout until it comes.
func (r *rawServer) await(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		raw, ok := r.byID[id]
		r.mu.Unlock()
		if ok {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("stdout closed before the response to id %s\nstderr:\n%s", id, r.stderr.String())
			}
			r.record(line)
		case <-deadline:
			t.Fatalf("no response to id %s\nstderr:\n%s", id, r.stderr.String())
		}
	}
}

// record keeps a stdout line and indexes it by id when it is a response.
func (r *rawServer) record(line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stdout = append(r.stdout, line)
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(line, &msg) == nil && msg.Method == "" && len(msg.ID) > 0 {
		r.byID[string(msg.ID)] = json.RawMessage(bytes.Clone(line))
	}
}

// finish closes stdin, drains stdout and returns the exit code.
func (r *rawServer) finish(t *testing.T) int {
	t.Helper()
	r.stdin.Close()
	timeout := time.After(15 * time.Second)
	for drained := false; !drained; {
		select {
		case line, ok := <-r.lines:
			if !ok {
				drained = true
				break
			}
			r.record(line)
		case <-timeout:
			t.Fatalf("the server did not close stdout after stdin closed\nstderr:\n%s", r.stderr.String())
		}
	}
	err := r.cmd.Wait()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r.finished = true
	return code
}

// checkStdoutIsProtocol fails unless every stdout line is one JSON-RPC 2.0
// message: a response (id with result or error) or a notification.
func (r *rawServer) checkStdoutIsProtocol(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.stdout) == 0 {
		t.Fatal("nothing on stdout")
	}
	for i, line := range r.stdout {
		if !bytes.HasSuffix(line, []byte("\n")) {
			t.Errorf("stdout line %d is not newline-terminated: %.200q", i+1, line)
		}
		var msg map[string]json.RawMessage
		if err := json.Unmarshal(line, &msg); err != nil {
			t.Errorf("stdout line %d is not a JSON object: %v: %.200q", i+1, err, line)
			continue
		}
		if string(msg["jsonrpc"]) != `"2.0"` {
			t.Errorf("stdout line %d is not JSON-RPC 2.0: %.200s", i+1, line)
		}
		_, hasID := msg["id"]
		_, hasResult := msg["result"]
		_, hasError := msg["error"]
		_, hasMethod := msg["method"]
		if !(hasID && hasResult != hasError && !hasMethod) && !(hasMethod && !hasResult && !hasError) {
			t.Errorf("stdout line %d is neither a response nor a notification/request: %.200s", i+1, line)
		}
	}
}

func request(id any, method string, params any) map[string]any {
	m := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	return m
}

func toolCall(id any, name string, args any) map[string]any {
	return request(id, "tools/call", map[string]any{"name": name, "arguments": args})
}

// rpcError returns the JSON-RPC error code of a response, or 0.
func rpcError(m map[string]any) float64 {
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(float64)
	return code
}

// toolError returns the error object of an isError tool result, or nil.
func toolError(m map[string]any) map[string]any {
	res, _ := m["result"].(map[string]any)
	if res == nil || res["isError"] != true {
		return nil
	}
	sc, _ := res["structuredContent"].(map[string]any)
	if sc == nil {
		return map[string]any{}
	}
	return sc
}

// TestStdioStdoutCarriesOnlyProtocol runs a session by hand, with malformed
// input among good requests, and checks every stdout line is a JSON-RPC
// message, logs are on stderr, each bad input gets a proper error, and the
// server keeps serving.
func TestStdioStdoutCarriesOnlyProtocol(t *testing.T) {
	p := newProject(t)
	p.Write(t, sample.Generate(1, []string{"sql"}, 3, 4), "vector_bak", "20250720_080000")
	r := startRaw(t, serverEnv(noDatabase, p.Root), "--log-level", "debug")

	r.send(t, request(1, "initialize", map[string]any{
		"protocolVersion": mcp.ProtocolVersion20250618,
		"clientInfo":      map[string]any{"name": "raw-test", "version": "1"},
		"capabilities":    map[string]any{},
	}))
	init := r.await(t, "1")
	if res, _ := init["result"].(map[string]any); res == nil || res["protocolVersion"] != mcp.ProtocolVersion20250618 {
		t.Fatalf("initialize: %v", init)
	}
	r.send(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})

	r.send(t, request(2, "tools/list", nil))
	tools, _ := r.await(t, "2")["result"].(map[string]any)["tools"].([]any)
	if len(tools) == 0 {
		t.Fatal("no tools listed")
	}

	// Not JSON at all: a parse error (id null).
	r.send(t, "this is not JSON {")
	if code := rpcError(r.await(t, "null")); code != mcp.PARSE_ERROR {
		t.Errorf("non-JSON line: error code %v, want %d", code, mcp.PARSE_ERROR)
	}

	// A request of the wrong shape: params must be an object.
	r.send(t, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":"x"}`)
	if code := rpcError(r.await(t, "3")); code == 0 {
		t.Errorf("params \"x\": no JSON-RPC error")
	}

	// An unknown tool: a JSON-RPC error or an isError result, either is proper.
	r.send(t, toolCall(4, "drop_all_tables", map[string]any{}))
	if m := r.await(t, "4"); rpcError(m) == 0 && toolError(m) == nil {
		t.Errorf("unknown tool: neither an error nor isError: %v", m)
	}

	// A 5 MB argument: refused by validation before any file or database.
	huge := "./data_pipeline/training_data/" + strings.Repeat("a", 5<<20)
	r.send(t, toolCall(5, "restore_vector_backup", map[string]any{"backup_path": huge, "timestamp": "latest"}))
	if e := toolError(r.await(t, "5")); e == nil || e["error_type"] != "INVALID_PARAMS" {
		t.Errorf("5 MB backup_path: %v, want an INVALID_PARAMS isError result", e)
	}

	// An unknown method.
	r.send(t, request(6, "no/such/method", map[string]any{}))
	if code := rpcError(r.await(t, "6")); code != mcp.METHOD_NOT_FOUND {
		t.Errorf("unknown method: error code %v, want %d", code, mcp.METHOD_NOT_FOUND)
	}

	// A tool error, which the server logs (on stderr).
	r.send(t, toolCall(7, "list_vector_backups", map[string]any{"limit": 0}))
	if e := toolError(r.await(t, "7")); e == nil || e["error_type"] != "INVALID_PARAMS" {
		t.Errorf("limit 0: %v, want INVALID_PARAMS", e)
	}

	// Still serving: a working call and a tools/list.
	r.send(t, toolCall(8, "list_vector_backups", map[string]any{}))
	if m := r.await(t, "8"); toolError(m) != nil || rpcError(m) != 0 || !strings.Contains(fmt.Sprint(m), "20250720_080000") {
		t.Errorf("list after bad input: %v", m)
	}
	r.send(t, request(9, "tools/list", nil))
	if again, _ := r.await(t, "9")["result"].(map[string]any)["tools"].([]any); len(again) != len(tools) {
		t.Errorf("tools/list after bad input: %d tools, want %d", len(again), len(tools))
	}

	// A call that reaches the (unreachable) database: DATABASE_ERROR, and
	// the URL's password is in neither the result nor the logs.
	r.send(t, toolCall(10, "restore_vector_backup", map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "latest"}))
	if e := toolError(r.await(t, "10")); e == nil || e["error_type"] != "DATABASE_ERROR" {
		t.Errorf("unreachable database: %v, want DATABASE_ERROR", e)
	}

	if code := r.finish(t); code != 0 {
		t.Errorf("exit code %d after stdin closed, want 0\nstderr:\n%s", code, r.stderr.String())
	}
	r.checkStdoutIsProtocol(t)

	logs := r.stderr.String()
	for _, want := range []string{"serving MCP on stdio", "tool call failed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, strings.Repeat("a", 4097)) {
		t.Errorf("the 5 MB argument was echoed into the logs")
	}
	if strings.Contains(logs, noDatabasePassword) {
		t.Errorf("the database password is in the logs:\n%s", logs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, line := range r.stdout {
		if bytes.Contains(line, []byte(noDatabasePassword)) {
			t.Errorf("the database password is on stdout: %.300s", line)
		}
	}
}

// TestStdioBadRequestsKeepServing sends the same bad inputs through mcp-go's
// client in both protocol eras.
func TestStdioBadRequestsKeepServing(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			p := newProject(t)
			s := startServer(t, protocol, serverOptions{db: noDatabase, projectRoot: p.Root})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// A request whose params are a string: sent on the transport
			// directly, since the client only builds well-formed requests.
			resp, err := s.c.GetTransport().SendRequest(ctx, transport.JSONRPCRequest{
				JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId("raw-1"), Method: "tools/call", Params: "x",
			})
			if err != nil {
				t.Fatalf("params \"x\": %v", err)
			}
			if resp.Error == nil {
				t.Errorf("params \"x\": no JSON-RPC error: %s", resp.Result)
			}

			res, _, err := s.callTool(ctx, t, "drop_all_tables", map[string]any{}, nil)
			if err == nil && !res.IsError {
				t.Errorf("unknown tool ran: %s", text(res))
			}

			huge := strings.Repeat("x", 5<<20)
			res, out, err := s.callTool(ctx, t, "restore_vector_backup", map[string]any{"backup_path": huge, "timestamp": "latest"}, nil)
			if err != nil {
				t.Fatalf("5 MB backup_path: %v", err)
			}
			if !res.IsError || out["error_type"] != "INVALID_PARAMS" || !strings.Contains(fmt.Sprint(out), "backup_path") {
				t.Errorf("5 MB backup_path: %v, want INVALID_PARAMS naming backup_path", out)
			}

			res, out, err = s.callTool(ctx, t, "restore_vector_backup", map[string]any{"timestamp": "latest"}, nil)
			if err != nil || !res.IsError || out["error_type"] != "MISSING_REQUIRED_PARAMS" {
				t.Errorf("missing backup_path: %v %v", err, out)
			}

			if names := s.toolNames(t); !slices.Contains(names, "list_vector_backups") || !slices.Contains(names, "restore_vector_backup") {
				t.Errorf("tools/list after bad input: %v", names)
			}
			res, _ = s.call(t, "list_vector_backups", map[string]any{})
			if res.IsError {
				t.Errorf("list after bad input: %s", text(res))
			}
		})
	}
}

func TestStdioReadOnly(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			p := newProject(t)
			p.Write(t, sample.Generate(1, []string{"sql"}, 2, 4), "vector_bak", "20250720_080000")
			s := startServer(t, protocol, serverOptions{db: noDatabase, projectRoot: p.Root, args: []string{"--read-only"}})
			// Only read-only tools: today list_vector_backups (the contract's
			// inspect_vector_backup, once it exists, is read-only too).
			listed, err := s.c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range listed.Tools {
				names = append(names, tool.Name)
				if ro := tool.Annotations.ReadOnlyHint; ro == nil || !*ro {
					t.Errorf("--read-only serves %s, which is not read-only", tool.Name)
				}
			}
			if !slices.Contains(names, "list_vector_backups") || slices.Contains(names, "restore_vector_backup") || slices.Contains(names, "create_vector_backup") {
				t.Errorf("--read-only serves %v, want list_vector_backups and no writing tool", names)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, _, err := s.callTool(ctx, t, "restore_vector_backup", map[string]any{
				"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "latest", "truncate_before_restore": true,
			}, nil)
			if err == nil && !res.IsError {
				t.Fatalf("--read-only ran restore_vector_backup: %s", text(res))
			}
			if _, list := s.call(t, "list_vector_backups", map[string]any{}); len(sets(list)) != 1 {
				t.Errorf("list under --read-only: %v", list)
			}
			if s.stderr.WaitFor(0, 5*time.Second, "read_only=true") == "" {
				t.Errorf("startup log does not say read_only=true:\n%s", s.stderr.String())
			}
		})
	}
}

// TestStdioBackupRoot checks --backup-root absolute (outside the project root)
// and relative (taken from the project root, not the working directory), and
// that nothing outside it is reachable.
func TestStdioBackupRoot(t *testing.T) {
	p := newProject(t)
	d := sample.Generate(2, []string{"sql"}, 2, 4)
	p.Write(t, d, "vector_bak", "20250720_080000") // under the default root

	outside := filepath.Join(t.TempDir(), "elsewhere", "backups")
	p.Write(t, d, filepath.Join(outside, "global_vector_bak"), "20250801_010101")
	p.Write(t, d, filepath.Join(p.Root, "custom", "backups", "task_1", "vector_bak"), "20250802_020202")

	outsideReal, err := filepath.EvalSymlinks(outside)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantSets []string
		refused  string // a backup_path the server must refuse as FORBIDDEN
	}{
		{
			name:     "absolute",
			args:     []string{"--backup-root", outside},
			wantSets: []string{filepath.ToSlash(filepath.Join(outsideReal, "global_vector_bak")) + "@20250801_010101"},
			refused:  "./data_pipeline/training_data/vector_bak",
		},
		{
			name:     "relative",
			args:     []string{"--backup-root=custom/backups"},
			wantSets: []string{"./custom/backups/task_1/vector_bak@20250802_020202"},
			refused:  "./data_pipeline/training_data/vector_bak",
		},
		{
			name:     "relative from the environment, flag wins",
			args:     []string{"--backup-root", "custom/backups"},
			env:      []string{"VECTOR_BACKUP_ROOT=" + outside},
			wantSets: []string{"./custom/backups/task_1/vector_bak@20250802_020202"},
			refused:  outside + "/global_vector_bak",
		},
		{
			name:     "environment",
			env:      []string{"VECTOR_BACKUP_ROOT=custom/backups"},
			wantSets: []string{"./custom/backups/task_1/vector_bak@20250802_020202"},
			refused:  "./data_pipeline/training_data/vector_bak",
		},
		{
			name:     "default",
			wantSets: []string{"./data_pipeline/training_data/vector_bak@20250720_080000"},
			refused:  "./custom/backups/task_1/vector_bak",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Run from an unrelated working directory: relative roots must
			// not depend on it.
			s := startServer(t, protocols[0], serverOptions{
				db: noDatabase, projectRoot: p.Root, args: tt.args, extraEnv: tt.env, dir: t.TempDir(),
			})
			res, list := s.call(t, "list_vector_backups", map[string]any{})
			if res.IsError {
				t.Fatalf("list: %s", text(res))
			}
			if got := sets(list); !slices.Equal(got, tt.wantSets) {
				t.Errorf("sets\n got %v\nwant %v", got, tt.wantSets)
			}
			res, out := s.call(t, "restore_vector_backup", map[string]any{"backup_path": tt.refused, "timestamp": "latest"})
			if !res.IsError || out["error_type"] != "FORBIDDEN" {
				t.Errorf("restore from %s outside the backup root: %v, want FORBIDDEN", tt.refused, out)
			}
		})
	}
}

// TestStdioBackupRootRestoreAbsolute restores through an absolute backup root
// outside the project, with the absolute backup_path list gives.
func TestStdioBackupRootRestoreAbsolute(t *testing.T) {
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
	db := p.DB
	d := sample.Generate(3, []string{"sql", "ddl"}, 10, 8)
	outside := filepath.Join(t.TempDir(), "backups")
	p.Write(t, d, filepath.Join(outside, "task_9", "vector_bak"), "20250803_030303")
	s := startServer(t, protocols[1], serverOptions{db: db, projectRoot: p.Root, args: []string{"--backup-root", outside}})
	_, list := s.call(t, "list_vector_backups", map[string]any{})
	got := sets(list)
	if len(got) != 1 {
		t.Fatalf("sets %v", got)
	}
	path, _, _ := strings.Cut(got[0], "@")
	if !filepath.IsAbs(path) {
		t.Errorf("relative_path %q of a root outside the project is not absolute", path)
	}
	s.restore(t, map[string]any{"backup_path": path, "timestamp": "20250803_030303", "truncate_before_restore": true})
	pgtest.Compare(t, db, d, sample.Default)
}

// TestCommandLine checks the exits that never serve: help, bad flags, a bad
// project root. Nothing may reach stdout.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantCode   int
		wantStderr []string
	}{
		{name: "-help", args: []string{"-help"}, wantCode: 0, wantStderr: []string{"Usage:", "mcp-server", "--backup-root", "--read-only"}},
		{name: "--help", args: []string{"--help"}, wantCode: 0, wantStderr: []string{"Usage:", "mcp-server"}},
		{name: "serve --help", args: []string{"serve", "--help"}, wantCode: 0, wantStderr: []string{"mcp-server serve", "--http", "--auth-token"}},
		{name: "unknown flag", args: []string{"--frobnicate"}, wantCode: 2, wantStderr: []string{"unknown flag: --frobnicate"}},
		{name: "positional argument", args: []string{"bogus"}, wantCode: 2, wantStderr: []string{`unknown command or argument "bogus"`}},
		{
			name: "HTTP off loopback without a token", args: []string{"serve", "--http", "0.0.0.0:0"}, wantCode: 2,
			wantStderr: []string{"refusing to serve without a bearer token", "--auth-token", "MCP_AUTH_TOKEN"},
		},
		{name: "bad allow pattern", args: []string{"--allow-db-connection", "nodatabase"}, wantCode: 2, wantStderr: []string{"host[:port]/database"}},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantCode: 2, wantStderr: []string{"log-level"}},
		{
			name: "missing project root", env: []string{"VECTOR_PROJECT_ROOT=/nonexistent/project/root"},
			wantCode: 1, wantStderr: []string{"cannot use the backup root", "/nonexistent/project/root"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runServer(t, runOptions{env: serverEnv(noDatabase, t.TempDir(), tt.env...), timeout: 20 * time.Second}, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", code, tt.wantCode, stderr)
			}
			if len(stdout) != 0 {
				t.Errorf("stdout is not empty: %q", stdout)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestStdioCancelRestore cancels a large restore from the client side
// (mcp-go sends notifications/cancelled when the call's context ends) and
// checks the tables are then exactly as before, or, if the restore committed
// before the cancellation arrived, exactly the full backup: never partial.
func TestStdioCancelRestore(t *testing.T) {
	const dim = 256
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: dim})
	db := p.DB
	names := []string{"sql", "ddl", "documentation", "error_sql"}
	seed := sample.Generate(30, names, 25, dim)
	big := sample.Generate(31, names, 5000, dim) // 20000 embeddings, about 60 MB of CSV
	p.Write(t, seed, "global_vector_bak", "20250720_080000")
	p.Write(t, big, "task_20250721_213627/vector_bak", "20250721_215758")

	s := startServer(t, mcp.LATEST_PROTOCOL_VERSION, serverOptions{db: db, projectRoot: p.Root})
	args := s.seedAndConfirm(t, "./data_pipeline/training_data/global_vector_bak", "20250720_080000", map[string]any{
		"backup_path":             "./data_pipeline/training_data/task_20250721_213627/vector_bak",
		"timestamp":               "20250721_215758",
		"truncate_before_restore": true,
	})
	before := pgtest.Dump(t, db)
	pgtest.Compare(t, db, seed, sample.Default)

	var mu sync.Mutex
	var progress []float64
	s.c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationProgress) {
			if v, ok := n.Params.AdditionalFields["progress"].(float64); ok {
				mu.Lock()
				progress = append(progress, v)
				mu.Unlock()
			}
		}
	})

	logFrom := s.stderr.Len()
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	res, out, err := s.callTool(ctx, t, "restore_vector_backup", args, &mcp.Meta{ProgressToken: "cancel-1"})
	cancel()
	callReturned := time.Since(start)

	// Wait for the server to finish the call, one way or the other, before
	// looking at the tables: a restore still running could commit later.
	// Every tool call ends with exactly one of these two log lines.
	outcome := s.stderr.WaitFor(logFrom, 30*time.Second, "restore committed", "tool call failed")
	finished := time.Since(start)
	after := pgtest.Dump(t, db)
	mu.Lock()
	nProgress := len(progress)
	lastProgress := 0.0
	if nProgress > 0 {
		lastProgress = progress[nProgress-1]
	}
	mu.Unlock()

	switch {
	case outcome == "":
		t.Fatalf("the server logged no end of the cancelled restore within 30 s:\n%s", s.stderr.String()[logFrom:])
	case after == before:
		t.Logf("cancel landed: tables unchanged (call returned after %v with err=%v; server rolled back after %v; %d progress reports, last at byte %.0f)",
			callReturned.Round(time.Millisecond), err, finished.Round(time.Millisecond), nProgress, lastProgress)
		if outcome != "tool call failed" {
			t.Errorf("the tables are unchanged but the server logged %q", outcome)
		}
		logs := s.stderr.String()[logFrom:]
		if !strings.Contains(logs, "error_type=CANCELLED") {
			t.Errorf("a cancelled restore should end with error_type CANCELLED:\n%s", logs)
		}
		if err == nil {
			t.Errorf("the call returned a result although the tables are unchanged: %s %v", text(res), out)
		}
		// Promptly: the server must not go on reading 60 MB after the cancel.
		if finished > 10*time.Second {
			t.Errorf("the server took %v to stop after the cancel", finished)
		}
	default:
		t.Logf("restore finished before the cancel landed (call returned after %v, err=%v): checking it is complete", callReturned, err)
		if outcome != "restore committed" {
			t.Errorf("the tables changed but the server logged %q:\n%s", outcome, s.stderr.String()[logFrom:])
		}
		pgtest.Compare(t, db, big, sample.Default)
	}

	// The server keeps serving after a cancelled call.
	if names := s.toolNames(t); !slices.Contains(names, "restore_vector_backup") {
		t.Errorf("tools/list after the cancel: %v", names)
	}
}

// TestStdioSignalMidRestore stops the server process in the middle of a large
// restore, with SIGTERM (graceful: the call is cancelled and rolled back) and
// SIGKILL (PostgreSQL aborts the transaction when the connection drops), and
// checks the tables are exactly as before, or exactly the full backup if the
// restore committed first: never partial.
func TestStdioSignalMidRestore(t *testing.T) {
	pgtest.URL(t) // skip before writing 60 MB when there is no database
	const dim = 256
	p := newProject(t)
	names := []string{"sql", "ddl", "documentation", "error_sql"}
	seed := sample.Generate(40, names, 25, dim)
	big := sample.Generate(41, names, 5000, dim)
	p.Write(t, seed, "global_vector_bak", "20250720_080000")
	p.Write(t, big, "task_20250721_213627/vector_bak", "20250721_215758")

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			db := pgtest.NewDatabase(t)
			pgtest.Exec(t, db, sample.Default.DDL(dim))
			s := startServer(t, protocols[0], serverOptions{db: db, projectRoot: p.Root})
			args := s.seedAndConfirm(t, "./data_pipeline/training_data/global_vector_bak", "20250720_080000", map[string]any{
				"backup_path":             "./data_pipeline/training_data/task_20250721_213627/vector_bak",
				"timestamp":               "20250721_215758",
				"truncate_before_restore": true,
			})
			before := pgtest.Dump(t, db)
			logFrom := s.stderr.Len()
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				_, _, err := s.callTool(ctx, t, "restore_vector_backup", args, nil)
				done <- err
			}()
			time.Sleep(300 * time.Millisecond) // a full restore takes about a second
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the call did not end after the server was signalled")
			}
			outcome := ""
			if sig == syscall.SIGTERM {
				// Graceful: the server cancels the call, rolls back, logs it.
				outcome = s.stderr.WaitFor(logFrom, 10*time.Second, "restore committed", "tool call failed")
				if outcome == "" {
					t.Errorf("no end of the restore logged after SIGTERM:\n%s", s.stderr.String()[logFrom:])
				}
			}
			waitIdle(t, db)

			if after := pgtest.Dump(t, db); after == before {
				t.Logf("%v: tables unchanged", sig)
				if sig == syscall.SIGTERM && (outcome != "tool call failed" || !strings.Contains(s.stderr.String()[logFrom:], "error_type=CANCELLED")) {
					t.Errorf("after SIGTERM the restore should end as CANCELLED:\n%s", s.stderr.String()[logFrom:])
				}
			} else {
				t.Logf("%v: restore committed before the signal; checking it is complete", sig)
				pgtest.Compare(t, db, big, sample.Default)
			}
		})
	}
}

// waitIdle waits until no other session on the database at dbURL is inside a
// transaction, so that a dying server's restore has been committed or
// aborted. (The test's own idle connections stay open until it ends.)
func waitIdle(t *testing.T, dbURL string) {
	t.Helper()
	conn := pgtest.Connect(t, dbURL)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still in a transaction 15 s after the server was stopped", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
