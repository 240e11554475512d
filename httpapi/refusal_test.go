package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const (
	list    = "/api/v0/data_pipeline/vector/restore/list"
	restore = "/api/v0/data_pipeline/vector/restore"
	backup  = "/api/v0/data_pipeline/vector/backup"
)

// TestRefusals sends every kind of request the server must turn away, and
// checks each answer (status, the old envelope and messages, the error type
// and what the response says), then that nothing changed: the tables are
// byte for byte as before and no set was written.
func TestRefusals(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.call(t, "POST", restore, restoreBody(taskPath, taskTS, `"truncate_before_restore": true`)).ok(t, "Vector表恢复完成")
	before := pgtest.Dump(t, r.db)
	const password = "pa55-w0rd-never-shown"
	foreign := fmt.Sprintf("postgresql://user:%s@db.elsewhere:5432/target_db", password)

	type refusal struct {
		name                  string
		method, path, body    string
		headers               []string
		status                int
		message, errType      string
		subs                  []string
		param                 string // the data's param, when the error names one
		notInAnswer           string
		chunked, contentLen64 bool
	}
	cases := []refusal{
		{name: "missing arguments", method: "POST", path: restore, body: `{}`, status: 400, message: "请求参数错误", errType: "MISSING_REQUIRED_PARAMS",
			subs: []string{"缺少必需参数: backup_path, timestamp"}},
		{name: "a browser form post", method: "POST", path: restore, body: "backup_path=" + globalPath + "&timestamp=" + globalTS + "&truncate_before_restore=true",
			headers: []string{"Content-Type: application/x-www-form-urlencoded"}, status: 400, message: "请求参数错误", errType: "MISSING_REQUIRED_PARAMS"},
		{name: "JSON sent as text/plain", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"truncate_before_restore": true`),
			headers: []string{"Content-Type: text/plain"}, status: 400, message: "请求参数错误", errType: "MISSING_REQUIRED_PARAMS"},
		{name: "broken JSON", method: "POST", path: restore, body: `{"backup_path": "x",`, status: 400, message: "请求参数错误", errType: "INVALID_PARAMS",
			subs: []string{"not valid JSON"}, param: "body"},
		{name: "a JSON array", method: "POST", path: restore, body: `[]`, status: 400, message: "请求参数错误", errType: "INVALID_PARAMS"},
		{name: "a typo that would append instead of replace", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"truncate": true`),
			status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", subs: []string{"unknown argument(s) truncate", "truncate_before_restore"}, param: "truncate"},
		{name: "a wrong type", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"truncate_before_restore": "yes"`),
			status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", subs: []string{"truncate_before_restore"}, param: "truncate_before_restore"},
		{name: "an unknown table", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"tables": ["users"]`),
			status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", param: "tables"},
		{name: "a folder that does not exist", method: "POST", path: restore, body: restoreBody("./data_pipeline/training_data/nonexistent", "20250722_010318", ""),
			status: 404, message: "资源未找到", errType: "RESOURCE_NOT_FOUND", subs: []string{"备份目录不存在: ./data_pipeline/training_data/nonexistent"}, param: "backup_path"},
		{name: "a set that does not exist", method: "POST", path: restore, body: restoreBody(globalPath, "20250722_235959", ""),
			status: 404, message: "资源未找到", errType: "RESOURCE_NOT_FOUND",
			subs: []string{"备份文件不存在: ./data_pipeline/training_data/vector_bak/langchain_pg_collection_20250722_235959.csv"}, param: "timestamp"},
		{name: "a path out of the backup root", method: "POST", path: restore, body: restoreBody("./data_pipeline/../../../etc", globalTS, ""),
			status: 403, message: "禁止访问", errType: "FORBIDDEN", subs: []string{"inside the backup root"}, param: "backup_path"},
		{name: "a database the operator did not allow", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, fmt.Sprintf(`"db_connection": %q`, foreign)),
			status: 403, message: "禁止访问", errType: "FORBIDDEN", subs: []string{"db.elsewhere:5432/target_db"}, param: "db_connection", notInAnswer: password},
		{name: "the same through pg_conn", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, fmt.Sprintf(`"pg_conn": %q`, foreign)),
			status: 403, message: "禁止访问", errType: "FORBIDDEN", param: "pg_conn", notInAnswer: password},
		{name: "a confirmation token", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"confirm_token": "vbc1.x"`),
			status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", subs: []string{"drop confirm_token"}, param: "confirm_token"},
		{name: "a body over the limit", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"collections": ["`+strings.Repeat("x", 2<<20)+`"]`),
			status: 413, message: "请求体过大", errType: "INVALID_PARAMS"},
		{name: "a chunked body over the limit", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"collections": ["`+strings.Repeat("x", 2<<20)+`"]`),
			chunked: true, status: 413, message: "请求体过大", errType: "INVALID_PARAMS"},
		{name: "GET on restore", method: "GET", path: restore, status: 405, message: "请求方法不允许", errType: "INVALID_PARAMS", subs: []string{"POST"}},
		{name: "POST on list", method: "POST", path: list, body: `{}`, status: 405, message: "请求方法不允许", errType: "INVALID_PARAMS"},
		{name: "an unknown endpoint", method: "GET", path: "/api/v0/data_pipeline/vector/restores", status: 404, message: "资源未找到", errType: "RESOURCE_NOT_FOUND",
			subs: []string{"no such endpoint"}},
		{name: "list: not a boolean", method: "GET", path: list + "?global_only=maybe", status: 400, message: "请求参数错误", errType: "INVALID_PARAMS",
			subs: []string{"global_only"}, param: "global_only"},
		{name: "list: an unknown parameter", method: "GET", path: list + "?globalonly=true", status: 400, message: "请求参数错误", errType: "INVALID_PARAMS",
			subs: []string{"globalonly"}, param: "globalonly"},
		{name: "list: a task_id that is a path", method: "GET", path: list + "?task_id=../etc", status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", param: "task_id"},
		{name: "list: a parameter twice", method: "GET", path: list + "?task_id=a&task_id=b", status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", param: "task_id"},
		{name: "a page rebound to 127.0.0.1 (Host)", method: "GET", path: list, headers: []string{"Host: attacker.example:8084"},
			status: 403, message: "禁止访问", errType: "FORBIDDEN", subs: []string{"loopback"}},
		{name: "another origin on restore", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"truncate_before_restore": true`),
			headers: []string{"Origin: http://attacker.example"}, status: 403, message: "禁止访问", errType: "FORBIDDEN", subs: []string{"--allow-origin"}},
		{name: "another origin on list", method: "GET", path: list, headers: []string{"Origin: http://attacker.example"}, status: 403, message: "禁止访问", errType: "FORBIDDEN"},
		{name: "another origin on health", method: "GET", path: "/health", headers: []string{"Origin: http://attacker.example"}, status: 403, message: "禁止访问", errType: "FORBIDDEN"},
		{name: "another origin on MCP", method: "POST", path: "/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			headers: []string{"Origin: http://attacker.example"}, status: 403, message: "禁止访问", errType: "FORBIDDEN"},
		{name: "the null origin", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, ""), headers: []string{"Origin: null"},
			status: 403, message: "禁止访问", errType: "FORBIDDEN"},
		{name: "backup: truncate_vector_tables", method: "POST", path: backup, body: `{"truncate_vector_tables": true}`,
			status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", subs: []string{"never empties tables"}, param: "truncate_vector_tables"},
		{name: "backup: a task folder that does not exist", method: "POST", path: backup, body: `{"task_id": "task_20991231_000000"}`,
			status: 404, message: "资源未找到", errType: "RESOURCE_NOT_FOUND", subs: []string{"指定的任务目录不存在: task_20991231_000000"}, param: "task_id"},
		{name: "backup: an unknown field", method: "POST", path: backup, body: `{"taskid": "x"}`, status: 400, message: "请求参数错误", errType: "INVALID_PARAMS", param: "taskid"},
		// All or nothing: the old service answered "partly done" with 200.
		{name: "an append whose rows exist", method: "POST", path: restore, body: restoreBody(taskPath, taskTS, ""),
			status: 409, message: "请求冲突", errType: "CONFLICT", subs: []string{"rolled back", "truncate_before_restore=true"}},
		{name: "an append whose collections exist", method: "POST", path: restore, body: restoreBody(globalPath, globalTS, `"tables": ["langchain_pg_collection"]`),
			status: 409, message: "请求冲突", errType: "CONFLICT", subs: []string{"rolled back"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a answer
			if c.chunked {
				a = r.chunked(t, c.path, c.body)
			} else {
				a = r.call(t, c.method, c.path, c.body, c.headers...)
			}
			a.refused(t, c.status, c.message, c.errType, c.subs...)
			if c.param != "" && a.data["param"] != c.param {
				t.Errorf("param %v, want %s", a.data["param"], c.param)
			}
			if c.notInAnswer != "" && strings.Contains(a.raw, c.notInAnswer) {
				t.Errorf("the answer shows %q: %s", c.notInAnswer, a.raw)
			}
			if a.data["timestamp"] == nil {
				t.Errorf("no timestamp: %s", a.raw)
			}
		})
	}
	if got := pgtest.Dump(t, r.db); got != before {
		t.Errorf("a refused request changed the tables")
	}
	if snaps := r.snapshots(t); len(snaps) != 0 {
		t.Errorf("refused requests wrote files: %v", snaps)
	}
	if strings.Contains(r.logs.String(), password) {
		t.Errorf("the log shows a password")
	}
	// The missing-arguments answer names them as the old service did.
	a := r.call(t, "POST", restore, `{"timestamp": "20250722_010318"}`)
	if got := fmt.Sprint(a.data["missing_params"]); got != "[backup_path]" {
		t.Errorf("missing_params %s", got)
	}
}

// chunked posts body without a Content-Length, so only reading it can find
// it too large.
func (r *rig) chunked(t *testing.T, path, body string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", r.url+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if len(res.TransferEncoding) == 0 && res.Request.ContentLength != -1 {
		t.Fatalf("the request was not chunked")
	}
	return decode(t, res, b)
}

// TestTokenAndOrigins serves with a bearer token and an allowed origin:
// every route but /health wants the token, compared exactly; the server's
// own origin and the allowed one pass, others do not; nothing changes for a
// refused call.
func TestTokenAndOrigins(t *testing.T) {
	const token = "4f2b9c-the-operators-token"
	r := newRig(t, rigOptions{opts: httpapiOptions(token, "https://console.example.com")})
	bearer := "Authorization: Bearer " + token
	before := pgtest.Dump(t, r.db)

	for _, c := range []struct {
		name    string
		headers []string
	}{
		{"no header", nil},
		{"a wrong token", []string{"Authorization: Bearer 4f2b9c-the-operators-tokeN"}},
		{"a prefix of the token", []string{"Authorization: Bearer 4f2b9c"}},
		{"basic auth", []string{"Authorization: Basic " + token}},
		{"the token without its scheme", []string{"Authorization: " + token}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, req := range []struct{ method, path, body string }{
				{"GET", list, ""},
				{"POST", restore, restoreBody(globalPath, globalTS, `"truncate_before_restore": true`)},
				{"POST", backup, `{}`},
				{"POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`},
			} {
				a := r.call(t, req.method, req.path, req.body, c.headers...)
				a.refused(t, 401, "未授权访问", "FORBIDDEN", "Authorization: Bearer")
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", req.path, a.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	if got := pgtest.Dump(t, r.db); got != before {
		t.Fatal("an unauthorized restore changed the tables")
	}
	if snaps := r.snapshots(t); len(snaps) != 0 {
		t.Fatalf("an unauthorized backup wrote files: %v", snaps)
	}

	r.call(t, "GET", "/health", "").ok(t, "服务运行正常") // no token needed
	r.call(t, "GET", list, "", bearer).ok(t, "成功扫描到 2 个备份位置，共 2 个备份集")
	r.call(t, "GET", list, "", "authorization: bearer "+token).ok(t, "成功扫描到 2 个备份位置，共 2 个备份集")
	r.call(t, "GET", list, "", bearer, "Origin: "+r.url).ok(t, "成功扫描到 2 个备份位置，共 2 个备份集")
	r.call(t, "GET", list, "", bearer, "Origin: https://console.example.com").ok(t, "成功扫描到 2 个备份位置，共 2 个备份集")
	r.call(t, "GET", list, "", bearer, "Origin: https://console.example.com.attacker.example").refused(t, 403, "禁止访问", "FORBIDDEN")
	r.call(t, "GET", list, "", bearer, "Origin: https://"+strings.TrimPrefix(r.url, "http://")).refused(t, 403, "禁止访问", "FORBIDDEN")
	r.call(t, "POST", restore, restoreBody(taskPath, taskTS, `"truncate_before_restore": true`), bearer).ok(t, "Vector表恢复完成")
	pgtest.Compare(t, r.db, r.a, sample.Default)
	if strings.Contains(r.logs.String(), token) {
		t.Error("the log shows the token")
	}
}
