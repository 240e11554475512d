package main

// These tests drive the built binary over stdio with what a hostile or
// broken client writes: lines far over the message bound, ids mcp-go would
// round, batches, and many requests at once. None needs a database.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/jsonrpc"
)

// stdioAnswer is one line the server wrote on stdout, decoded.
type stdioAnswer struct {
	raw     string
	id      json.RawMessage
	code    int // the JSON-RPC error's, 0 for a result
	message string
	result  map[string]any
}

// nextAnswer reads stdout up to the next response, skipping the server's
// own notifications and requests.
func nextAnswer(t *testing.T, r *rawServer, timeout time.Duration) stdioAnswer {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("stdout closed before an answer\nstderr:\n%s", r.stderr.String())
			}
			r.record(line)
			var msg struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
				Error  *struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
				Result map[string]any `json:"result"`
			}
			if err := json.Unmarshal(line, &msg); err != nil {
				t.Fatalf("stdout line is not JSON: %v: %.300q", err, line)
			}
			if msg.Method != "" {
				continue
			}
			a := stdioAnswer{raw: string(line), id: msg.ID, result: msg.Result}
			if msg.Error != nil {
				a.code, a.message = msg.Error.Code, msg.Error.Message
			}
			return a
		case <-deadline:
			t.Fatalf("no answer within %v\nstderr:\n%s", timeout, r.stderr.String())
		}
	}
}

// refused checks an answer is a JSON-RPC error with this code and id text,
// whose message contains each of subs.
func (a stdioAnswer) refused(t *testing.T, code int, id string, subs ...string) {
	t.Helper()
	if a.code != code || string(a.id) != id {
		t.Errorf("got code %d, id %s; want %d, %s\n%.300s", a.code, a.id, code, id, a.raw)
	}
	for _, sub := range subs {
		if !strings.Contains(a.message, sub) {
			t.Errorf("the message lacks %q: %s", sub, a.message)
		}
	}
}

func (a stdioAnswer) answered(t *testing.T, id string) {
	t.Helper()
	if a.code != 0 || a.result == nil || string(a.id) != id {
		t.Errorf("got code %d, id %s; want a result for id %s\n%.300s", a.code, a.id, id, a.raw)
	}
}

// startInitialized starts the binary by hand and runs the 2025-06-18
// handshake.
func startInitialized(t *testing.T) *rawServer {
	t.Helper()
	r := startRaw(t, serverEnv(noDatabase, newProject(t).Root))
	r.send(t, request("init", "initialize", map[string]any{
		"protocolVersion": mcp.ProtocolVersion20250618,
		"clientInfo":      map[string]any{"name": "framing-test", "version": "1"},
		"capabilities":    map[string]any{},
	}))
	nextAnswer(t, r, 20*time.Second).answered(t, `"init"`)
	r.send(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	return r
}

// paddedToolsList is a tools/list request of exactly size bytes (without
// its newline): a params.pad string of x's makes up the length.
type paddedToolsList struct {
	prefix, suffix string
	pad            int
}

func newPaddedToolsList(id string, size int) paddedToolsList {
	p := paddedToolsList{prefix: `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/list","params":{"pad":"`, suffix: `"}}`}
	p.pad = size - len(p.prefix) - len(p.suffix)
	return p
}

// writeTo streams the request and its newline to w from one reused buffer,
// so the test never holds the line whole.
func (p paddedToolsList) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(p.prefix)
	pad := []byte(strings.Repeat("x", 64<<10))
	for left := p.pad; left > 0; left -= len(pad) {
		bw.Write(pad[:min(left, len(pad))])
	}
	bw.WriteString(p.suffix + "\n")
	return bw.Flush()
}

// TestFramingOversizeLine streams single lines of 50 and 100 MB: each is
// answered with an Invalid Request naming the bound as soon as the bound is
// passed, skipped without being held (the server's peak memory stays far
// below the line), and the next request is served.
func TestFramingOversizeLine(t *testing.T) {
	for _, size := range []int{100_000_000, 50_000_000} {
		t.Run(strconv.Itoa(size/1_000_000)+"MB", func(t *testing.T) {
			r := startInitialized(t)
			start := time.Now()
			written := make(chan error, 1)
			go func() {
				err := newPaddedToolsList(`"big"`, size).writeTo(r.stdin)
				if err == nil {
					_, err = io.WriteString(r.stdin, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`+"\n")
				}
				written <- err
			}()
			nextAnswer(t, r, 10*time.Second).refused(t, mcp.INVALID_REQUEST, "null",
				strconv.Itoa(maxStdioMessage), "8 MiB", "stdio", "skipped")
			refusedAfter := time.Since(start)
			if err := <-written; err != nil {
				t.Fatalf("write the line: %v", err)
			}
			nextAnswer(t, r, 10*time.Second).answered(t, "2")
			servedAfter := time.Since(start)
			peak := peakRSS(t, r.cmd.Process.Pid)
			t.Logf("%d-byte line: refused after %v, next request served after %v, peak RSS %.1f MiB",
				size, refusedAfter, servedAfter, float64(peak)/(1<<20))
			if refusedAfter > 5*time.Second || servedAfter > 10*time.Second {
				t.Errorf("too slow: refused after %v, next request served after %v", refusedAfter, servedAfter)
			}
			if peak > 64<<20 {
				t.Errorf("peak RSS %.1f MiB, want under 64 MiB", float64(peak)/(1<<20))
			}
			if code := r.finish(t); code != 0 {
				t.Errorf("exit code %d", code)
			}
			r.checkStdoutIsProtocol(t)
		})
	}
}

// TestFramingBound sends lines at the bound, which are served, and one byte
// over it, which is refused; then the session goes on.
func TestFramingBound(t *testing.T) {
	r := startInitialized(t)
	for _, tc := range []struct {
		id   string
		size int
	}{{"3", maxStdioMessage}, {"4", maxStdioMessage - 1}, {"5", maxStdioMessage + 1}, {"6", 100}} {
		if err := newPaddedToolsList(tc.id, tc.size).writeTo(r.stdin); err != nil {
			t.Fatal(err)
		}
		a := nextAnswer(t, r, 20*time.Second)
		if tc.size > maxStdioMessage {
			a.refused(t, mcp.INVALID_REQUEST, "null", strconv.Itoa(maxStdioMessage))
		} else {
			a.answered(t, tc.id)
		}
	}
	r.send(t, request(7, "tools/list", nil))
	nextAnswer(t, r, 20*time.Second).answered(t, "7")
	if code := r.finish(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	r.checkStdoutIsProtocol(t)
}

// TestFramingNumberIDs sends ids and progress tokens mcp-go would round
// (it decodes them as float64): they are refused as over HTTP, echoing the
// id exactly; ids up to 2^53-1 are answered exactly.
func TestFramingNumberIDs(t *testing.T) {
	r := startInitialized(t)
	for _, id := range []string{"9007199254740993", "-9007199254740993", "18446744073709551617", "1.5", "1e3"} {
		r.send(t, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/list"}`)
		nextAnswer(t, r, 20*time.Second).refused(t, mcp.INVALID_REQUEST, id, "9007199254740991", "string id")
	}
	for _, id := range []string{"9007199254740991", "-9007199254740991", "0", `"9007199254740993"`} {
		r.send(t, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/list"}`)
		nextAnswer(t, r, 20*time.Second).answered(t, id)
	}
	r.send(t, `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"progressToken":9007199254740993}}}`)
	nextAnswer(t, r, 20*time.Second).refused(t, mcp.INVALID_PARAMS, "7", "progress token", "9007199254740991")
	r.send(t, `{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"_meta":{"progressToken":9007199254740991}}}`)
	nextAnswer(t, r, 20*time.Second).answered(t, "8")
	// The refused requests are not waited for at EOF: none is counted.
	start := time.Now()
	if code := r.finish(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the server took %v to end after stdin closed", took)
	}
	r.checkStdoutIsProtocol(t)
}

// TestFramingBatch sends JSON-RPC batches, which MCP dropped in 2025-06-18:
// the answer says so, as over HTTP, rather than calling the line invalid
// JSON.
func TestFramingBatch(t *testing.T) {
	r := startInitialized(t)
	for _, line := range []string{
		`[{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`,
		" \t[" + `{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","id":3,"method":"ping"}]`,
		`[]`,
	} {
		r.send(t, line)
		nextAnswer(t, r, 20*time.Second).refused(t, mcp.INVALID_REQUEST, "null", "batches", "2025-06-18", "one request per line")
	}
	r.send(t, request(4, "ping", nil))
	nextAnswer(t, r, 20*time.Second).answered(t, "4")
	if code := r.finish(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	r.checkStdoutIsProtocol(t)
}

// TestFramingPipelined writes 20,000 pings without waiting: every one is
// answered, lines split across reads included, at the speed short lines had
// before the bound (about 1.3 s on a 2-CPU machine).
func TestFramingPipelined(t *testing.T) {
	const calls = 20_000
	r := startInitialized(t)
	start := time.Now()
	written := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(r.stdin)
		for i := range calls {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`+"\n", i)
		}
		written <- w.Flush()
	}()
	seen := make([]bool, calls)
	for range calls {
		a := nextAnswer(t, r, 30*time.Second)
		id, err := strconv.Atoi(string(a.id))
		if err != nil || id < 0 || id >= calls || seen[id] || a.code != 0 {
			t.Fatalf("unexpected answer: %.300s", a.raw)
		}
		seen[id] = true
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d pipelined pings answered in %v", calls, took)
	if took > 30*time.Second {
		t.Errorf("%d pings took %v", calls, took)
	}
	if code := r.finish(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestFramingReaderSplitsAnywhere reads stdin one byte at a time: lines
// that pass reach mcp-go unchanged, refused ones are answered on stdout,
// a last line without its newline is handed on as it was, and EOF waits
// for the answer to the one request counted.
func TestFramingReaderSplitsAnywhere(t *testing.T) {
	passed := []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list"}` + "\n",
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n",
		"not JSON {\n",
		"\n",
	}
	refused := []string{
		`[{"jsonrpc":"2.0","id":2,"method":"ping"}]` + "\n",
		`{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}` + "\n",
	}
	tail := `{"jsonrpc":"2.0","id":3,"method":"ping"}`
	input := passed[0] + refused[0] + passed[1] + refused[1] + passed[2] + passed[3] + tail

	track := newInflight()
	var stdout bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := track.reader(ctx, iotest.OneByteReader(strings.NewReader(input)))
	out := track.writer(&stdout)
	type result struct {
		read []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(in)
		done <- result{b, err}
	}()
	select {
	case <-done:
		t.Fatal("stdin ended before the request read was answered")
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := io.WriteString(out, `{"jsonrpc":"2.0","id":1,"result":{}}`+"\n"); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil || ctx.Err() != nil {
		t.Fatalf("read: %v, context: %v", res.err, ctx.Err())
	}
	if want := strings.Join(passed, "") + tail; string(res.read) != want {
		t.Errorf("mcp-go read %q, want %q", res.read, want)
	}
	answers := strings.SplitAfter(stdout.String(), "\n")
	if len(answers) != 4 || answers[3] != "" || !strings.Contains(answers[0], "batches") ||
		!strings.Contains(answers[1], `"id":9007199254740993`) || !strings.Contains(answers[2], `"id":1,"result"`) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// TestFramingWriterKeepsLines writes a response in two pieces with a
// refusal between them: the refusal waits for the response's newline, and
// the response is counted once whole.
func TestFramingWriterKeepsLines(t *testing.T) {
	track := newInflight()
	var stdout bytes.Buffer
	out := track.writer(&stdout)
	track.add(1)
	io.WriteString(out, `{"jsonrpc":"2.0","id":1,"res`)
	if err := track.stdout.answer(jsonrpc.Refusal{Code: mcp.INVALID_REQUEST, Message: "no"}); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != `{"jsonrpc":"2.0","id":1,"res` {
		t.Fatalf("the refusal went into the middle of a line: %q", got)
	}
	io.WriteString(out, `ult":{}}`+"\n")
	want := `{"jsonrpc":"2.0","id":1,"result":{}}` + "\n" + `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"no"}}` + "\n"
	if got := stdout.String(); got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	select {
	case <-track.idle():
	default:
		t.Error("the response was not counted")
	}
}

// dripLine yields one line of n x's, then the rest, one byte per Read, as
// stdin does for a client that writes a byte at a time.
type dripLine struct {
	n    int
	rest string
}

func (d *dripLine) Read(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return 0, nil
	case d.n > 0:
		d.n--
		p[0] = 'x'
	case d.n == 0:
		d.n--
		p[0] = '\n'
	case d.rest != "":
		p[0], d.rest = d.rest[0], d.rest[1:]
	default:
		return 0, io.EOF
	}
	return 1, nil
}

// TestFramingReaderByteAtATime reads a line over the bound one byte at a
// time: what it costs stays near the bound, and the next line is handed on.
func TestFramingReaderByteAtATime(t *testing.T) {
	track := newInflight()
	var stdout bytes.Buffer
	next := `{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"
	in := track.reader(context.Background(), &dripLine{n: maxStdioMessage + 1<<20, rest: next})
	track.writer(&stdout)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	read, err := io.ReadAll(in)
	runtime.ReadMemStats(&after)
	if err != nil || string(read) != next {
		t.Fatalf("read %.100q, %v; want %q", read, err, next)
	}
	if !strings.Contains(stdout.String(), `"code":-32600`) {
		t.Errorf("stdout: %s", stdout.String())
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 2*maxStdioMessage {
		t.Errorf("reading a %d-byte line a byte at a time allocated %d bytes", maxStdioMessage+1<<20, allocated)
	}
}
