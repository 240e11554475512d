package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartupRefusals: the server refuses, at start and with a message that
// says what to fix, a confirmation key without entropy, a backup root that
// is a file, and a global backup folder that links out of the root.
func TestStartupRefusals(t *testing.T) {
	for name, key := range map[string]string{
		"all zero":   strings.Repeat("00", 32),
		"one byte":   strings.Repeat("ab", 32),
		"a pattern":  strings.Repeat("0123456789abcdef", 4),
		"few values": strings.Repeat("0102030405", 6) + "0102",
	} {
		_, err := parseConfig(nil, env{"MCP_CONFIRM_KEY": key}.lookup, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "not a random key") {
			t.Errorf("key %s: %v, want refused as no random key", name, err)
		}
	}
	if _, err := parseConfig(nil, env{"MCP_CONFIRM_KEY": "3f9c1a7e5b2d8c4f6a0e9b3d7c1f5a2e8d4b6c0a9f3e7d1b5c2a8e4f6d0b9c3a"}.lookup, io.Discard); err != nil {
		t.Errorf("a random key: %v", err)
	}

	project := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	rootFile := filepath.Join(project, "root-is-a-file")
	if err := os.WriteFile(rootFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := config{projectRoot: project, backupRoot: rootFile, confirm: "none"}
	if _, err := c.service(logger); err == nil || !strings.Contains(err.Error(), "is a file, not a folder") {
		t.Errorf("a backup root that is a file: %v", err)
	}

	root := filepath.Join(project, "backups")
	outside := t.TempDir()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "global_vector_bak")); err != nil {
		t.Fatal(err)
	}
	c = config{projectRoot: project, backupRoot: root, confirm: "none"}
	if _, err := c.service(logger); err == nil || !strings.Contains(err.Error(), "leads outside the backup root") {
		t.Errorf("global_vector_bak linked out of the root: %v", err)
	}
	// A link that stays inside the root is fine.
	os.Remove(filepath.Join(root, "global_vector_bak"))
	if err := os.MkdirAll(filepath.Join(root, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(root, "global_vector_bak")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.service(logger); err != nil {
		t.Errorf("global_vector_bak linked inside the root: %v", err)
	}
}
