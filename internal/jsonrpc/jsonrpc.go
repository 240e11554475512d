// Package jsonrpc screens incoming JSON-RPC messages for what mcp-go would answer wrongly, so that every transport refuses them alike.
package jsonrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"
)

// MaxExactInteger is the largest integer a float64 holds exactly along with
// all smaller ones (2^53-1, JavaScript's Number.MAX_SAFE_INTEGER). mcp-go
// decodes JSON-RPC ids and progress tokens into float64 (mcp.RequestId,
// mcp.ProgressToken, and the id in MCPServer.HandleMessage are
// float64-backed), so a larger one comes back rounded: 9007199254740993 is
// answered as 9007199254740992, and the client cannot match its answer.
const MaxExactInteger = 1<<53 - 1

// EchoedExactly reports whether mcp-go echoes a JSON value (an id or a
// progress token) unchanged: any value that is not a number, and integers
// written as such (digits, perhaps a minus) within ±MaxExactInteger. 1.0
// and 1e3 are refused too: MCP ids are integers, and mcp-go would answer
// them as 1 and 1000.
func EchoedExactly(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return true
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil && -MaxExactInteger <= n && n <= MaxExactInteger
}

// IsBatch reports whether msg is a JSON-RPC batch: a JSON array, whatever
// it holds. MCP removed batching in protocol 2025-06-18 and mcp-go never
// had it (it calls a batch "not valid json").
func IsBatch(msg []byte) bool {
	trimmed := bytes.TrimLeft(msg, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '['
}

// Message is the envelope of one JSON-RPC message, each field the text the
// client wrote (nil when absent). Every field is raw so that no value's type
// fails the decoding; the tags match keys as mcp-go's do.
type Message struct {
	ID     json.RawMessage `json:"id"`
	Method json.RawMessage `json:"method"`
	Params json.RawMessage `json:"params"`
}

// Refusal is the JSON-RPC error that answers a message the server does not
// hand on to mcp-go.
type Refusal struct {
	ID      json.RawMessage // the message's own id text; nil when it has none or it cannot be known
	Code    int
	Message string
}

// Response is the refusal as a JSON-RPC error response, unframed (no
// newline). The id is the client's own text, not a decoded value, so even
// an id refused for its size is echoed exactly.
func (r Refusal) Response() []byte {
	answer := struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: mcp.JSONRPC_VERSION, ID: r.ID}
	if len(bytes.TrimSpace(r.ID)) == 0 {
		answer.ID = json.RawMessage("null")
	}
	answer.Error.Code, answer.Error.Message = r.Code, r.Message
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // so that an id "a<b" comes back as written, not as "a\u003cb"
	if enc.Encode(answer) != nil {
		// Only an id that is not JSON fails, and one from a parsed message is.
		body.Reset()
		answer.ID = json.RawMessage("null")
		enc.Encode(answer)
	}
	return bytes.TrimSuffix(body.Bytes(), []byte("\n"))
}

// Screen reads one message's envelope and refuses it, with the answer the
// client should get, when it is a batch, or when its id or progress token
// (params._meta.progressToken) is a number mcp-go would not echo exactly.
// oneMessagePer names what carries one message on the transport ("line",
// "POST"), for the batch refusal's advice. A message that is not a JSON
// object passes with an empty envelope: mcp-go answers it with a parse
// error.
func Screen(msg []byte, oneMessagePer string) (Message, *Refusal) {
	if IsBatch(msg) {
		return Message{}, &Refusal{Code: mcp.INVALID_REQUEST, Message: fmt.Sprintf(
			"JSON-RPC batches (a JSON array of messages) are not supported: MCP removed them in protocol version %s; send one request per %s",
			mcp.ProtocolVersion20250618, oneMessagePer)}
	}
	var m Message
	if json.Unmarshal(msg, &m) != nil {
		return Message{}, nil
	}
	if !EchoedExactly(m.ID) {
		return m, &Refusal{ID: m.ID, Code: mcp.INVALID_REQUEST, Message: fmt.Sprintf(
			"the request id %s is a number this server cannot echo exactly: use an integer from -%d to %d (2^53-1), or a string id",
			m.ID, MaxExactInteger, MaxExactInteger)}
	}
	if token := progressToken(m.Params); !EchoedExactly(token) {
		return m, &Refusal{ID: m.ID, Code: mcp.INVALID_PARAMS, Message: fmt.Sprintf(
			"the progress token %s is a number this server cannot echo exactly: use an integer from -%d to %d (2^53-1), or a string token",
			token, MaxExactInteger, MaxExactInteger)}
	}
	return m, nil
}

// progressToken is params._meta.progressToken's text, nil when there is
// none (params or _meta that are not objects carry none).
func progressToken(params json.RawMessage) json.RawMessage {
	if len(params) == 0 {
		return nil
	}
	var p struct {
		Meta json.RawMessage `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil || len(p.Meta) == 0 {
		return nil
	}
	var meta map[string]json.RawMessage // as mcp.Meta reads it: the exact key
	_ = json.Unmarshal(p.Meta, &meta)
	return meta["progressToken"]
}
