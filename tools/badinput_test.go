package tools_test

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const (
	setDir  = "./data_pipeline/training_data/vector_bak"
	setTime = "20250720_080000"
)

// badCase is one call with bad arguments and what its error must say.
type badCase struct {
	name    string
	tool    string
	args    map[string]any
	errType string   // error_type
	param   string   // structured "param", when the error is about one argument
	missing []string // structured "missing_params", for MISSING_REQUIRED_PARAMS
	hint    string   // the text must contain this (case-insensitive)
	secret  string   // must appear nowhere in the result
}

// restoreArgs returns valid restore arguments with extra set (nil deletes).
func restoreArgs(extra map[string]any) map[string]any {
	return cfArgs(map[string]any{"backup_path": setDir, "timestamp": setTime}, extra)
}

// guidance matches a message that tells the caller what to do next.
var guidance = regexp.MustCompile(`(?i)\b(use|give|call again|list again|list the backups|omit|pass|ask the operator|see the tool|takes only|must|e\.g\.|expected|newest)\b|allowed: `)

// TestBadInput calls the tools with bad arguments against a database that
// holds a restored set, and checks every answer is a well-formed error that
// names the problem, validates against the published output schema, says what
// to do, and leaves the tables exactly as they were.
func TestBadInput(t *testing.T) {
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 12})
	db := p.DB
	seed := sample.Generate(21, []string{"sql", "ddl", "documentation"}, 6, 12)
	p.Write(t, seed, "vector_bak", setTime)
	p.Write(t, seed, "task_20250721_213627/vector_bak", "20250721_215758")

	// A restorable set outside the backup root, reachable by an absolute
	// path and through a symlink inside the root.
	outside := t.TempDir()
	if err := seed.WriteLegacy(filepath.Join(outside, "vector_bak"), setTime, sample.Default); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(p.Backups, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(p.Backups, "task_link"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "vector_bak"), filepath.Join(p.Backups, "task_link", "vector_bak")); err != nil {
		t.Fatal(err)
	}

	const list, restore = "list_vector_backups", "restore_vector_backup"
	// A cursor of the format before list pages went newest first across
	// locations: not one this server returns any more.
	oldCursor := base64.RawURLEncoding.EncodeToString([]byte(`{"p":"./data_pipeline/training_data/vector_bak","t":"20990101_000000"}`))
	cases := []badCase{
		// Required arguments.
		{name: "missing backup_path", tool: restore, args: restoreArgs(map[string]any{"backup_path": nil}), errType: "MISSING_REQUIRED_PARAMS", missing: []string{"backup_path"}, hint: "backup_path"},
		{name: "missing timestamp", tool: restore, args: restoreArgs(map[string]any{"timestamp": nil}), errType: "MISSING_REQUIRED_PARAMS", missing: []string{"timestamp"}, hint: "timestamp"},
		{name: "missing both", tool: restore, args: map[string]any{}, errType: "MISSING_REQUIRED_PARAMS", missing: []string{"backup_path", "timestamp"}, hint: "call again"},
		{name: "missing both with options", tool: restore, args: map[string]any{"truncate_before_restore": true, "tables": []string{"langchain_pg_embedding"}}, errType: "MISSING_REQUIRED_PARAMS", missing: []string{"backup_path", "timestamp"}},

		// Wrong types, for every argument.
		{name: "backup_path number", tool: restore, args: restoreArgs(map[string]any{"backup_path": 42}), errType: "INVALID_PARAMS", param: "backup_path"},
		{name: "timestamp bool", tool: restore, args: restoreArgs(map[string]any{"timestamp": true}), errType: "INVALID_PARAMS", param: "timestamp"},
		{name: "tables string", tool: restore, args: restoreArgs(map[string]any{"tables": "langchain_pg_embedding"}), errType: "INVALID_PARAMS", param: "tables"},
		{name: "truncate string", tool: restore, args: restoreArgs(map[string]any{"truncate_before_restore": "true"}), errType: "INVALID_PARAMS", param: "truncate_before_restore"},
		{name: "db_connection object", tool: restore, args: restoreArgs(map[string]any{"db_connection": map[string]any{"host": "10.1.2.3", "password": "secret"}}), errType: "INVALID_PARAMS", param: "db_connection", secret: "secret"},
		{name: "pg_conn number", tool: restore, args: restoreArgs(map[string]any{"pg_conn": 5432}), errType: "INVALID_PARAMS", param: "pg_conn"},
		{name: "backup_path array", tool: restore, args: restoreArgs(map[string]any{"backup_path": []any{}}), errType: "INVALID_PARAMS", param: "backup_path"},

		// Unknown names.
		{name: "unknown argument", tool: restore, args: restoreArgs(map[string]any{"force": true}), errType: "INVALID_PARAMS", param: "force", hint: "takes only"},
		{name: "misspelt argument", tool: restore, args: restoreArgs(map[string]any{"truncate": true}), errType: "INVALID_PARAMS", param: "truncate", hint: "truncate_before_restore"},

		// Timestamps.
		{name: "timestamp date only", tool: restore, args: restoreArgs(map[string]any{"timestamp": "2025-07-21"}), errType: "INVALID_PARAMS", param: "timestamp"},
		{name: "timestamp without underscore", tool: restore, args: restoreArgs(map[string]any{"timestamp": "20250721215758"}), errType: "INVALID_PARAMS", param: "timestamp"},
		{name: "timestamp empty", tool: restore, args: restoreArgs(map[string]any{"timestamp": ""}), errType: "INVALID_PARAMS", param: "timestamp"},
		{name: "timestamp Latest", tool: restore, args: restoreArgs(map[string]any{"timestamp": "LATEST"}), errType: "INVALID_PARAMS", param: "timestamp"},
		{name: "impossible date", tool: restore, args: restoreArgs(map[string]any{"timestamp": "20251340_256199"}), errType: "INVALID_PARAMS", param: "timestamp", hint: "YYYYMMDD_HHMMSS"},
		{name: "february 30", tool: restore, args: restoreArgs(map[string]any{"timestamp": "20250230_120000"}), errType: "INVALID_PARAMS", param: "timestamp"},
		{name: "no such set", tool: restore, args: restoreArgs(map[string]any{"timestamp": "20240101_000000"}), errType: "RESOURCE_NOT_FOUND", param: "timestamp", hint: setTime},
		{name: "no such set in task", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/task_20250721_213627/vector_bak"}), errType: "RESOURCE_NOT_FOUND", param: "timestamp", hint: "20250721_215758"},

		// Tables.
		{name: "unknown table", tool: restore, args: restoreArgs(map[string]any{"tables": []string{"users"}}), errType: "INVALID_PARAMS", param: "tables"},
		{name: "table shaped like SQL", tool: restore, args: restoreArgs(map[string]any{"tables": []string{"langchain_pg_embedding; DROP TABLE x"}}), errType: "INVALID_PARAMS", param: "tables"},
		{name: "tables empty", tool: restore, args: restoreArgs(map[string]any{"tables": []string{}}), errType: "INVALID_PARAMS", param: "tables"},
		{name: "tables repeated", tool: restore, args: restoreArgs(map[string]any{"tables": []string{"langchain_pg_embedding", "langchain_pg_embedding"}}), errType: "INVALID_PARAMS", param: "tables"},
		{name: "table not a string", tool: restore, args: restoreArgs(map[string]any{"tables": []any{1}}), errType: "INVALID_PARAMS", param: "tables"},

		// Paths.
		{name: "dotdot out of the root", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/../../etc"}), errType: "FORBIDDEN", param: "backup_path", hint: "backup root"},
		{name: "dotdot to the project root", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak/../../../"}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "dotdot to a sibling", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/../training_data_evil/vector_bak"}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "absolute /etc", tool: restore, args: restoreArgs(map[string]any{"backup_path": "/etc"}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "absolute other dir with a set", tool: restore, args: restoreArgs(map[string]any{"backup_path": filepath.Join(outside, "vector_bak")}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "absolute dotdot out of the root", tool: restore, args: restoreArgs(map[string]any{"backup_path": filepath.Join(p.Backups, "vector_bak") + "/../../.."}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "symlink out of the root", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/escape/vector_bak"}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "symlink out of the root itself", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/escape"}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "symlink out to a missing folder", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/escape/nope/vector_bak"}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "task vector_bak symlinked out", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/task_link/vector_bak"}), errType: "FORBIDDEN", param: "backup_path"},
		{name: "missing folder", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/task_nope/vector_bak"}), errType: "RESOURCE_NOT_FOUND", param: "backup_path", hint: "list the backups"},
		{name: "percent-encoded dots are a name", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/%2e%2e/%2e%2e/etc"}), errType: "RESOURCE_NOT_FOUND", param: "backup_path"},
		{name: "NUL in path", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak\x00/../../../etc"}), errType: "INVALID_PARAMS", param: "backup_path"},
		{name: "empty path", tool: restore, args: restoreArgs(map[string]any{"backup_path": ""}), errType: "INVALID_PARAMS", param: "backup_path"},
		{name: "blank path", tool: restore, args: restoreArgs(map[string]any{"backup_path": "   "}), errType: "INVALID_PARAMS", param: "backup_path", hint: "vector_bak"},
		{name: "path is a file", tool: restore, args: restoreArgs(map[string]any{"backup_path": setDir + "/langchain_pg_collection_" + setTime + ".csv"}), errType: "INVALID_PARAMS", param: "backup_path", hint: "folder"},
		{name: "path too long", tool: restore, args: restoreArgs(map[string]any{"backup_path": "./" + strings.Repeat("a/", 2100)}), errType: "INVALID_PARAMS", param: "backup_path"},

		// Connections: nothing is allowed on this server.
		{name: "db_connection not allowed", tool: restore, args: restoreArgs(map[string]any{"db_connection": "postgresql://u:secret@10.1.2.3:5432/x"}), errType: "FORBIDDEN", param: "db_connection", hint: "omit it", secret: "secret"},
		{name: "pg_conn not allowed", tool: restore, args: restoreArgs(map[string]any{"pg_conn": "postgresql://u:secret@10.1.2.3:5432/x"}), errType: "FORBIDDEN", hint: "omit it", secret: "secret"},
		{name: "db_connection keyword not allowed", tool: restore, args: restoreArgs(map[string]any{"db_connection": "host=10.1.2.3 user=u password=secret dbname=x"}), errType: "FORBIDDEN", param: "db_connection", secret: "secret"},
		{name: "db_connection names the server's own host", tool: restore, args: restoreArgs(map[string]any{"db_connection": "postgresql://u:secret@127.0.0.1:55432/postgres"}), errType: "FORBIDDEN", param: "db_connection", secret: "secret"},
		{name: "db_connection and pg_conn differ", tool: restore, args: restoreArgs(map[string]any{"db_connection": "postgresql://u:secret@10.1.2.3/x", "pg_conn": "postgresql://u:secret@10.1.2.4/y"}), errType: "INVALID_PARAMS", hint: "pass only db_connection", secret: "secret"},
		{name: "db_connection malformed escape", tool: restore, args: restoreArgs(map[string]any{"db_connection": "postgresql://u:pa%ss@host/db"}), errType: "INVALID_PARAMS", param: "db_connection", secret: "pa%ss"},
		{name: "db_connection bad port", tool: restore, args: restoreArgs(map[string]any{"db_connection": "postgresql://u:secret@host:99999/db"}), errType: "INVALID_PARAMS", param: "db_connection", secret: "secret"},
		{name: "db_connection too long", tool: restore, args: restoreArgs(map[string]any{"db_connection": "postgresql://u:secret@h/" + strings.Repeat("x", 5000)}), errType: "INVALID_PARAMS", param: "db_connection", secret: "secret"},

		// list_vector_backups.
		{name: "limit 0", tool: list, args: map[string]any{"limit": 0}, errType: "INVALID_PARAMS", param: "limit"},
		{name: "limit 1001", tool: list, args: map[string]any{"limit": 1001}, errType: "INVALID_PARAMS", param: "limit"},
		{name: "limit negative", tool: list, args: map[string]any{"limit": -1}, errType: "INVALID_PARAMS", param: "limit"},
		{name: "limit string", tool: list, args: map[string]any{"limit": "5"}, errType: "INVALID_PARAMS", param: "limit"},
		{name: "limit fractional", tool: list, args: map[string]any{"limit": 2.5}, errType: "INVALID_PARAMS", param: "limit"},
		{name: "limit huge", tool: list, args: map[string]any{"limit": 1e300}, errType: "INVALID_PARAMS", param: "limit"},
		{name: "task_id with slash", tool: list, args: map[string]any{"task_id": "task_1/vector_bak"}, errType: "INVALID_PARAMS", param: "task_id"},
		{name: "task_id dotdot slash", tool: list, args: map[string]any{"task_id": "../etc"}, errType: "INVALID_PARAMS", param: "task_id"},
		{name: "task_id dotdot", tool: list, args: map[string]any{"task_id": ".."}, errType: "INVALID_PARAMS", param: "task_id", hint: "task_20250721_213627"},
		{name: "task_id dot", tool: list, args: map[string]any{"task_id": "."}, errType: "INVALID_PARAMS", param: "task_id"},
		{name: "task_id backslash", tool: list, args: map[string]any{"task_id": `..\etc`}, errType: "INVALID_PARAMS", param: "task_id"},
		{name: "task_id empty", tool: list, args: map[string]any{"task_id": ""}, errType: "INVALID_PARAMS", param: "task_id"},
		{name: "task_id NUL", tool: list, args: map[string]any{"task_id": "task\x00"}, errType: "INVALID_PARAMS", param: "task_id"},
		{name: "global_only string", tool: list, args: map[string]any{"global_only": "yes"}, errType: "INVALID_PARAMS", param: "global_only"},
		{name: "list unknown argument", tool: list, args: map[string]any{"backup_path": setDir}, errType: "INVALID_PARAMS", param: "backup_path", hint: "takes only"},
		{name: "garbage cursor", tool: list, args: map[string]any{"cursor": "!!not-a-cursor!!"}, errType: "INVALID_PARAMS", param: "cursor", hint: "next_cursor"},
		{name: "cursor of valid base64 garbage", tool: list, args: map[string]any{"cursor": base64.RawURLEncoding.EncodeToString([]byte(`{"p":1}`))}, errType: "INVALID_PARAMS", param: "cursor"},
		{name: "cursor of the old format", tool: list, args: map[string]any{"cursor": oldCursor}, errType: "INVALID_PARAMS", param: "cursor", hint: "omit it"},
		{name: "cursor number", tool: list, args: map[string]any{"cursor": 7}, errType: "INVALID_PARAMS", param: "cursor"},
	}

	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			c := connect(t, p, serverConfig{db: db}, protocol)
			schemasByTool := outputSchemas(t, c)
			if res, out := call(t, c, restore, restoreArgs(map[string]any{"truncate_before_restore": true})); res.IsError || out["restore_performed"] != true {
				t.Fatalf("seed restore failed: %s", text(res))
			}
			pgtest.Compare(t, db, seed, sample.Default)
			before := pgtest.Dump(t, db)

			for _, bc := range cases {
				t.Run(bc.name, func(t *testing.T) {
					res, out := call(t, c, bc.tool, bc.args)
					checkError(t, bc, res, out)
					validate(t, schemasByTool[bc.tool], out)
					if after := pgtest.Dump(t, db); after != before {
						t.Errorf("the tables changed")
					}
				})
			}
		})
	}
}

// checkError checks an error result against bc.
func checkError(t *testing.T, bc badCase, res *mcp.CallToolResult, out map[string]any) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("isError false; result %v", out)
	}
	if out["error_type"] != bc.errType {
		t.Errorf("error_type %v, want %s (%s)", out["error_type"], bc.errType, text(res))
	}
	msg, _ := out["message"].(string)
	if msg == "" {
		t.Errorf("no message in %v", out)
	}
	if bc.param != "" && out["param"] != bc.param {
		t.Errorf("param %v, want %s (%s)", out["param"], bc.param, msg)
	}
	if bc.missing != nil {
		var got []string
		raw, _ := out["missing_params"].([]any)
		for _, m := range raw {
			s, _ := m.(string)
			got = append(got, s)
		}
		sort.Strings(got)
		want := slices.Clone(bc.missing)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("missing_params %v, want %v", out["missing_params"], bc.missing)
		}
	}
	txt := text(res)
	if strings.TrimSpace(txt) == "" {
		t.Errorf("no text content")
	}
	if !strings.Contains(txt, msg) {
		t.Errorf("text %q does not carry the message %q", txt, msg)
	}
	if bc.hint != "" && !strings.Contains(strings.ToLower(txt), strings.ToLower(bc.hint)) {
		t.Errorf("text %q does not mention %q", txt, bc.hint)
	}
	if !guidance.MatchString(txt) {
		t.Errorf("text %q does not say what to do next", txt)
	}
	if bc.secret != "" {
		whole, _ := json.Marshal(res)
		if strings.Contains(string(whole), bc.secret) || strings.Contains(txt, bc.secret) {
			t.Errorf("the result carries %q: %s", bc.secret, whole)
		}
	}
}

// withPassword returns dbURL with user postgres and password pw (the test
// server trusts local connections and ignores it), and the database's name.
func withPassword(t *testing.T, dbURL, pw string) (string, string, *url.URL) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", pw)
	return u.String(), strings.TrimPrefix(u.Path, "/"), u
}

// TestRestoreToAllowedDatabase restores into a second database named by
// db_connection (or pg_conn) when the operator allowed it: the rows land
// there, the server's database is untouched, and the password shows nowhere.
func TestRestoreToAllowedDatabase(t *testing.T) {
	for _, v := range []struct {
		name    string
		pattern func(host, port, db string) string
		arg     string
	}{
		{"exact", func(h, p, d string) string { return h + ":" + p + "/" + d }, "db_connection"},
		{"wildcard database", func(h, _, _ string) string { return h + "/*" }, "db_connection"},
		{"pg_conn alias", func(h, p, d string) string { return h + ":" + p + "/" + d }, "pg_conn"},
		{"both names agreeing", func(h, p, d string) string { return h + ":" + p + "/" + d }, "both"},
	} {
		t.Run(v.name, func(t *testing.T) {
			db1 := pgtest.NewDatabase(t)
			db2 := pgtest.NewDatabase(t)
			pgtest.Exec(t, db1, sample.Default.DDL(12))
			pgtest.Exec(t, db2, sample.Default.DDL(12))
			p := newProject(t)
			old := sample.Generate(31, []string{"sql", "ddl"}, 5, 12)
			want := sample.Generate(32, []string{"sql", "ddl", "documentation", "error_sql"}, 7, 12)
			p.Write(t, old, "vector_bak", setTime)
			p.Write(t, want, "task_20250721_213627/vector_bak", "20250721_215758")

			target, name, u := withPassword(t, db2, "hunter2")
			c := connect(t, p, serverConfig{db: db1, allow: []string{v.pattern(u.Hostname(), u.Port(), name)}}, protocols[0])
			schemasByTool := outputSchemas(t, c)
			if res, _ := call(t, c, "restore_vector_backup", restoreArgs(nil)); res.IsError {
				t.Fatalf("seed restore: %s", text(res))
			}
			before1 := pgtest.Dump(t, db1)

			args := map[string]any{
				"backup_path":             "./data_pipeline/training_data/task_20250721_213627/vector_bak",
				"timestamp":               "latest",
				"truncate_before_restore": true,
			}
			switch v.arg {
			case "both":
				args["db_connection"], args["pg_conn"] = target, target
			default:
				args[v.arg] = target
			}
			res, out := call(t, c, "restore_vector_backup", args)
			if res.IsError {
				t.Fatalf("restore into the allowed database: %s", text(res))
			}
			validate(t, schemasByTool["restore_vector_backup"], out)
			pgtest.Compare(t, db2, want, sample.Default)
			if after := pgtest.Dump(t, db1); after != before1 {
				t.Errorf("the server's own database changed")
			}
			if wantTarget := net.JoinHostPort(u.Hostname(), u.Port()) + "/" + name; out["target"] != wantTarget {
				t.Errorf("target %v, want %s", out["target"], wantTarget)
			}
			whole, _ := json.Marshal(res)
			if strings.Contains(string(whole), "hunter2") {
				t.Errorf("the result carries the password: %s", whole)
			}
		})
	}
}

// TestRestoreConnectionRefusedBeforeDialing: with the operator allowing one
// host, a request that also names another one (a libpq fallback host), or
// another database on the allowed server, is FORBIDDEN before anything is
// dialled, and nothing changes anywhere.
func TestRestoreConnectionRefusedBeforeDialing(t *testing.T) {
	db1 := pgtest.NewDatabase(t)
	db2 := pgtest.NewDatabase(t)
	pgtest.Exec(t, db1, sample.Default.DDL(12))
	pgtest.Exec(t, db2, sample.Default.DDL(12))
	p := newProject(t)
	seed := sample.Generate(41, []string{"sql", "ddl"}, 5, 12)
	p.Write(t, seed, "vector_bak", setTime)
	_, name2, u := withPassword(t, db2, "hunter2")
	_, name1, _ := withPassword(t, db1, "hunter2")

	// A listener stands in for the allowed first host: any dial shows.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var dialled atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			conn.Close()
		}
	}()
	lport := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	for _, v := range []struct {
		name, allow, conn string
	}{
		{"keyword fallback host", "127.0.0.1/*", "host=127.0.0.1,10.9.9.9 port=" + lport + ",5432 dbname=" + name2 + " user=postgres password=hunter2 sslmode=disable"},
		{"URL fallback host", "127.0.0.1/*", "postgresql://postgres:hunter2@127.0.0.1:" + lport + ",10.9.9.9:5432/" + name2 + "?sslmode=disable"},
		{"fallback on a disallowed port", "127.0.0.1:" + lport + "/*", "host=127.0.0.1,127.0.0.1 port=" + lport + "," + u.Port() + " dbname=" + name2 + " user=postgres password=hunter2"},
		{"other database on the allowed server", "127.0.0.1:" + u.Port() + "/" + name2, "postgresql://postgres:hunter2@127.0.0.1:" + u.Port() + "/" + name1 + "?sslmode=disable"},
	} {
		t.Run(v.name, func(t *testing.T) {
			c := connect(t, p, serverConfig{db: db1, allow: []string{v.allow}}, protocols[0])
			schemasByTool := outputSchemas(t, c)
			if res, _ := call(t, c, "restore_vector_backup", restoreArgs(map[string]any{"truncate_before_restore": true})); res.IsError {
				t.Fatalf("seed restore: %s", text(res))
			}
			before1, before2 := pgtest.Dump(t, db1), pgtest.Dump(t, db2)
			dialled.Store(0)

			bc := badCase{errType: "FORBIDDEN", param: "db_connection", hint: "not allowed", secret: "hunter2"}
			res, out := call(t, c, "restore_vector_backup", restoreArgs(map[string]any{"db_connection": v.conn, "truncate_before_restore": true}))
			checkError(t, bc, res, out)
			validate(t, schemasByTool["restore_vector_backup"], out)
			if n := dialled.Load(); n != 0 {
				t.Errorf("the server dialled the allowed host %d time(s) before refusing", n)
			}
			if pgtest.Dump(t, db1) != before1 || pgtest.Dump(t, db2) != before2 {
				t.Errorf("a database changed")
			}
		})
	}
}
