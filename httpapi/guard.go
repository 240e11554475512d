package httpapi

import (
	"bytes"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/caller"
)

// guard runs the checks every route shares, outermost first: the access log
// (which sees every answer, refusals included), a recovered panic, the
// bound on the time to receive the body, the Host and Origin checks, the
// token (whose caller goes into the request's context), and the body's
// size; then it reads the body (see bufferBody).
func (h *Handler) guard(next http.Handler) http.Handler {
	return h.accessLog(h.recoverPanic(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		markHandlerStarted(r)
		h.startBodyDeadline(w, r)
		refuse := func(status int, errorType apierr.Type, format string, args ...any) {
			if hasBody(r) {
				// The body stays unread: closing the connection lets the
				// answer go at once, rather than after Go's server read
				// what is left of the body to reuse the connection.
				w.Header().Set("Connection", "close")
			}
			writeRefusal(w, status, errorType, format, args...)
		}
		if !h.hostAllowed(r) {
			// A browser page whose name was rebound to this machine's
			// loopback address: its requests carry its own Host.
			refuse(http.StatusForbidden, apierr.Forbidden,
				"Host %q is not a loopback name, but the request came in on a loopback address; use http://localhost or http://127.0.0.1", r.Host)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !h.originAllowed(origin, r) {
			refuse(http.StatusForbidden, apierr.Forbidden,
				"requests from the web origin %q are refused; the operator can allow it with --allow-origin", origin)
			return
		}
		if !h.open(r.URL.Path) {
			who, admitted, refused := h.authenticate(r)
			if !admitted {
				h.unauthorized(w, r, refused, refuse)
				return
			}
			// mcp-go hands the request's context to the tool handlers,
			// which check the caller's scopes.
			r = r.WithContext(caller.With(r.Context(), who))
		}
		if r.ContentLength > h.opts.MaxBodyBytes {
			refuse(http.StatusRequestEntityTooLarge, apierr.InvalidParams,
				"the request body is %d bytes, more than the %d allowed; arguments are far smaller", r.ContentLength, h.opts.MaxBodyBytes)
			return
		}
		if !h.bufferBody(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})))
}

// hostAllowed applies mcp-go's DNS rebinding rule to every route: a request
// that arrived on a loopback address must name a loopback host.
func (h *Handler) hostAllowed(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || !isLoopback(local.String()) {
		return true
	}
	return isLoopback(r.Host)
}

// originAllowed admits the server's own origin (the scheme and the Host the
// request was sent to) and the origins the operator allowed. "null" (a
// sandboxed page, a file) is no one's own.
func (h *Handler) originAllowed(origin string, r *http.Request) bool {
	if slices.Contains(h.opts.AllowOrigins, strings.TrimSuffix(origin, "/")) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

// open reports whether a path needs no token: /health, and the protected
// resource metadata, which says how to get one.
func (h *Handler) open(path string) bool {
	return slices.Contains(h.openPaths, path)
}

// isLoopback reports whether a host or host:port names the loopback
// interface.
func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = strings.Trim(hostPort, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// recoverPanic answers 500 for a handler that panicked, rather than
// dropping the connection, and logs it.
func (h *Handler) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error("handler panicked", "path", r.URL.Path, "panic", v)
				writeRefusal(w, http.StatusInternalServerError, apierr.DatabaseError, "the server failed unexpectedly; nothing is half done: restores roll back")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog writes one line per request: method, path (never the query,
// which may carry a task name but must not grow secrets), status, bytes,
// duration and the client's address.
func (h *Handler) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		h.log.Info("http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"bytes", rec.bytes, "duration", time.Since(start).Round(time.Millisecond), "remote", r.RemoteAddr)
	})
}

// recorder notes the status and size of an answer, and with keepError the
// start of an error's body (the envelope naming its type and reason, for
// the metrics). It keeps Flush, which MCP's streamed answers (server-sent
// events) need.
type recorder struct {
	http.ResponseWriter
	status    int
	bytes     int64
	keepError bool
	errBody   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.keepError && r.status != http.StatusOK && r.errBody.Len() < maxErrorBody {
		r.errBody.Write(p[:min(len(p), maxErrorBody-r.errBody.Len())])
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() { http.NewResponseController(r.ResponseWriter).Flush() }

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
