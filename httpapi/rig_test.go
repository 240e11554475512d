package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/httpapi"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/testutil"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

const (
	dim = 8

	// The quick reference's two sets: the task's (A) and the global one (B,
	// later: the same collections, other embeddings).
	taskPath   = "./data_pipeline/training_data/task_20250721_213627/vector_bak"
	taskTS     = "20250721_215758"
	globalPath = "./data_pipeline/training_data/vector_bak"
	globalTS   = "20250722_010318"
)

var names = []string{"sql", "ddl", "documentation", "error_sql"}

// rig is a running server: a project with the quick reference's sets, a
// database with LangChain's tables, and the HTTP front end on a loopback
// port, as mcp-server serve --http builds it.
type rig struct {
	url     string
	db      string
	backups string
	a, b    *sample.Dataset
	logs    *testutil.Buffer
	handler *httpapi.Handler
	stop    func() error // ends Serve as SIGTERM does, and waits for it
}

type rigOptions struct {
	opts    httpapi.Options
	allow   []string      // --allow-db-connection patterns
	confirm bool          // --confirm=token (default none)
	grace   time.Duration // --shutdown-grace
	dbURL   string        // the server's database; default a fresh one
	big     int           // embeddings per collection of set A (default 5)
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	per := o.big
	if per == 0 {
		per = 5
	}
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: dim, DB: o.dbURL})
	r := &rig{db: p.DB, backups: p.Backups, logs: &testutil.Buffer{}}
	r.a = sample.Generate(1, names, per, dim)
	r.b = r.a.Later(2)
	p.Write(t, r.a, "task_20250721_213627/vector_bak", taskTS)
	p.Write(t, r.b, "vector_bak", globalTS)
	var allow []dbaccess.Pattern
	for _, a := range o.allow {
		pat, err := dbaccess.ParsePattern(a)
		if err != nil {
			t.Fatal(err)
		}
		allow = append(allow, pat)
	}
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := &service.Service{Catalog: p.Catalog(t), Policy: dbaccess.NewPolicy(r.db, allow), Logger: logger}
	if o.confirm {
		sealer, err := confirm.NewSealer(nil, confirm.DefaultTTL)
		if err != nil {
			t.Fatal(err)
		}
		svc.Confirm = sealer
	}
	mcpServer, err := tools.NewServer(svc, tools.Options{Version: "test", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	o.opts.Logger, o.opts.Version = logger, "test"
	if r.handler, err = httpapi.New(svc, mcpServer, o.opts); err != nil {
		t.Fatal(err)
	}
	ln, err := httpapi.Listen("127.0.0.1:0", o.opts.AuthToken != "" || o.opts.OAuth != nil)
	if err != nil {
		t.Fatal(err)
	}
	r.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- httpapi.Serve(ctx, ln, r.handler, o.grace) }()
	var once sync.Once
	var serveErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-served:
			case <-time.After(90 * time.Second):
				serveErr = fmt.Errorf("Serve did not return 90 s after the shutdown began")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", r.logs.String())
		}
	})
	return r
}

// answer is a decoded envelope.
type answer struct {
	status  int
	header  http.Header
	code    int
	success bool
	message string
	data    map[string]any
	raw     string
}

// call sends a request; headers are "Name: value" strings. A body is sent
// as JSON unless a Content-Type header says otherwise.
func (r *rig) call(t *testing.T, method, path, body string, headers ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.callCtx(ctx, t, method, path, body, headers...)
}

func (r *rig) callCtx(ctx context.Context, t *testing.T, method, path, body string, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Set(name, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, res, b)
}

func decode(t *testing.T, res *http.Response, b []byte) answer {
	t.Helper()
	a, err := parse(res, b)
	if err != nil {
		t.Error(err)
	}
	return a
}

// parse reads an answer, checking it is the envelope with code equal to the
// HTTP status.
func parse(res *http.Response, b []byte) (answer, error) {
	a := answer{status: res.StatusCode, header: res.Header, raw: string(b)}
	if res.Request.Method == http.MethodHead {
		return a, nil
	}
	var env struct {
		Code    int            `json:"code"`
		Success bool           `json:"success"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return a, fmt.Errorf("%s %s: the answer is not the envelope: %v\n%s", res.Request.Method, res.Request.URL.Path, err, b)
	}
	a.code, a.success, a.message, a.data = env.Code, env.Success, env.Message, env.Data
	if a.code != a.status {
		return a, fmt.Errorf("%s %s: HTTP status %d but code %d", res.Request.Method, res.Request.URL.Path, a.status, a.code)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return a, fmt.Errorf("Content-Type %q", ct)
	}
	return a, nil
}

// refused checks an answer is the error envelope with this status, message,
// error type and a response that contains each of subs.
func (a answer) refused(t *testing.T, status int, message, errorType string, subs ...string) {
	t.Helper()
	if a.status != status || a.success || a.message != message || a.data["error_type"] != errorType {
		t.Errorf("got %d %v %q %v, want %d false %q %s\n%s", a.status, a.success, a.message, a.data["error_type"], status, message, errorType, a.raw)
	}
	response, _ := a.data["response"].(string)
	for _, sub := range subs {
		if !strings.Contains(response, sub) {
			t.Errorf("response lacks %q: %s", sub, response)
		}
	}
}

func (a answer) ok(t *testing.T, response string) {
	t.Helper()
	if a.status != 200 || !a.success || a.message != "操作成功" || a.data["response"] != response {
		t.Fatalf("got %d %v %q %v, want 200 true 操作成功 %q\n%s", a.status, a.success, a.message, a.data["response"], response, a.raw)
	}
}

// snapshots are the sets restores wrote into the global location.
func (r *rig) snapshots(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(r.backups, "global_vector_bak"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func restoreBody(path, ts string, extra string) string {
	body := fmt.Sprintf(`{"backup_path": %q, "timestamp": %q`, path, ts)
	if extra != "" {
		body += ", " + extra
	}
	return body + "}"
}

func httpapiOptions(token string, origins ...string) httpapi.Options {
	return httpapi.Options{AuthToken: token, AllowOrigins: origins}
}
