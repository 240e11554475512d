//go:build linux

package main

// The built binary over a bucket backup root on the real S3 store of
// scripts/test.sh (SeaweedFS), credentials in the environment only: every
// tool over MCP stdio and every operator command, the start refused with
// wrong credentials or a missing bucket, and a big restore from the bucket
// in flat memory.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/s3test"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const (
	bucketDim      = 8
	bucketTaskPath = "./data_pipeline/training_data/task_20250721_213627/vector_bak"
	bucketTaskTS   = "20250721_215758"
	bucketOldPath  = "./data_pipeline/training_data/vector_bak"
	bucketOldTS    = "20250722_010318"
	bucketGlbPath  = "./data_pipeline/training_data/global_vector_bak"
	bucketGlbTS    = "20250723_000000"
)

// bucketProject is a project whose backup folder, three legacy sets (a
// task's, one in vector_bak, one in global_vector_bak), was copied into a
// fresh bucket prefix as it is. The server is then pointed at the bucket:
// the project's own folder is never read.
type bucketProject struct {
	p       *pgtest.Project
	url     string
	task    *sample.Dataset
	old     *sample.Dataset
	global  *sample.Dataset
	outputs strings.Builder // everything the server said, for the credential check
}

func newBucketProject(t *testing.T) *bucketProject {
	t.Helper()
	b := &bucketProject{p: pgtest.NewProject(t, pgtest.ProjectOptions{Dim: bucketDim}), url: s3test.NewPrefix(t)}
	names := []string{"sql", "ddl", "documentation", "error_sql"}
	b.task = sample.Generate(11, names, 5, bucketDim)
	b.old = sample.Generate(12, names, 3, bucketDim)
	b.global = b.task.Later(13)
	b.p.Write(t, b.task, "task_20250721_213627/vector_bak", bucketTaskTS)
	b.p.Write(t, b.old, "vector_bak", bucketOldTS)
	b.p.Write(t, b.global, "global_vector_bak", bucketGlbTS)
	pgtest.Upload(t, pgtest.OpenStore(t, b.url), b.p.Backups, "")
	// The server must read the bucket, not the local copy.
	if err := os.RemoveAll(b.p.Backups); err != nil {
		t.Fatal(err)
	}
	return b
}

// record keeps a result's text and structured content.
func (b *bucketProject) record(res *mcp.CallToolResult, out map[string]any) {
	js, _ := json.Marshal(out)
	fmt.Fprintf(&b.outputs, "%s\n%s\n", text(res), js)
}

// TestBucketMCP drives every tool of the binary over MCP stdio with an
// s3:// backup root: list with paging, inspect with diff, restore with the
// confirmation token flow (and the token refused on replay), create, the
// manifest and log resources of the new set, and no credential in any
// result or log.
func TestBucketMCP(t *testing.T) {
	t.Parallel()
	b := newBucketProject(t)
	db := b.p.DB
	s := startServer(t, protocols[0], serverOptions{db: db, projectRoot: b.p.Root, args: []string{"--backup-root", b.url}})
	call := func(name string, args map[string]any) (*mcp.CallToolResult, map[string]any) {
		t.Helper()
		res, out := s.call(t, name, args)
		b.record(res, out)
		return res, out
	}

	// list, a set per page.
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		args := map[string]any{"limit": 1}
		if cursor != "" {
			args["cursor"] = cursor
		}
		res, list := call("list_vector_backups", args)
		if res.IsError {
			t.Fatalf("list page %d: %s", page, text(res))
		}
		got = append(got, sets(list)...)
		cursor, _ = list["next_cursor"].(string)
		if cursor == "" || page > 5 {
			break
		}
	}
	want := []string{bucketGlbPath + "@" + bucketGlbTS, bucketOldPath + "@" + bucketOldTS, bucketTaskPath + "@" + bucketTaskTS}
	if !slices.Equal(got, want) {
		t.Errorf("paged list\n got %v\nwant %v", got, want)
	}

	// inspect with diff, the tables empty.
	res, ins := call("inspect_vector_backup", map[string]any{"backup_path": bucketTaskPath, "timestamp": bucketTaskTS, "diff": true, "truncate_before_restore": true})
	if res.IsError || ins["restorable"] != true {
		t.Fatalf("inspect: %s\n%v", text(res), ins)
	}
	diff, _ := ins["diff"].(map[string]any)
	if totals, _ := diff["totals"].(map[string]any); totals["only_in_backup"] != float64(len(b.task.Embeddings)) {
		t.Errorf("diff totals %v, want %d only in the backup", diff["totals"], len(b.task.Embeddings))
	}

	// restore into the empty tables (nothing to approve), in the bucket-
	// relative form of backup_path.
	out := s.restore(t, map[string]any{"backup_path": "task_20250721_213627/vector_bak", "timestamp": "latest"})
	b.record(nil, out)
	pgtest.Compare(t, db, b.task, sample.Default)

	// A truncating restore deletes rows: CONFIRMATION_REQUIRED, then the
	// token, then the token refused on replay.
	args := map[string]any{"backup_path": bucketOldPath, "timestamp": bucketOldTS, "truncate_before_restore": true}
	res, out = call("restore_vector_backup", args)
	token := confirmToken(t, res, out)
	if token == "" {
		t.Fatalf("a truncating restore over rows ran without approval: %v", out)
	}
	pgtest.Compare(t, db, b.task, sample.Default)
	res, out = call("restore_vector_backup", withToken(args, token))
	if res.IsError || out["restore_performed"] != true {
		t.Fatalf("restore with the token: %s", text(res))
	}
	pgtest.Compare(t, db, b.old, sample.Default)
	snap, _ := out["snapshot"].(map[string]any)
	if snap["backup_path"] != bucketGlbPath {
		t.Errorf("snapshot %v, want one in %s", snap, bucketGlbPath)
	}
	res, out = call("restore_vector_backup", withToken(args, token))
	if !res.IsError || out["error_type"] != "INVALID_PARAMS" || out["reason"] != "used" {
		t.Errorf("the spent token again: %v", out)
	}

	// create, then its manifest and log as resources, and inspect verifies it.
	res, made := call("create_vector_backup", map[string]any{})
	if res.IsError || made["backup_performed"] != true || made["backup_directory"] != bucketGlbPath {
		t.Fatalf("create: %s\n%v", text(res), made)
	}
	ts, _ := made["timestamp"].(string)
	res, ins = call("inspect_vector_backup", map[string]any{"backup_path": bucketGlbPath, "timestamp": ts})
	if res.IsError || ins["checksum_status"] != "verified" || ins["restorable"] != true {
		t.Errorf("inspect of the new set: %s\n%v", text(res), ins)
	}
	_, list := call("list_vector_backups", map[string]any{})
	if !slices.Contains(sets(list), bucketGlbPath+"@"+ts) {
		t.Errorf("the new set %s is not listed: %v", ts, sets(list))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rl, err := s.c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range rl.Resources {
		uris = append(uris, r.URI)
	}
	base := "vector-backup://global_vector_bak/" + ts + "/"
	for _, doc := range []string{"manifest", "log"} {
		if !slices.Contains(uris, base+doc) {
			t.Errorf("resources/list lacks %s: %v", base+doc, uris)
			continue
		}
		req := mcp.ReadResourceRequest{}
		req.Params.URI = base + doc
		rr, err := s.c.ReadResource(ctx, req)
		if err != nil || len(rr.Contents) != 1 {
			t.Errorf("read %s: %v", base+doc, err)
			continue
		}
		body := rr.Contents[0].(mcp.TextResourceContents).Text
		b.outputs.WriteString(body)
		if !strings.Contains(body, layout.FileName(layout.EmbeddingTable, ts)) {
			t.Errorf("%s does not name the set's embedding file:\n%s", doc, body)
		}
		if doc == "manifest" {
			var m layout.Manifest
			if err := json.Unmarshal([]byte(body), &m); err != nil || m.Timestamp != ts || m.Kind != layout.KindBackup {
				t.Errorf("manifest %s: %v %+v", base+doc, err, m)
			}
		}
	}

	s3test.NoCredentials(t, "the tools' results", b.outputs.String())
	s3test.NoCredentials(t, "the server's log", s.stderr.String())
	if !strings.Contains(s.stderr.String(), "s3://") {
		t.Logf("the server's log does not name the bucket:\n%s", s.stderr.String())
	}
}

// TestBucketCLI runs the operator commands against an s3:// backup root:
// list (readable, and --json with a cursor), inspect, restore (refused
// without --yes off a terminal, done with it), backup, and a restore of
// the new set; no credential in any output.
func TestBucketCLI(t *testing.T) {
	t.Parallel()
	b := newBucketProject(t)
	db := b.p.DB
	var all strings.Builder
	run := func(code int, args ...string) (string, string) {
		t.Helper()
		args = append(args, "--backup-root", b.url)
		stdout, stderr, got := runServer(t, runOptions{env: serverEnv(db, b.p.Root)}, args...)
		all.WriteString(stdout + stderr)
		if got != code {
			t.Fatalf("mcp-server %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, stdout, stderr)
		}
		return stdout, stderr
	}

	stdout, _ := run(0, "list")
	for _, s := range []string{bucketTaskTS, bucketOldTS, bucketGlbTS, bucketTaskPath, "3 sets in 3 locations"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("list lacks %q:\n%s", s, stdout)
		}
	}
	stdout, _ = run(0, "list", "--json", "--limit", "1")
	m := jsonOut(t, stdout)
	if m["next_cursor"] == nil || m["summary"].(map[string]any)["total_backup_sets"] != 3.0 {
		t.Errorf("list --json --limit 1: %v", m)
	}
	stdout, _ = run(0, "list", "--json", "--limit", "1", "--cursor", m["next_cursor"].(string))
	if got := sets(jsonOut(t, stdout)); !slices.Equal(got, []string{bucketOldPath + "@" + bucketOldTS}) {
		t.Errorf("list's second page: %v", got)
	}

	stdout, _ = run(0, "inspect", "--backup-path", bucketTaskPath, "--timestamp", "latest", "--json")
	if m := jsonOut(t, stdout); m["restorable"] != true {
		t.Errorf("inspect --json: %v", m)
	}
	run(0, "restore", "--backup-path", bucketTaskPath, "--timestamp", bucketTaskTS)
	pgtest.Compare(t, db, b.task, sample.Default)
	before := pgtest.Dump(t, db)
	run(4, "restore", "--backup-path", bucketOldPath, "--timestamp", bucketOldTS, "--truncate-before-restore")
	if pgtest.Dump(t, db) != before {
		t.Error("a restore refused for lack of approval changed the tables")
	}
	stdout, _ = run(0, "restore", "--backup-path", "vector_bak", "--timestamp", bucketOldTS, "--truncate-before-restore", "--yes")
	if !strings.Contains(stdout, "Restored set "+bucketOldTS) {
		t.Errorf("restore --yes:\n%s", stdout)
	}
	pgtest.Compare(t, db, b.old, sample.Default)

	stdout, _ = run(0, "backup", "--json")
	made := jsonOut(t, stdout)
	ts, _ := made["timestamp"].(string)
	if made["backup_performed"] != true || made["backup_directory"] != bucketGlbPath || ts == "" {
		t.Fatalf("backup --json: %v", made)
	}
	run(0, "restore", "--backup-path", bucketTaskPath, "--timestamp", bucketTaskTS, "--truncate-before-restore", "--yes")
	pgtest.Compare(t, db, b.task, sample.Default)
	stdout, _ = run(0, "restore", "--backup-path", bucketGlbPath, "--timestamp", ts, "--truncate-before-restore", "--yes", "--json")
	if m := jsonOut(t, stdout); m["restore_performed"] != true {
		t.Errorf("restore of the new set: %v", m)
	}
	pgtest.Compare(t, db, b.old, sample.Default)

	s3test.NoCredentials(t, "the commands' output", all.String())
}

// TestBucketStartRefused: with a secret the store refuses, the server and
// the commands stop at start with FORBIDDEN naming the bucket and prefix,
// and no credential; with a bucket that does not exist, they stop saying
// so.
func TestBucketStartRefused(t *testing.T) {
	t.Parallel()
	url := s3test.NewPrefix(t)
	bucket := s3test.Bucket(t)
	_, sk := s3test.Credentials(t)
	wrong := "wrong-" + sk[:min(len(sk), 8)] + "-secret"
	root := t.TempDir()
	name := url[:strings.Index(url, "?")] // s3://BUCKET/PREFIX

	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"inspect", "--backup-path", "vector_bak", "--timestamp", "latest"}, {}} {
		what := "mcp-server " + strings.Join(args, " ")
		stdout, stderr, code := runServer(t, runOptions{env: serverEnv(noDatabase, root, "AWS_SECRET_ACCESS_KEY="+wrong), timeout: 60 * time.Second},
			append(args, "--backup-root", url)...)
		if code == 0 {
			t.Errorf("%s with a wrong secret: exit 0\nstdout:\n%s\nstderr:\n%s", what, stdout, stderr)
		}
		for _, s := range []string{"FORBIDDEN", "access denied", name} {
			if !strings.Contains(stdout+stderr, s) {
				t.Errorf("%s with a wrong secret: output lacks %q\nstdout:\n%s\nstderr:\n%s", what, s, stdout, stderr)
			}
		}
		s3test.NoCredentials(t, what+" with a wrong secret", stdout+stderr, wrong)
	}

	missing := strings.Replace(url, "s3://"+bucket+"/", "s3://no-such-bucket-4711/", 1)
	for _, args := range [][]string{{"list"}, {}} {
		what := "mcp-server " + strings.Join(args, " ")
		stdout, stderr, code := runServer(t, runOptions{env: serverEnv(noDatabase, root), timeout: 60 * time.Second}, append(args, "--backup-root", missing)...)
		if code == 0 {
			t.Errorf("%s on a missing bucket: exit 0\nstderr:\n%s", what, stderr)
		}
		for _, s := range []string{"no-such-bucket-4711", "does not exist"} {
			if !strings.Contains(stdout+stderr, s) {
				t.Errorf("%s on a missing bucket: output lacks %q\nstdout:\n%s\nstderr:\n%s", what, s, stdout, stderr)
			}
		}
		s3test.NoCredentials(t, what+" on a missing bucket", stdout+stderr)
	}
}

// TestBucketMemoryFlat restores a set of about 100 MB from the bucket and,
// for comparison, the same set from a folder, each through its own server:
// the bucket's restore peaks no higher than the folder's, give or take a
// few MB of the SDK: nothing is staged in memory.
func TestBucketMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes, uploads and restores 100 MB")
	}
	t.Parallel()
	const ts = "20250801_000000"
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 4})
	rows := pgtest.WriteBigSet(t, filepath.Join(p.Backups, "global_vector_bak"), ts, 4, 100<<20)
	url := s3test.NewPrefix(t)
	start := time.Now()
	pgtest.Upload(t, pgtest.OpenStore(t, url), p.Backups, "")
	t.Logf("%d rows uploaded in %v", rows, time.Since(start))

	restore := func(what, db string, args ...string) int64 {
		t.Helper()
		s := startServer(t, protocols[0], serverOptions{db: db, projectRoot: p.Root, args: append([]string{"--confirm", "none"}, args...)})
		idle := peakRSS(t, s.cmd.Process.Pid)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, out, err := s.callTool(ctx, t, "restore_vector_backup", map[string]any{
			"backup_path": bucketGlbPath, "timestamp": ts, "truncate_before_restore": true, "snapshot": false,
		}, nil)
		if err != nil || res.IsError {
			t.Fatalf("restore from the %s: %v %s", what, err, text(res))
		}
		emb := out["restore_results"].(map[string]any)[layout.EmbeddingTable].(map[string]any)
		if emb["rows_restored"] != float64(rows) {
			t.Errorf("restore from the %s: %v rows, want %d", what, emb["rows_restored"], rows)
		}
		peak := peakRSS(t, s.cmd.Process.Pid)
		t.Logf("restore from the %s: %v; peak RSS %d MB (%d MB at start)", what, time.Since(start).Round(time.Millisecond), peak>>20, idle>>20)
		return peak
	}
	folder := restore("folder", p.DB)
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(4))
	bucket := restore("bucket", db, "--backup-root", url)
	if bucket > folder+24<<20 {
		t.Errorf("peak RSS restoring from the bucket %d MB, from a folder %d MB: the bucket's restore holds more of the set in memory", bucket>>20, folder>>20)
	}
}
