//go:build linux

package main

// These tests run the built binary as `mcp-server serve --http` and call it
// with a real HTTP client exactly as the old service's quick reference
// (../shared/reference/vector_restore_api_quick_reference.md) tells its
// users to, checking every answer field by field; then they stop it with
// SIGTERM in the middle of a restore.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/testutil"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// httpServer is the binary serving HTTP on a loopback port it chose.
type httpServer struct {
	base   string // http://localhost:port, as the quick reference writes it
	cmd    *exec.Cmd
	stderr *testutil.Buffer
	exited chan struct{} // closed when the process has ended
	exit   error         // Wait's result, once exited is closed
}

// httpDim is the vector dimension of the HTTP tests' sets.
const httpDim = 8

var addrRE = regexp.MustCompile(`msg="serving HTTP".* addr=(127\.0\.0\.1:\d+)`)

func startHTTP(t *testing.T, env []string, args ...string) *httpServer {
	t.Helper()
	cmd := exec.Command(serverBinary(t), append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	s := &httpServer{cmd: cmd, stderr: &testutil.Buffer{}, exited: make(chan struct{})}
	var stdout testutil.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exit = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-s.exited
		}
		if stdout.Len() != 0 {
			t.Errorf("the HTTP server wrote to stdout: %q", stdout.String())
		}
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.stderr.String())
		}
	})
	if s.stderr.WaitFor(0, 20*time.Second, `msg="serving HTTP"`) == "" {
		t.Fatalf("the server did not start:\n%s", s.stderr.String())
	}
	m := addrRE.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no address in the log:\n%s", s.stderr.String())
	}
	s.base = "http://localhost:" + strings.TrimPrefix(m[1], "127.0.0.1:")
	return s
}

// curl does what the quick reference's curl command does: GET without a
// body, or POST with -H "Content-Type: application/json" -d body. It
// returns the status and the decoded envelope.
func curl(t *testing.T, method, u, body string) (int, map[string]any) {
	t.Helper()
	status, _, env := send(t, method, u, "", body)
	if env["code"] != float64(status) {
		t.Errorf("%s %s: status %d, code %v", method, u, status, env["code"])
	}
	return status, env
}

// check compares fields of an object with want, by path ("a.b.0.c").
func check(t *testing.T, what string, obj map[string]any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		var v any = obj
		for _, key := range strings.Split(path, ".") {
			switch node := v.(type) {
			case map[string]any:
				v = node[key]
			case []any:
				var i int
				fmt.Sscan(key, &i)
				if i >= len(node) {
					v = nil
					break
				}
				v = node[i]
			default:
				v = nil
			}
		}
		if fmt.Sprint(v) != fmt.Sprint(w) {
			t.Errorf("%s: %s = %v, want %v", what, path, v, w)
		}
	}
}

// TestQuickReference runs every example of the old service's quick
// reference against the real binary and a real database, and checks the
// answers field by field, as its users' scripts read them.
func TestQuickReference(t *testing.T) {
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(httpDim))
	targetDB := pgtest.NewDatabase(t) // "跨数据库恢复": another database
	pgtest.Exec(t, targetDB, sample.Default.DDL(httpDim))
	p := newProject(t)
	a := sample.Generate(1, []string{"sql", "ddl", "documentation", "error_sql"}, 5, httpDim)
	b := a.Later(2)
	p.Write(t, a, "task_20250721_213627/vector_bak", "20250721_215758")
	p.Write(t, b, "vector_bak", "20250722_010318")

	tu, err := url.Parse(targetDB)
	if err != nil {
		t.Fatal(err)
	}
	const password = "password-of-the-target-db"
	targetName := strings.TrimPrefix(tu.Path, "/")
	crossDB := fmt.Sprintf("postgresql://postgres:%s@%s/%s?sslmode=disable", password, tu.Host, targetName)
	s := startHTTP(t, serverEnv(db, p.Root), "--allow-db-connection", tu.Host+"/"+targetName)
	api := s.base + "/api/v0/data_pipeline/vector"
	ok := map[string]any{"code": 200, "success": true, "message": "操作成功"}

	// 1. 查看所有备份
	status, env := curl(t, "GET", api+"/restore/list", "")
	check(t, "list", env, ok)
	size := func(dir, file string) string {
		fi, err := os.Stat(filepath.Join(p.Backups, dir, file))
		if err != nil {
			t.Fatal(err)
		}
		return layout.HumanSize(fi.Size())
	}
	check(t, "list", env, map[string]any{
		"data.response":                                                       "成功扫描到 2 个备份位置，共 2 个备份集",
		"data.backup_locations.0.type":                                        "global",
		"data.backup_locations.0.relative_path":                               "./data_pipeline/training_data/vector_bak",
		"data.backup_locations.0.backups.0.timestamp":                         "20250722_010318",
		"data.backup_locations.0.backups.0.kind":                              "backup",
		"data.backup_locations.0.backups.0.collection_file":                   "langchain_pg_collection_20250722_010318.csv",
		"data.backup_locations.0.backups.0.embedding_file":                    "langchain_pg_embedding_20250722_010318.csv",
		"data.backup_locations.0.backups.0.collection_size":                   size("vector_bak", "langchain_pg_collection_20250722_010318.csv"),
		"data.backup_locations.0.backups.0.embedding_size":                    size("vector_bak", "langchain_pg_embedding_20250722_010318.csv"),
		"data.backup_locations.0.backups.0.backup_date":                       "2025-07-22 01:03:18",
		"data.backup_locations.0.backups.0.has_log":                           true,
		"data.backup_locations.0.backups.0.log_file":                          "vector_backup_log.txt",
		"data.backup_locations.0.backups.0.row_counts.langchain_pg_embedding": len(b.Embeddings),
		"data.backup_locations.1.type":                                        "task",
		"data.backup_locations.1.task_id":                                     "task_20250721_213627",
		"data.backup_locations.1.relative_path":                               "./data_pipeline/training_data/task_20250721_213627/vector_bak",
		"data.backup_locations.1.backups.0.timestamp":                         "20250721_215758",
		"data.backup_locations.1.backups.0.backup_date":                       "2025-07-21 21:57:58",
		"data.summary.total_locations":                                        2,
		"data.summary.total_backup_sets":                                      2,
		"data.summary.global_backups":                                         1,
		"data.summary.task_backups":                                           1,
	})
	if status != 200 {
		t.Fatalf("list: %d", status)
	}
	for _, key := range []string{"data.timestamp", "data.summary.scan_time"} {
		if v := lookup(env, key); v == nil {
			t.Errorf("list: no %s", key)
		} else if _, err := time.Parse(time.RFC3339, v.(string)); err != nil {
			t.Errorf("list: %s %v is not RFC 3339", key, v)
		}
	}

	// 2. 恢复备份（推荐用法）
	_, env = curl(t, "POST", api+"/restore", `{
    "backup_path": "./data_pipeline/training_data/task_20250721_213627/vector_bak",
    "timestamp": "20250721_215758",
    "truncate_before_restore": true
  }`)
	check(t, "restore", env, ok)
	check(t, "restore", env, map[string]any{
		"data.response":                                              "Vector表恢复完成",
		"data.restore_performed":                                     true,
		"data.truncate_performed":                                    true,
		"data.backup_info.backup_path":                               "./data_pipeline/training_data/task_20250721_213627/vector_bak",
		"data.backup_info.timestamp":                                 "20250721_215758",
		"data.backup_info.backup_date":                               "2025-07-21 21:57:58",
		"data.truncate_results.langchain_pg_collection.success":      true,
		"data.truncate_results.langchain_pg_collection.rows_before":  0,
		"data.truncate_results.langchain_pg_collection.rows_after":   0,
		"data.truncate_results.langchain_pg_embedding.success":       true,
		"data.restore_results.langchain_pg_collection.success":       true,
		"data.restore_results.langchain_pg_collection.source_file":   "langchain_pg_collection_20250721_215758.csv",
		"data.restore_results.langchain_pg_collection.rows_restored": len(a.Collections),
		"data.restore_results.langchain_pg_collection.file_size":     size("task_20250721_213627/vector_bak", "langchain_pg_collection_20250721_215758.csv"),
		"data.restore_results.langchain_pg_embedding.success":        true,
		"data.restore_results.langchain_pg_embedding.source_file":    "langchain_pg_embedding_20250721_215758.csv",
		"data.restore_results.langchain_pg_embedding.rows_restored":  len(a.Embeddings),
		"data.errors":  "[]",
		"data.dry_run": false,
	})
	for _, key := range []string{"data.duration", "data.restore_results.langchain_pg_embedding.duration", "data.truncate_results.langchain_pg_embedding.duration"} {
		if _, isNumber := lookup(env, key).(float64); !isNumber {
			t.Errorf("restore: %s = %v, want seconds", key, lookup(env, key))
		}
	}
	pgtest.Compare(t, db, a, sample.Default)

	// 查看特定任务备份
	_, env = curl(t, "GET", api+"/restore/list?task_id=task_20250721_213627", "")
	check(t, "list task", env, map[string]any{
		"data.response": "成功扫描到 1 个备份位置，共 1 个备份集", "data.backup_locations.0.task_id": "task_20250721_213627",
		"data.summary.global_backups": 0, "data.summary.task_backups": 1,
	})
	// 查看全局备份
	_, env = curl(t, "GET", api+"/restore/list?global_only=true", "")
	check(t, "list global", env, map[string]any{
		"data.response": "成功扫描到 1 个备份位置，共 1 个备份集", "data.backup_locations.0.type": "global",
		"data.summary.global_backups": 1, "data.summary.task_backups": 0,
	})

	// 仅恢复embedding表 (appending a later backup's embeddings)
	_, env = curl(t, "POST", api+"/restore", `{
    "backup_path": "./data_pipeline/training_data/vector_bak",
    "timestamp": "20250722_010318",
    "tables": ["langchain_pg_embedding"],
    "truncate_before_restore": false
  }`)
	check(t, "embeddings only", env, ok)
	check(t, "embeddings only", env, map[string]any{
		"data.truncate_performed":                                   false,
		"data.truncate_results":                                     "map[]",
		"data.restore_results.langchain_pg_embedding.rows_restored": len(b.Embeddings),
		"data.restore_results.langchain_pg_collection":              nil,
	})
	both := *a
	both.Embeddings = append(append([]sample.Embedding{}, a.Embeddings...), b.Embeddings...)
	pgtest.Compare(t, db, &both, sample.Default)
	before := pgtest.Dump(t, db)

	// 跨数据库恢复
	status, env = curl(t, "POST", api+"/restore", fmt.Sprintf(`{
    "backup_path": "./data_pipeline/training_data/vector_bak",
    "timestamp": "20250722_010318",
    "db_connection": %q,
    "truncate_before_restore": true
  }`, crossDB))
	check(t, "cross-database", env, ok)
	check(t, "cross-database", env, map[string]any{"data.target": tu.Host + "/" + targetName})
	if status == 200 {
		pgtest.Compare(t, targetDB, b, sample.Default)
	}
	if got := pgtest.Dump(t, db); got != before {
		t.Error("the cross-database restore changed the server's own database")
	}
	if b, _ := json.Marshal(env); strings.Contains(string(b), password) {
		t.Errorf("the answer shows the password: %s", b)
	}

	// 常见错误: 参数缺失, 文件不存在
	status, env = curl(t, "POST", api+"/restore", `{}`)
	check(t, "missing", env, map[string]any{
		"code": 400, "success": false, "message": "请求参数错误",
		"data.response": "缺少必需参数: backup_path, timestamp", "data.error_type": "MISSING_REQUIRED_PARAMS",
		"data.missing_params": "[backup_path timestamp]",
	})
	status, env = curl(t, "POST", api+"/restore", `{
    "backup_path": "./data_pipeline/training_data/nonexistent",
    "timestamp": "20250722_999999"
  }`)
	// The timestamp is checked after the folder, so the folder is reported.
	check(t, "not found", env, map[string]any{
		"code": 404, "success": false, "message": "资源未找到",
		"data.response": "备份目录不存在: ./data_pipeline/training_data/nonexistent", "data.error_type": "RESOURCE_NOT_FOUND",
	})
	if status != 404 {
		t.Errorf("not found: %d", status)
	}

	// The backup endpoint, called as the old pipeline's docs show: {}.
	_, env = curl(t, "POST", api+"/backup", `{}`)
	check(t, "backup", env, ok)
	check(t, "backup", env, map[string]any{
		"data.response": "Vector表备份完成", "data.backup_performed": true, "data.truncate_performed": false,
		"data.backup_directory":                                  "./data_pipeline/training_data/global_vector_bak",
		"data.tables_backed_up.langchain_pg_embedding.row_count": len(both.Embeddings),
	})
	if strings.Contains(s.stderr.String(), password) {
		t.Error("the log shows the password")
	}
	if !strings.Contains(s.stderr.String(), "path=/api/v0/data_pipeline/vector/restore status=404") {
		t.Error("the access log lacks the requests")
	}
}

func lookup(obj map[string]any, path string) any {
	var v any = obj
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// TestHTTPSigterm stops the binary with SIGTERM while a restore is parked
// in the middle of its COPY (a test trigger waits on a lock the test
// holds): with a grace period it cannot meet, the restore is cancelled,
// answers CANCELLED, and the tables are unchanged; with time to spare, it
// finishes and answers 200. Either way the server exits 0.
func TestHTTPSigterm(t *testing.T) {
	for _, c := range []struct {
		name   string
		grace  string
		finish bool
	}{{"grace over", "300ms", false}, {"within grace", "1m", true}} {
		t.Run(c.name, func(t *testing.T) {
			p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: httpDim})
			db := p.DB
			a := sample.Generate(1, []string{"sql", "ddl"}, 20, httpDim)
			b := a.Later(2)
			p.Write(t, a, "vector_bak", "20250721_215758")
			p.Write(t, b, "vector_bak", "20250722_010318")
			s := startHTTP(t, serverEnv(db, p.Root), "--shutdown-grace", c.grace)
			api := s.base + "/api/v0/data_pipeline/vector/restore"
			curl(t, "POST", api, `{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250721_215758", "truncate_before_restore": true}`)
			before := pgtest.Dump(t, db)

			w := newWatcher(t, db)
			release, drop := pause(t, w, fmt.Sprintf(`CREATE TRIGGER pause_row BEFORE INSERT ON langchain_pg_embedding
				FOR EACH ROW WHEN (NEW.id = '%s') EXECUTE FUNCTION fault_pause();`, b.Embeddings[len(b.Embeddings)/2].ID))
			type reply struct {
				status int
				env    map[string]any
			}
			answered := make(chan reply, 1)
			go func() {
				st, env := curl(t, "POST", api, `{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250722_010318", "truncate_before_restore": true}`)
				answered <- reply{st, env}
			}()
			deadline := time.Now().Add(30 * time.Second)
			for !slices.ContainsFunc(w.sessions(t), waitingIn(embeddingsCopy...)) {
				if time.Now().After(deadline) {
					t.Fatalf("the restore never reached its COPY: %v", w.sessions(t))
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if c.finish {
				time.Sleep(300 * time.Millisecond)
				release()
			}
			var got reply
			select {
			case got = <-answered:
			case <-time.After(60 * time.Second):
				t.Fatal("no answer 60 s after SIGTERM")
			}
			select {
			case <-s.exited:
				var exit *exec.ExitError
				if errors.As(s.exit, &exit) {
					t.Errorf("exit status %d after SIGTERM, want 0", exit.ExitCode())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not exit after SIGTERM")
			}
			release()
			waitIdle(t, db)
			drop()
			if c.finish {
				if got.status != 200 {
					t.Fatalf("the restore that had time answered %d: %v", got.status, got.env)
				}
				pgtest.Compare(t, db, b, sample.Default)
				return
			}
			check(t, "cancelled", got.env, map[string]any{"code": 503, "success": false, "data.error_type": "CANCELLED"})
			if msg, _ := lookup(got.env, "data.response").(string); !saysRolledBack(msg) {
				t.Errorf("the answer does not say it rolled back: %s", msg)
			}
			if got := pgtest.Dump(t, db); got != before {
				t.Fatal("the cancelled restore changed the tables")
			}
		})
	}
}
