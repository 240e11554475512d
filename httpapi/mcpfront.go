package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/jsonrpc"
)

// mcpFront answers, in JSON-RPC, what mcp-go's streamable HTTP transport
// would answer wrongly or not at all, and hands everything else on:
//   - a JSON-RPC batch (a JSON array), which mcp-go calls "not valid json";
//   - a number id or progress token that mcp-go would round;
//   - a request of the session era (protocol 2025-11-25 and before) without
//     a session id (400) or with one this server does not know (404), which
//     mcp-go's default manager served.
//
// The guard has already read the body into memory.
func (h *Handler) mcpFront(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			if !h.checkMCPPost(w, r) {
				return
			}
		case http.MethodGet, http.MethodDelete:
			// GET opens a session's event stream and DELETE ends a session;
			// a sessionless (2026-07-28) client gets mcp-go's 405 for both.
			if !mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) && !h.sessionKnown(w, r, nil) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkMCPPost checks a POST's message and its session, and answers and
// returns false when it is refused.
func (h *Handler) checkMCPPost(w http.ResponseWriter, r *http.Request) bool {
	raw, err := io.ReadAll(r.Body) // from memory: cannot fail
	if err != nil {
		writeRPCError(w, http.StatusBadRequest, nil, mcp.PARSE_ERROR, "cannot read the request body: %v", err)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != "application/json" {
		return true // mcp-go answers that it wants application/json
	}
	if jsonrpc.IsBatch(raw) {
		writeRPCError(w, http.StatusBadRequest, nil, mcp.INVALID_REQUEST,
			"JSON-RPC batches (a JSON array of messages) are not supported: MCP removed them in protocol version %s; send one request per POST", mcp.ProtocolVersion20250618)
		return false
	}
	// Every field raw, so that no value's type fails the decoding: only a
	// body that is not a JSON object skips the checks, and mcp-go answers
	// it with a parse error. Struct fields match keys as mcp-go's do.
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal(raw, &msg) != nil {
		return true
	}
	if !jsonrpc.EchoedExactly(msg.ID) {
		writeRPCError(w, http.StatusBadRequest, msg.ID, mcp.INVALID_REQUEST,
			"the request id %s is a number this server cannot echo exactly: use an integer from -%d to %d (2^53-1), or a string id", msg.ID, jsonrpc.MaxExactInteger, jsonrpc.MaxExactInteger)
		return false
	}
	var params struct {
		Meta json.RawMessage `json:"_meta"`
	}
	_ = json.Unmarshal(msg.Params, &params) // params that are not an object carry no _meta
	var meta map[string]json.RawMessage     // as mcp.Meta reads it: the exact key
	_ = json.Unmarshal(params.Meta, &meta)
	if token := meta["progressToken"]; !jsonrpc.EchoedExactly(token) {
		writeRPCError(w, http.StatusBadRequest, msg.ID, mcp.INVALID_PARAMS,
			"the progress token %s is a number this server cannot echo exactly: use an integer from -%d to %d (2^53-1), or a string token", token, jsonrpc.MaxExactInteger, jsonrpc.MaxExactInteger)
		return false
	}
	var method string
	_ = json.Unmarshal(msg.Method, &method)
	if sessionless(r, params.Meta) || method == string(mcp.MethodInitialize) {
		return true
	}
	return h.sessionKnown(w, r, msg.ID)
}

// sessionless reports whether a POST is of the 2026-07-28 era, which has no
// sessions (mcp-go ignores Mcp-Session-Id for it). The era is decided as
// mcp-go decides it: by the version in the header or in params._meta.
func sessionless(r *http.Request, rawMeta json.RawMessage) bool {
	if mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) {
		return true
	}
	var meta mcp.Meta
	return len(rawMeta) > 0 && json.Unmarshal(rawMeta, &meta) == nil && mcp.IsModernProtocol(meta.ProtocolVersion())
}

// sessionKnown checks a session-era request's Mcp-Session-Id as the spec
// asks of a server that requires sessions: 400 without one (the client
// must initialize first), 404 for one the server does not know (it ended:
// the client must initialize again). It answers and returns false when the
// request is refused; id is the request's, for the answer.
func (h *Handler) sessionKnown(w http.ResponseWriter, r *http.Request, id json.RawMessage) bool {
	sessionID := r.Header.Get(mcp.HeaderSessionID)
	switch {
	case sessionID == "":
		writeRPCError(w, http.StatusBadRequest, id, mcp.INVALID_REQUEST,
			"the header %s is missing: send initialize first, then its answer's %s on every request (or speak protocol %s, which has no sessions)",
			mcp.HeaderSessionID, mcp.HeaderSessionID, mcp.ProtocolVersion20260728)
		return false
	case !h.sessions.known(sessionID):
		writeRPCError(w, http.StatusNotFound, id, mcp.INVALID_REQUEST,
			"this MCP session is unknown or has ended (closed, idle for %s, or the server restarted): send initialize to start a new one", sessionIdleTTL)
		return false
	}
	return true
}

// writeRPCError answers a refused MCP request: an HTTP error status (the
// transport's rule for input the server cannot accept) and a JSON-RPC
// error naming the request's id, or null when there is none.
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, format string, args ...any) {
	body := jsonrpc.Refusal{ID: id, Code: code, Message: fmt.Sprintf(format, args...)}.Response()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
