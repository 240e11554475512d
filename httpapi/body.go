package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Default bounds on receiving a request. Arguments are a few KiB, which any
// client sends in well under a second; the bounds only stop a client that
// trickles a request in to hold a connection and a goroutine for as long as
// it likes.
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout   = 10 * time.Second
)

// hasBody reports whether r carries a body to read. Go's server gives a
// request without one (no Content-Length, not chunked) http.NoBody.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody
}

// startBodyDeadline bounds the time to receive r's body, from now. It is set
// before any check runs, because every answer waits on the body, refusals
// included: Go's server reads what a handler left unread (up to 256 KiB)
// before it answers or reuses the connection, and without a deadline a
// trickled body holds even a 401 for as long as the client likes.
func (h *Handler) startBodyDeadline(w http.ResponseWriter, r *http.Request) {
	if !hasBody(r) {
		return
	}
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.opts.BodyTimeout)); err != nil {
		// Only a ResponseWriter that hides its connection gets here; the
		// body is still read, only without a bound.
		h.log.Warn("cannot bound the time to read a request body", "path", r.URL.Path, "err", err)
	}
}

// bufferBody reads r's body whole, under the deadline startBodyDeadline set,
// and hands the handlers an in-memory copy: nothing after the guard waits on
// the client, and every route, /mcp included, gets the same answers for a
// body too large (413, chunked or not), too slow (408) or cut short (400).
// It answers and returns false when the body cannot be used.
func (h *Handler) bufferBody(w http.ResponseWriter, r *http.Request) bool {
	if !hasBody(r) {
		return true
	}
	// One byte more than the limit tells a body at the limit from one over
	// it, without reading the rest of an oversized one.
	body, err := io.ReadAll(io.LimitReader(r.Body, h.opts.MaxBodyBytes+1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The connection's read side is spent (Go's server cancelled the
		// request's context as the read failed) but its write side still
		// answers; "close" keeps the server from waiting for the rest.
		w.Header().Set("Connection", "close")
		writeRefusal(w, http.StatusRequestTimeout, apierr.InvalidParams,
			"the request body did not arrive within %s of its headers; send the whole request at once", h.opts.BodyTimeout)
		return false
	case err != nil:
		// The client went away mid-body, or broke the chunked framing:
		// whatever follows on the connection is not a request.
		w.Header().Set("Connection", "close")
		writeRefusal(w, http.StatusBadRequest, apierr.InvalidParams, "the request body was cut short or malformed: %v", err)
		return false
	case int64(len(body)) > h.opts.MaxBodyBytes:
		w.Header().Set("Connection", "close")
		writeRefusal(w, http.StatusRequestEntityTooLarge, apierr.InvalidParams,
			"the request body is larger than %d bytes; arguments are far smaller", h.opts.MaxBodyBytes)
		return false
	}
	// The deadline must go now: the body's end starts Go's background read
	// of the connection, which cancels the request's context when a read
	// fails, so a deadline left set would cancel a long restore as it
	// passed. (Should it fire in the instant between the two, the call sees
	// a cancelled context and answers CANCELLED, changing nothing.)
	if err := http.NewResponseController(w).SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		h.log.Warn("cannot clear the request body's read deadline", "path", r.URL.Path, "err", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}
