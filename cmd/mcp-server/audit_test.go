package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/audit"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/s3test"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

var metricsURLRE = regexp.MustCompile(`msg="serving metrics" url=(http://127\.0\.0\.1:\d+/metrics)`)

// scrape reads the metrics at u.
func scrape(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatalf("scrape %s: %v", u, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %s", u, res.StatusCode, body)
	}
	return string(body)
}

// TestAuditTrailAndMetrics: a restore over MCP on stdio leaves a record of
// the local operator, one over the REST API with the static token a record
// of static-token; mcp-server audit lists them newest first, as JSON lines
// and as a table; --metrics serves the calls, the restore and its rows.
func TestAuditTrailAndMetrics(t *testing.T) {
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
	d := sample.Generate(31, []string{"sql", "ddl"}, 5, 8)
	p.Write(t, d, "vector_bak", "20250720_080000")
	const legacy = "./data_pipeline/training_data/vector_bak"

	// Over MCP, on stdio, with metrics.
	s := startServer(t, mcp.ProtocolVersion20250618, serverOptions{db: p.DB, projectRoot: p.Root, args: []string{"--metrics", "127.0.0.1:0"}})
	if s.stderr.WaitFor(0, 10*time.Second, `msg="serving metrics"`) == "" {
		t.Fatalf("no metrics listener:\n%s", s.stderr.String())
	}
	m := metricsURLRE.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", s.stderr.String())
	}
	out := s.restore(t, map[string]any{"backup_path": legacy, "timestamp": "20250720_080000", "truncate_before_restore": true})
	rows := int(out["restore_results"].(map[string]any)[layout.EmbeddingTable].(map[string]any)["rows_restored"].(float64))
	text := scrape(t, m[1])
	for _, want := range []string{
		`pgvector_backup_calls_total{front="mcp",name="restore_vector_backup",outcome="ok"} 1`,
		`pgvector_backup_restores_total{dry_run="false",mode="truncate",outcome="ok"} 1`,
		`pgvector_backup_restored_rows_total{table="langchain_pg_embedding"} ` + itoa(rows),
		`pgvector_backup_build_info{`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}

	// Over the REST API, with the static token.
	const token = "audit-test-token"
	h := startHTTP(t, serverEnv(p.DB, p.Root), "--auth-token", token)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/api/v0/data_pipeline/vector/restore",
		strings.NewReader(`{"backup_path": "`+legacy+`", "timestamp": "latest", "truncate_before_restore": true, "dry_run": true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("REST restore: %d %s", res.StatusCode, body)
	}

	// From the command line.
	env := serverEnv(p.DB, p.Root)
	if stdout, stderr, code := runServer(t, runOptions{env: env}, "backup"); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}

	// The trail, newest first.
	stdout, stderr, code := runServer(t, runOptions{env: env}, "audit", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("audit --json: exit %d\n%s", code, stderr)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3:\n%s", len(recs), stdout)
	}
	check(t, "CLI record", recs[0], map[string]any{
		"who.subject": "local", "front": "cli", "operation": "create_vector_backup", "outcome": "written",
		"set.path": "./data_pipeline/training_data/global_vector_bak",
	})
	recs = recs[1:]
	check(t, "REST record", recs[0], map[string]any{
		"who.subject": "static-token", "front": "rest", "operation": "/api/v0/data_pipeline/vector/restore",
		"outcome": "dry_run", "set.path": legacy, "set.timestamp": "20250720_080000",
		"options.dry_run": true, "options.unattended": true,
	})
	check(t, "MCP record", recs[1], map[string]any{
		"who.subject": "local", "front": "mcp", "operation": "restore_vector_backup",
		"outcome": "committed", "options.truncate_before_restore": true,
		"rows." + layout.EmbeddingTable: float64(rows),
	})
	if strings.Contains(stdout, "password") || strings.Contains(stdout, "confirm_token\"") {
		t.Errorf("a secret in the trail:\n%s", stdout)
	}

	stdout, _, code = runServer(t, runOptions{env: env}, "audit", "--limit", "2")
	if code != 0 || !strings.Contains(stdout, "static-token") || !strings.Contains(stdout, "cli create_vector_backup") ||
		strings.Contains(stdout, "restore_vector_backup") || !strings.Contains(stdout, "TIME (UTC)") {
		t.Errorf("audit --limit 2: exit %d\n%s", code, stdout)
	}
	if _, _, code := runServer(t, runOptions{env: env}, "audit", "--limit", "0"); code != exitUsage {
		t.Errorf("audit --limit 0: exit %d, want %d", code, exitUsage)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestAuditBucket: mcp-server audit reads a bucket's trail: newest first,
// a hostile subject escaped, a file that is no record reported on stderr
// and skipped.
func TestAuditBucket(t *testing.T) {
	t.Parallel()
	u := s3test.NewPrefix(t)
	st := pgtest.OpenStore(t, u)
	trail := audit.New(st)
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	for i, who := range []string{"alice", "evil\x1b[2J\nsubject", "bob"} {
		rec := &audit.Record{Time: at.Add(time.Duration(i) * time.Minute), Who: audit.Who{Subject: who}, Front: "mcp",
			Operation: "restore_vector_backup", Target: "db:5432/vanna", Outcome: audit.OutcomeCommitted}
		if _, err := trail.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.WriteFile(ctx, st, "audit/2026/12/07/20261207T090000.000000000Z-garbage.json", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	env := serverEnv(noDatabase, t.TempDir())
	stdout, stderr, code := runServer(t, runOptions{env: env}, "audit", "--backup-root", u)
	if code != 0 {
		t.Fatalf("audit: exit %d\n%s%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], "bob") || !strings.Contains(lines[3], "alice") {
		t.Errorf("want a header, bob, the hostile subject, alice and a summary:\n%s", stdout)
	}
	if strings.ContainsAny(stdout, "\x1b") || !strings.Contains(stdout, `\x1b[2J\nsubject`) {
		t.Errorf("the hostile subject is not escaped:\n%q", stdout)
	}
	if !strings.Contains(stderr, "skipped audit/2026/12/07/20261207T090000.000000000Z-garbage.json") {
		t.Errorf("the garbage file is not reported:\n%s", stderr)
	}
	stdout, _, code = runServer(t, runOptions{env: env}, "audit", "--backup-root", u, "--json", "--limit", "2")
	if n := strings.Count(stdout, "\n"); code != 0 || n != 2 || !strings.Contains(stdout, `"subject":"bob"`) {
		t.Errorf("audit --json --limit 2: exit %d, %d lines\n%s", code, n, stdout)
	}
}
