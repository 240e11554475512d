package jsonrpc

import (
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func TestEchoedExactly(t *testing.T) {
	for raw, want := range map[string]bool{
		"": true, "null": true, `"9007199254740993"`: true, "true": true, "{}": true,
		"0": true, "9007199254740991": true, "-9007199254740991": true, " 42 ": true,
		"9007199254740992": false, "-9007199254740992": false, "18446744073709551617": false,
		"1.5": false, "1e3": false, "1.0": false, "-0.0": false, "-": false,
	} {
		if got := EchoedExactly(json.RawMessage(raw)); got != want {
			t.Errorf("EchoedExactly(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestScreen(t *testing.T) {
	for _, tc := range []struct {
		msg, id string
		code    int // 0: passes
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, "", 0},
		{`not json`, "", 0},
		{`null`, "", 0},
		{`{"id":"x","method":"ping","params":"not an object"}`, "", 0},
		{`{"id":1,"params":{"_meta":"not an object"}}`, "", 0},
		{`{"id":1,"params":{"_meta":{"progressToken":"9007199254740993"}}}`, "", 0},
		{`{"id":1,"params":{"_meta":{"ProgressToken":9007199254740993}}}`, "", 0}, // mcp.Meta reads the exact key
		{" \r\n\t[]", "null", mcp.INVALID_REQUEST},
		{`{"ID":9007199254740993,"method":"ping"}`, "9007199254740993", mcp.INVALID_REQUEST}, // keys match as mcp-go's do
		{`{"id":-1e3}`, "-1e3", mcp.INVALID_REQUEST},
		{`{"id":"a<b","params":{"_meta":{"progressToken":2e60}}}`, `"a<b"`, mcp.INVALID_PARAMS},
		{`{"method":"notifications/progress","params":{"_meta":{"progressToken":1.5}}}`, "null", mcp.INVALID_PARAMS},
	} {
		_, refusal := Screen([]byte(tc.msg), "line")
		if tc.code == 0 {
			if refusal != nil {
				t.Errorf("%s: refused: %s", tc.msg, refusal.Message)
			}
			continue
		}
		if refusal == nil {
			t.Errorf("%s: passed, want code %d", tc.msg, tc.code)
			continue
		}
		var answer struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Error   struct{ Code int }
		}
		response := refusal.Response()
		if err := json.Unmarshal(response, &answer); err != nil || answer.JSONRPC != "2.0" || string(answer.ID) != tc.id || answer.Error.Code != tc.code {
			t.Errorf("%s: answered %s (%v), want id %s, code %d", tc.msg, response, err, tc.id, tc.code)
		}
	}
}
