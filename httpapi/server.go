package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// ErrTokenRequired is Listen's refusal to serve beyond loopback without a
// bearer token.
var ErrTokenRequired = errors.New("refusing to serve without a bearer token")

// Listen opens addr for serving. An address without a host ("8084",
// ":8084") means the loopback interface: reaching beyond this machine must
// be asked for by name ("0.0.0.0:8084"), and then must be protected (a
// static token, or OAuth), since every route but /health can read and
// replace the training data.
func Listen(addr string, protected bool) (net.Listener, error) {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--http %q: want host:port or :port (%v)", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", net.JoinHostPort(host, port), err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && !protected {
		ln.Close()
		return nil, fmt.Errorf("%w: %s is reachable from other machines, and anyone who reaches it could replace the training data; "+
			"set --auth-token (or MCP_AUTH_TOKEN) or --oauth-issuer, or serve on loopback (--http 127.0.0.1:%s)", ErrTokenRequired, ln.Addr(), port)
	}
	return ln, nil
}

// Timeouts of the HTTP server besides Options' bounds on receiving a
// request. None bounds a whole request: a restore may run for minutes, and
// its client waits for the answer.
const (
	idleTimeout = 2 * time.Minute
	// afterCancel bounds the wait for cancelled calls to roll back and
	// answer once the grace period is over.
	afterCancel = 30 * time.Second
)

// Serve serves h on ln until ctx ends, then shuts down: it stops accepting,
// lets running calls finish for up to grace, then cancels them (a cancelled
// restore rolls back: nothing is ever half committed) and waits for their
// answers.
func Serve(ctx context.Context, ln net.Listener, h *Handler, grace time.Duration) error {
	// Every request's context descends from calls, so the end of the grace
	// period reaches every running call.
	calls, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: h.opts.HeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return calls },
		ConnContext:       connContext,
		ConnState:         connState,
		ErrorLog:          log.New(slogWriter{h.log}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(headerTimeoutListener{Listener: ln, log: h.log}) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	h.log.Info("shutting down: no new requests; running calls may finish", "grace", grace)
	// Ends mcp-go's session sweeper and its idle event streams, which would
	// hold the shutdown for the whole grace.
	if err := h.mcp.Shutdown(context.WithoutCancel(ctx)); err != nil {
		h.log.Warn("closing MCP sessions", "err", err)
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err == nil {
		h.log.Info("shut down")
		return nil
	}
	h.log.Warn("grace period over: cancelling the running calls; restores roll back")
	cancelCalls()
	// The cancelled calls answer (CANCELLED, rolled back); a second
	// Shutdown waits for those answers to be sent before the connections
	// close.
	final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), afterCancel)
	defer cancelFinal()
	if err := srv.Shutdown(final); err != nil {
		h.log.Error("calls did not end after cancelling; closing their connections")
		return srv.Close()
	}
	h.log.Info("shut down after cancelling")
	return nil
}

// slogWriter sends net/http's own complaints (bad TLS, bad requests) to the
// structured log.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn("http server", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}
