package main

import (
	"regexp"
	"strings"
	"testing"
)

// flagLine is a flag's line in cobra's help: its name, then its text.
var flagLine = regexp.MustCompile(`^\s+(?:-\w, )?(--[\w-]+)(?: \w+)?\s{2,}(.*)$`)

// TestHelpWhole: every command's help prints each flag's description
// whole: no text ends mid-sentence ("e.g."), no parenthesis is left open.
func TestHelpWhole(t *testing.T) {
	for _, cmd := range []string{"", "serve", "list", "inspect", "restore", "backup", "audit", "schemas", "version"} {
		args := strings.Fields(cmd + " --help")
		stdout, stderr, code := runServer(t, runOptions{}, args...)
		out := stdout + stderr
		if code != 0 {
			t.Fatalf("mcp-server %s --help: exit status %d\n%s", cmd, code, out)
		}
		flags := 0
		for _, line := range strings.Split(out, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			flags++
			text := strings.TrimSpace(m[2])
			if strings.HasSuffix(text, "e.g.") || strings.HasSuffix(text, "i.e.") || strings.Count(text, "(") != strings.Count(text, ")") {
				t.Errorf("mcp-server %s --help: %s is cut off: %q", cmd, m[1], text)
			}
		}
		if flags == 0 {
			t.Errorf("mcp-server %s --help lists no flags:\n%s", cmd, out)
		}
	}
}
