//go:build linux

package main

// The server run as a service, end to end: two replicas of the built binary
// behind OAuth (a test issuer on loopback), sharing one database, one
// bucket and one MCP_CONFIRM_KEY, each with its metrics. A token with only
// the read scope lists and inspects but cannot restore, over MCP and the
// REST API; a token with the write scope gets a confirmation token on one
// replica and spends it on the other, exactly once; the audit trail in the
// bucket names the token's subject; each replica's metrics count what it
// served; the issuer's keys were fetched once per replica, not per call.

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/oauthtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
)

func TestFleetBehindOAuth(t *testing.T) {
	t.Parallel()
	iss := oauthtest.New(t, oauthtest.Options{})
	r := newReplicaSet(t)
	env := serverEnv(r.p.DB, r.p.Root, "MCP_CONFIRM_KEY="+r.key, "MCP_OAUTH_ISSUER="+iss.URL, "MCP_PUBLIC_URL="+oauthPublicURL)
	start := func() (*httpServer, string) {
		s := startHTTP(t, env, "--backup-root", r.url, "--confirm", "token", "--metrics", "127.0.0.1:0")
		if s.stderr.WaitFor(0, 10*time.Second, `msg="serving metrics"`) == "" {
			t.Fatalf("no metrics listener:\n%s", s.stderr.String())
		}
		m := metricsURLRE.FindStringSubmatch(s.stderr.String())
		if m == nil {
			t.Fatalf("no metrics address in the log:\n%s", s.stderr.String())
		}
		return s, m[1]
	}
	a, metricsA := start()
	b, metricsB := start()
	now := time.Now()
	reader := iss.Token(t, iss.Claims(now, "reader@example.com", oauthPublicURL, readScope))
	writer := iss.Token(t, iss.Claims(now, "writer@example.com", oauthPublicURL, readScope, writeScope))
	dial := func(s *httpServer, token string) *client.Client {
		t.Helper()
		trans, err := transport.NewStreamableHTTP(mcpURL(s), transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := mcptest.Dial(t, trans, mcptest.Options{Protocol: mcp.LATEST_PROTOCOL_VERSION, Name: "fleet-test"})
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		return c
	}
	args := map[string]any{"backup_path": bucketTaskPath, "timestamp": bucketTaskTS, "truncate_before_restore": true}
	wa, wb := dial(a, writer), dial(b, writer)
	// Rows to replace, so that the restore needs a person's approval: the
	// old set into the empty tables, which needs none.
	if res, out := mcptest.Call(t, wa, "restore_vector_backup", map[string]any{"backup_path": bucketOldPath, "timestamp": bucketOldTS}, nil); res.IsError {
		t.Fatalf("seed: %v", out)
	}
	before := pgtest.Dump(t, r.p.DB)

	// The read scope: list and inspect on A, no restore on A (MCP) nor on B
	// (REST).
	ra := dial(a, reader)
	if res, out := mcptest.Call(t, ra, "list_vector_backups", map[string]any{}, nil); res.IsError {
		t.Errorf("list with the read scope: %v", out)
	}
	if res, out := mcptest.Call(t, ra, "inspect_vector_backup", map[string]any{"backup_path": bucketTaskPath, "timestamp": bucketTaskTS}, nil); res.IsError {
		t.Errorf("inspect with the read scope: %v", out)
	}
	res, out := mcptest.Call(t, ra, "restore_vector_backup", args, nil)
	if !res.IsError || out["error_type"] != "FORBIDDEN" || !strings.Contains(text(res), writeScope) {
		t.Errorf("restore with the read scope over MCP: %v", out)
	}
	body, _ := json.Marshal(args)
	status, challenge, _ := send(t, "POST", b.base+"/api/v0/data_pipeline/vector/restore", reader, string(body))
	if status != 403 || !strings.Contains(challenge, `scope="vector-backups:write"`) {
		t.Errorf("restore with the read scope over REST: %d %q", status, challenge)
	}
	if pgtest.Dump(t, r.p.DB) != before {
		t.Fatal("a refused restore changed the tables")
	}

	// The write scope: the plan and its token on A, the restore on B,
	// exactly once.
	res, out = mcptest.Call(t, wa, "restore_vector_backup", args, nil)
	token := confirmToken(t, res, out)
	if token == "" {
		t.Fatalf("a truncating restore over rows ran without approval: %v", out)
	}
	if res, out := mcptest.Call(t, wb, "restore_vector_backup", withToken(args, token), nil); res.IsError || out["restore_performed"] != true {
		t.Fatalf("A's token on B: %s", text(res))
	}
	res, out = mcptest.Call(t, wa, "restore_vector_backup", withToken(args, token), nil)
	wantRefused(t, "the token replayed on A", res, out, "used")
	pgtest.Compare(t, r.p.DB, r.task, r.p.Layout)

	// The trail, in the bucket: the restore on B, then the seed on A, both
	// of the writer; nothing of the refused calls.
	stdout, stderr, code := runServer(t, runOptions{env: env}, "audit", "--backup-root", r.url, "--json")
	if code != 0 {
		t.Fatalf("audit: exit %d\n%s%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rec struct {
		Who       struct{ Subject string }
		Front     string
		Operation string
		Outcome   string
		Options   struct {
			Confirmed bool
		}
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec.Who.Subject != "writer@example.com" ||
		rec.Front != "mcp" || rec.Operation != "restore_vector_backup" || rec.Outcome != "committed" || !rec.Options.Confirmed {
		t.Errorf("the audit trail, want the confirmed restore of writer@example.com, then the seed:\n%s", stdout)
	}

	// Each replica counted what it served.
	wantMetric := func(name, text, pattern string) {
		t.Helper()
		if !regexp.MustCompile(pattern).MatchString(text) {
			t.Errorf("%s's metrics lack %s:\n%s", name, pattern, grepLines(text, "pgvector_backup_"))
		}
	}
	ma, mb := scrape(t, metricsA), scrape(t, metricsB)
	wantMetric("A", ma, `pgvector_backup_calls_total\{front="mcp",name="restore_vector_backup",outcome="forbidden"\} 1`)
	wantMetric("A", ma, `pgvector_backup_calls_total\{front="mcp",name="restore_vector_backup",outcome="confirmation_required"\} 1`)
	wantMetric("B", mb, `pgvector_backup_calls_total\{front="rest",name="[^"]*restore",outcome="forbidden"\} 1`)
	wantMetric("A", ma, `pgvector_backup_restores_total\{dry_run="false",mode="append",outcome="ok"\} 1`)
	wantMetric("B", mb, `pgvector_backup_restores_total\{dry_run="false",mode="truncate",outcome="ok"\} 1`)
	wantMetric("B", mb, `pgvector_backup_restored_rows_total\{table="langchain_pg_embedding"\} [1-9]`)
	if n := iss.Fetches(); n != 2 {
		t.Errorf("the issuer's keys were fetched %d times, want twice (once per replica, at start)", n)
	}
}

// grepLines is the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
