package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Go's server bounds the time to read a request's headers
// (ReadHeaderTimeout) but, when the bound passes, closes the connection
// without a word, or with a plain-text "400 Bad Request" when the deadline
// cut a line short: the client cannot tell a slow request from a crash or a
// malformed one. The contract wants 408. No handler runs at that point, so
// the answer has to come from beneath the server: a listener whose
// connections see the read time out and write the 408 themselves before the
// server closes them. (Plain TCP only: under TLS this would be the wrong
// layer. Serve offers no TLS.)

// headerTimeoutListener wraps each accepted connection in a timedConn.
type headerTimeoutListener struct {
	net.Listener
	log *slog.Logger
}

func (l headerTimeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, log: l.log}, nil
}

// timedConn answers 408 when the server's header deadline passes with part
// of a request read. It tells that case from the server's other read
// timeouts by what it saw, not by what the error says:
//   - an idle keep-alive connection timing out has read nothing since its
//     last answer (pending is 0), and is closed without a word, as before;
//   - the server's abort of its background read sets a deadline already
//     past, which is no wait that could time out (setInFuture is false);
//   - reads once a handler runs (the body, the background read) belong to
//     the handler, which answers its own 408 (inHandler is true).
type timedConn struct {
	net.Conn
	log *slog.Logger

	mu          sync.Mutex
	inHandler   bool // from the guard's start until the server waits for the next request
	pending     int  // bytes read towards a request no handler has seen yet
	setInFuture bool // the read deadline set last lay in the future when it was set
	answered    atomic.Bool
}

func (c *timedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.setInFuture = t.After(time.Now())
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *timedConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.setInFuture = t.After(time.Now())
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *timedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if !c.inHandler {
		c.pending += n
	}
	answer := errors.Is(err, os.ErrDeadlineExceeded) && !c.inHandler && c.pending > 0 && c.setInFuture
	pending := c.pending
	c.mu.Unlock()
	if answer && c.answered.CompareAndSwap(false, true) {
		c.answerTimeout(pending)
	}
	return n, err
}

// Write drops what the server writes once the 408 is out: its own reply to
// the timeout, "400 Bad Request" in plain text when the deadline cut a line
// short (and nothing when it fell between lines), before it closes the
// connection.
func (c *timedConn) Write(p []byte) (int, error) {
	if c.answered.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite keeps Go's server's graceful close (it half-closes, then waits
// for the client to read the last answer) working through the wrapper.
func (c *timedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// answerTimeout writes the 408 straight onto the connection: the server's
// goroutine for it is the one reading, so nothing else writes. The route is
// unknown (its headers never came in full), so the answer is the envelope
// most routes speak. A client that does not read must not hold the write,
// hence its own short deadline.
func (c *timedConn) answerTimeout(pending int) {
	body, _ := json.Marshal(envelope{Code: http.StatusRequestTimeout, Message: statusText[http.StatusRequestTimeout], Data: map[string]any{
		"response":   "the request's headers did not arrive in time; send the whole request at once",
		"error_type": string(apierr.InvalidParams),
		"timestamp":  now(),
	}})
	body = append(body, '\n')
	head := fmt.Sprintf("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", len(body))
	c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := c.Conn.Write(append([]byte(head), body...))
	c.log.Info("http", "status", http.StatusRequestTimeout, "received", pending, "remote", c.RemoteAddr().String(),
		"reason", "the request's headers did not arrive in time", "err", err)
}

// handlerStarted marks the connection as serving a request, whose reads are
// the handler's business; connState ends that when the server goes back to
// waiting for the next request.
func (c *timedConn) handlerStarted() {
	c.mu.Lock()
	c.inHandler = true
	c.mu.Unlock()
}

func (c *timedConn) idle() {
	c.mu.Lock()
	c.inHandler, c.pending = false, 0
	c.mu.Unlock()
}

// timedConnKey finds a request's timedConn in its context.
type timedConnKey struct{}

// connContext puts the connection in every request's context, for the
// guard to mark.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*timedConn); ok {
		return context.WithValue(ctx, timedConnKey{}, tc)
	}
	return ctx
}

// connState tells a connection the server is waiting for its next request.
func connState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*timedConn); ok && state == http.StateIdle {
		tc.idle()
	}
}

// markHandlerStarted tells r's connection, when Serve made it, that a
// handler now serves r.
func markHandlerStarted(r *http.Request) {
	if tc, ok := r.Context().Value(timedConnKey{}).(*timedConn); ok {
		tc.handlerStarted()
	}
}
