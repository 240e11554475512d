package display

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile is text a backup file could hold: a screen clear and a fake
// plan, a clipboard write (OSC 52), a CR LF that starts a line of its own,
// a right-to-left override, C1 CSI, DEL, line and paragraph separators, an
// isolate, and a byte that is not UTF-8.
const hostile = "sql\x1b[2J\x1b[HRestore nothing\x1b]52;c;ZWNobyBoaQ==\x07\r\nNothing else changes\u202eedoc\u009b31m\x7f\u2028\u2029\u2066x\xff 中文"

func TestEscape(t *testing.T) {
	got := Escape(hostile)
	want := `sql\x1b[2J\x1b[HRestore nothing\x1b]52;c;ZWNobyBoaQ==\x07\r\nNothing else changes\u202eedoc\u009b31m\x7f\u2028\u2029\u2066x\xff 中文`
	if got != want {
		t.Errorf("Escape\n got %s\nwant %s", got, want)
	}
	for _, s := range []string{"sql", "中文文档：销售额 😀", `back\slash "quoted"`, ""} {
		if Escape(s) != s {
			t.Errorf("Escape(%q) = %q, want it unchanged", s, Escape(s))
		}
	}
	if got := EscapeLines("plan:\n- collection " + Quote("a\nb") + "\x1b[2J\n"); got != "plan:\n- collection \"a\\nb\"\\x1b[2J\n" {
		t.Errorf("EscapeLines: %q", got)
	}
}

func TestEscapeLeavesNoControl(t *testing.T) {
	for _, f := range []func(string) string{Escape, Quote} {
		out := f(hostile)
		if !utf8.ValidString(out) {
			t.Errorf("%q is not UTF-8", out)
		}
		for _, r := range out {
			if IsControl(r) {
				t.Errorf("%q holds %U", out, r)
			}
		}
	}
}

func TestQuote(t *testing.T) {
	if got, want := Quote(`q"uote\`), `"q\"uote\\"`; got != want {
		t.Errorf("Quote: %s, want %s", got, want)
	}
	if got, want := Quote("two\r\nNothing else changes"), `"two\r\nNothing else changes"`; got != want {
		t.Errorf("Quote: %s, want %s", got, want)
	}
	if got, want := Quote("数据"), `"数据"`; got != want {
		t.Errorf("Quote: %s, want %s", got, want)
	}
}

func TestEscapeJSON(t *testing.T) {
	v := map[string]any{"name": hostile, "list": []string{"a\u202eb", "plain"}}
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := EscapeJSON(raw)
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var want map[string]any
	json.Unmarshal(raw, &want) // encoding/json already made the bad byte U+FFFD
	if back["name"] != want["name"] || back["list"].([]any)[0] != "a\u202eb" {
		t.Errorf("the values changed: %q", back)
	}
	for _, r := range string(out) {
		if IsControl(r) && r != '\n' {
			t.Errorf("%U left in %s", r, out)
		}
	}
	if !strings.Contains(string(out), "\n  ") {
		t.Errorf("the indentation is gone: %s", out)
	}
	plain := []byte(`{"a": "b"}`)
	if got := EscapeJSON(plain); &got[0] != &plain[0] {
		t.Error("EscapeJSON copied JSON that needed nothing")
	}
}
