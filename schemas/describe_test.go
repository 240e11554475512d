package schemas

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// TestPatternWording: a value that does not fit a pattern is explained in
// words, with an example, never as a regular expression with doubled
// escapes; every pattern the schemas use has its words.
func TestPatternWording(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var args RestoreArgs
	err = v.Decode(RestoreTool, []byte(`{"backup_path": "x", "timestamp": "2025-07-21"}`), &args)
	msg := apierr.MessageOf(err)
	if !strings.Contains(msg, "like 20250721_215758, or latest") || strings.Contains(msg, `\\`) || strings.Contains(msg, `\d`) {
		t.Errorf("message %q: want the form in words, no regular expression", msg)
	}
	for _, tool := range append(Tools(), HTTPBodies()...) {
		var schema map[string]any
		if err := json.Unmarshal(Input(tool.Args), &schema); err != nil {
			t.Fatal(err)
		}
		for _, p := range patterns(schema) {
			if _, ok := patternForms[p]; !ok {
				t.Errorf("%s: pattern %s has no words in patternForms", tool.Name, p)
			}
		}
	}
}

// patterns collects every "pattern" in a schema.
func patterns(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "pattern" {
				out = append(out, s)
			} else {
				out = append(out, patterns(x)...)
			}
		}
	case []any:
		for _, x := range v {
			out = append(out, patterns(x)...)
		}
	}
	return out
}
