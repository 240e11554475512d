//go:build linux

package main

// The official MCP conformance suite (@modelcontextprotocol/conformance,
// the version scripts/conformance.sh pins) against the built binary serving
// HTTP on loopback: every scenario that applies to this server (the script
// lists which do and why the others cannot) must pass.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestConformance runs scripts/conformance.sh against the binary. The suite
// comes from scripts/test.sh, which installs it and exports its folder as
// TEST_MCP_CONFORMANCE: without it the test is skipped, and fails under
// CI=true.
func TestConformance(t *testing.T) {
	t.Parallel()
	if os.Getenv("TEST_MCP_CONFORMANCE") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_MCP_CONFORMANCE is not set: CI must run the tests through scripts/test.sh, which installs the MCP conformance suite")
		}
		t.Skip("TEST_MCP_CONFORMANCE is not set; run scripts/test.sh to run the MCP conformance suite")
	}
	p := newProject(t)
	// A set, so that resources/list lists its manifest and log.
	p.Write(t, sample.Generate(41, []string{"sql", "ddl"}, 3, 8), "global_vector_bak", "20250721_215758")
	s := startHTTP(t, serverEnv(p.DB, p.Root))
	// 127.0.0.1 rather than localhost: Node.js may try ::1 first, where
	// the server does not listen.
	url := strings.Replace(s.base, "localhost", "127.0.0.1", 1) + "/mcp"

	script, err := filepath.Abs("../../scripts/conformance.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/conformance.sh %s: %v\n%s", url, err, out)
	}
	if !strings.Contains(string(out), "applicable scenarios of @modelcontextprotocol/conformance") {
		t.Fatalf("scripts/conformance.sh said nothing of the scenarios:\n%s", out)
	}
	t.Logf("%s", out)
}
