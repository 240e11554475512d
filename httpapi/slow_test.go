package httpapi_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/httpapi"
)

// receiveTimeout is the rigs' bound on receiving headers and bodies here:
// short, so a trickling client meets it within the test.
const receiveTimeout = 1500 * time.Millisecond

// trickled is what a trickling client saw: the answer (nil when none came),
// how long after the first byte it came, and whether the server then
// closed the connection.
type trickled struct {
	res    *http.Response
	env    map[string]any
	after  time.Duration
	closed bool
}

// trickle sends head at once, then rest one byte a second, as a hostile
// client holding a connection open does, and reads the answer. It gives up
// waiting for one after wait.
func (r *rig) trickle(t *testing.T, head, rest string, wait time.Duration) trickled {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := range len(rest) {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := conn.Write([]byte{rest[i]}); err != nil {
				return // the server closed the connection
			}
		}
	})
	defer func() {
		close(stop)
		conn.Close()
		writer.Wait()
	}()

	var got trickled
	conn.SetReadDeadline(start.Add(wait))
	in := bufio.NewReader(conn)
	res, err := http.ReadResponse(in, nil)
	if err != nil {
		t.Errorf("no answer within %s: %v", wait, err)
		return got
	}
	got.res, got.after = res, time.Since(start)
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Errorf("reading the answer: %v", err)
	}
	if err := json.Unmarshal(body, &got.env); err != nil {
		t.Errorf("the answer is not JSON: %v\n%s", err, body)
	}
	// Once answered, the server must let go of the connection: the next
	// read ends (EOF, or a reset) rather than waiting for the deadline.
	conn.SetReadDeadline(time.Now().Add(receiveTimeout + 3*time.Second))
	more, err := io.ReadAll(in)
	if len(more) > 0 {
		t.Errorf("more after the answer: %q", more)
	}
	got.closed = !errors.Is(err, os.ErrDeadlineExceeded)
	return got
}

// check asserts the answer came with this status in the envelope, no later
// than within, and that the server closed the connection after it.
func (g trickled) check(t *testing.T, status int, within time.Duration) {
	t.Helper()
	if g.res == nil {
		return
	}
	if g.res.StatusCode != status || g.env["code"] != float64(status) {
		t.Errorf("answer %d, envelope code %v; want %d: %v", g.res.StatusCode, g.env["code"], status, g.env)
	}
	if g.after > within {
		t.Errorf("the answer came after %s, want within %s", g.after.Round(time.Millisecond), within)
	}
	if !g.closed {
		t.Error("the server kept the connection open after the answer")
	}
}

// settled returns the goroutine count of the rig's server at rest: serving
// (one answered request has seen to that) and holding no connection.
func (r *rig) settled(t *testing.T) int {
	t.Helper()
	r.call(t, "GET", "/health", "")
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		if !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "net/http.(*conn).serve") {
			return runtime.NumGoroutine()
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still serves a connection the client closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hostPort is the Host header for the rig's address.
func (r *rig) hostPort() string { return strings.TrimPrefix(r.url, "http://") }

// TestSlowRequests trickles requests in, one byte a second, as a client
// that wants to hold connections and goroutines does: headers, a body with
// a Content-Length, a chunked body, to the legacy routes and to /mcp. Each
// is answered 408 within the server's bound, in the envelope, and the
// connection is closed; no goroutine is left behind.
func TestSlowRequests(t *testing.T) {
	r := newRig(t, rigOptions{opts: httpapi.Options{HeaderTimeout: receiveTimeout, BodyTimeout: receiveTimeout}})
	baseline := r.settled(t)
	within := receiveTimeout + time.Second
	body := restoreBody(globalPath, globalTS, `"truncate_before_restore": true`)

	for _, c := range []struct{ name, head, rest string }{
		{"a body with a Content-Length to restore",
			fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", restore, r.hostPort(), len(body), body[:1]), body[1:]},
		{"a chunked body to restore",
			fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", restore, r.hostPort()), chunks(body)},
		{"a body to /mcp",
			fmt.Sprintf("POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 200\r\n\r\n{", r.hostPort()), strings.Repeat(" ", 199)},
		{"a chunked body to /mcp",
			fmt.Sprintf("POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", r.hostPort()), chunks(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)},
		{"headers", "G", fmt.Sprintf("ET %s HTTP/1.1\r\nHost: %s\r\n\r\n", list, r.hostPort())},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := r.trickle(t, c.head, c.rest, within+2*time.Second)
			got.check(t, http.StatusRequestTimeout, within)
			if got.res != nil && got.env["message"] != "请求超时" {
				t.Errorf("message %v", got.env["message"])
			}
		})
	}
	if n, stacks := goroutines(baseline); stacks != "" {
		t.Errorf("%d goroutines, %d before the slow requests:\n%s", n, baseline, stacks)
	}
}

// chunks is s in the chunked transfer coding, one byte a chunk.
func chunks(s string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, "1\r\n%c\r\n", s[i])
	}
	return b.String() + "0\r\n\r\n"
}

// TestSlowRequestsWithToken trickles bodies to a server that wants a token,
// without it: the refusal comes at once, not after the body, and the
// connection is closed within the bound on receiving the body.
func TestSlowRequestsWithToken(t *testing.T) {
	r := newRig(t, rigOptions{opts: httpapi.Options{AuthToken: "slow-token", BodyTimeout: receiveTimeout}})
	baseline := r.settled(t)
	for _, path := range []string{restore, "/mcp"} {
		t.Run(path, func(t *testing.T) {
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", path, r.hostPort())
			start := time.Now()
			got := r.trickle(t, head, strings.Repeat(" ", 99), receiveTimeout+3*time.Second)
			got.check(t, http.StatusUnauthorized, time.Second)
			if held := time.Since(start); got.res != nil && held > receiveTimeout+2*time.Second {
				t.Errorf("the connection was held %s after the refusal", held.Round(time.Millisecond))
			}
		})
	}
	if n, stacks := goroutines(baseline); stacks != "" {
		t.Errorf("%d goroutines, %d before the slow requests:\n%s", n, baseline, stacks)
	}
}

// TestKeptAliveConnections checks the 408 for slow headers spares what is
// not slow: a kept-alive connection idle for longer than the header bound
// serves its next request, and so does one whose first request the server
// answered itself (OPTIONS *, which reaches no handler).
func TestKeptAliveConnections(t *testing.T) {
	r := newRig(t, rigOptions{opts: httpapi.Options{HeaderTimeout: receiveTimeout, BodyTimeout: receiveTimeout}})
	conn, err := net.Dial("tcp", r.hostPort())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	in := bufio.NewReader(conn)
	send := func(request string) *http.Response {
		t.Helper()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(in, nil)
		if err != nil {
			t.Fatalf("%q: %v", request, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := send("OPTIONS * HTTP/1.1\r\nHost: " + r.hostPort() + "\r\n\r\n"); res.StatusCode != http.StatusOK {
		t.Fatalf("OPTIONS *: %d", res.StatusCode)
	}
	health := "GET /health HTTP/1.1\r\nHost: " + r.hostPort() + "\r\n\r\n"
	if res := send(health); res.StatusCode != http.StatusOK {
		t.Fatalf("after OPTIONS *: %d", res.StatusCode)
	}
	time.Sleep(receiveTimeout + 500*time.Millisecond)
	if res := send(health); res.StatusCode != http.StatusOK {
		t.Fatalf("after an idle while: %d", res.StatusCode)
	}
	// A body that arrives in time is served, and the connection kept.
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	res := send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", backup, r.hostPort(), len(body), body))
	if res.StatusCode != http.StatusBadRequest || res.Close {
		t.Fatalf("a prompt body: %d, close %v", res.StatusCode, res.Close)
	}
	if res := send(health); res.StatusCode != http.StatusOK {
		t.Fatalf("after a body: %d", res.StatusCode)
	}
}
