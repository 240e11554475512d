package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/httpapi"
	"github.com/vectorops/pgvector-backup-mcp/internal/oauthtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/oauth"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

const (
	publicURL   = "https://backups.example.com/mcp"
	metadataURL = "https://backups.example.com/.well-known/oauth-protected-resource/mcp"
	readScope   = "vector-backups:read"
	writeScope  = "vector-backups:write"
)

// oauthRig is a rig whose server accepts the test issuer's tokens for
// publicURL, and the static token "static-token".
type oauthRig struct {
	*rig
	iss *oauthtest.Issuer
}

func newOAuthRig(t *testing.T, legacy httpapi.LegacyMode) *oauthRig {
	t.Helper()
	iss := oauthtest.New(t, oauthtest.Options{})
	v, err := oauth.New(context.Background(), oauth.Config{Issuer: iss.URL, Audience: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	opts := httpapi.Options{AuthToken: "static-token", OAuth: v, PublicURL: publicURL, LegacyAPI: legacy}
	return &oauthRig{rig: newRig(t, rigOptions{opts: opts}), iss: iss}
}

// bearer is the Authorization header of a token for subject with scopes.
func (o *oauthRig) bearer(t *testing.T, subject string, scopes ...string) string {
	return "Authorization: Bearer " + o.iss.Token(t, o.iss.Claims(time.Now(), subject, publicURL, scopes...))
}

// TestOAuthREST: over the old REST API, a token with the read scope lists
// but cannot restore or back up (403 insufficient_scope naming the write
// scope), one with the write scope restores, the static token still does
// everything, and missing or refused tokens get 401 pointing at the
// metadata.
func TestOAuthREST(t *testing.T) {
	o := newOAuthRig(t, "")
	reader := o.bearer(t, "reader", readScope)
	writer := o.bearer(t, "writer", readScope, writeScope)
	writeOnly := o.bearer(t, "writer", writeScope)
	before := pgtest.Dump(t, o.db)

	o.call(t, "GET", list, "", reader).ok(t, "成功扫描到 2 个备份位置，共 2 个备份集")
	for path, body := range map[string]string{restore: restoreBody(globalPath, globalTS, `"truncate_before_restore": true`), backup: `{}`} {
		a := o.call(t, "POST", path, body, reader)
		a.refused(t, 403, "禁止访问", "FORBIDDEN", writeScope, "does not grant")
		if a.data["reason"] != "insufficient_scope" || a.data["scope"] != writeScope {
			t.Errorf("%s: data %v, want reason insufficient_scope and scope %s", path, a.data, writeScope)
		}
		if got, want := a.header.Get("WWW-Authenticate"), `Bearer error="insufficient_scope", scope="vector-backups:write", resource_metadata="`+metadataURL+`"`; got != want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", path, got, want)
		}
	}
	if got := pgtest.Dump(t, o.db); got != before || len(o.snapshots(t)) != 0 {
		t.Fatal("a refused call changed the tables or wrote a set")
	}
	o.call(t, "GET", list, "", writeOnly).refused(t, 403, "禁止访问", "FORBIDDEN", readScope)
	o.call(t, "POST", restore, restoreBody(taskPath, taskTS, `"truncate_before_restore": true`), writer).ok(t, "Vector表恢复完成")
	o.call(t, "POST", restore, restoreBody(globalPath, globalTS, `"truncate_before_restore": true`), "Authorization: Bearer static-token").ok(t, "Vector表恢复完成")

	expired := o.iss.Claims(time.Now().Add(-2*time.Hour), "late", publicURL, readScope, writeScope)
	otherAudience := o.iss.Claims(time.Now(), "lost", "https://elsewhere.example.com/mcp", readScope)
	for _, tc := range []struct {
		name, header, challenge string
	}{
		{"no token", "", `Bearer resource_metadata="` + metadataURL + `"`},
		{"another scheme", "Authorization: Basic dXNlcjpwYXNz", `Bearer resource_metadata="` + metadataURL + `"`},
		{"a wrong static token", "Authorization: Bearer static-tokem", `Bearer error="invalid_token", error_description="the token is not a well-formed JWT", resource_metadata="` + metadataURL + `"`},
		{"an expired token", "Authorization: Bearer " + o.iss.Token(t, expired), `Bearer error="invalid_token", error_description="the token has expired", resource_metadata="` + metadataURL + `"`},
		{"another audience", "Authorization: Bearer " + o.iss.Token(t, otherAudience), `Bearer error="invalid_token", error_description="the token is not for this resource", resource_metadata="` + metadataURL + `"`},
		{"a huge token", "Authorization: Bearer " + strings.Repeat("x", 64<<10), `Bearer error="invalid_token", error_description="the token is too long", resource_metadata="` + metadataURL + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.header != "" {
				headers = append(headers, tc.header)
			}
			a := o.call(t, "POST", restore, restoreBody(globalPath, globalTS, `"truncate_before_restore": true`), headers...)
			a.refused(t, 401, "未授权访问", "FORBIDDEN", "Authorization: Bearer", o.iss.URL, "--auth-token")
			if got := a.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
		})
	}
	if n := o.iss.Fetches(); n != 1 {
		t.Errorf("the key set was fetched %d times, want once", n)
	}
}

// TestResourceMetadata: the protected resource metadata (RFC 9728) is
// served without a token at both of its paths, and not at all without
// OAuth.
func TestResourceMetadata(t *testing.T) {
	o := newOAuthRig(t, "")
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		res, err := http.Get(o.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
		want := map[string]any{
			"resource": publicURL, "authorization_servers": []any{o.iss.URL},
			"scopes_supported": []any{readScope, writeScope}, "bearer_methods_supported": []any{"header"},
		}
		for k, v := range want {
			if got, _ := json.Marshal(doc[k]); string(got) != mustJSON(t, v) {
				t.Errorf("%s: %s is %s, want %s", path, k, got, mustJSON(t, v))
			}
		}
		if doc["resource_name"] == nil {
			t.Errorf("%s: no resource_name: %s", path, body)
		}
	}
	o.call(t, "POST", "/.well-known/oauth-protected-resource", `{}`).refused(t, 405, "请求方法不允许", "INVALID_PARAMS")
	o.call(t, "GET", "/.well-known/oauth-protected-resource", "", "Origin: https://evil.example.com").refused(t, 403, "禁止访问", "FORBIDDEN")

	plain := newRig(t, rigOptions{})
	plain.call(t, "GET", "/.well-known/oauth-protected-resource/mcp", "").refused(t, 404, "资源未找到", "RESOURCE_NOT_FOUND", "--oauth-issuer")
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOAuthMCP: over MCP, in both protocol eras, a read-scoped token lists,
// inspects, reads resources and gets the prompt, but restoring or creating
// a set is a FORBIDDEN tool error naming the write scope, before anything
// runs; a write-scoped token restores.
func TestOAuthMCP(t *testing.T) {
	o := newOAuthRig(t, "")
	header := func(h string) map[string]string {
		name, value, _ := strings.Cut(h, ": ")
		return map[string]string{name: value}
	}
	reader := header(o.bearer(t, "reader", readScope))
	writer := header(o.bearer(t, "writer", readScope, writeScope))
	nothing := header(o.bearer(t, "nobody"))
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			if _, err := o.mcpClient(t, protocol, nil); err == nil {
				t.Fatal("a client without a token connected")
			}
			c, err := o.mcpClient(t, protocol, reader)
			if err != nil {
				t.Fatal(err)
			}
			if res, out := callTool(t, c, "list_vector_backups", map[string]any{}, nil); res.IsError {
				t.Fatalf("list with the read scope: %v", out)
			}
			if res, out := callTool(t, c, "inspect_vector_backup", map[string]any{"backup_path": globalPath, "timestamp": globalTS}, nil); res.IsError {
				t.Fatalf("inspect with the read scope: %v", out)
			}
			if _, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "vector-backup://vector_bak/" + globalTS + "/log"}}); err != nil &&
				strings.Contains(err.Error(), "scope") {
				t.Fatalf("a resource with the read scope: %v", err)
			}
			if _, err := c.GetPrompt(context.Background(), mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "rollback_vector_data"}}); err != nil {
				t.Fatalf("the prompt with the read scope: %v", err)
			}
			before := pgtest.Dump(t, o.db)
			for name, args := range map[string]map[string]any{
				"restore_vector_backup": {"backup_path": globalPath, "timestamp": globalTS, "truncate_before_restore": true},
				"create_vector_backup":  {},
			} {
				res, out := callTool(t, c, name, args, nil)
				if !res.IsError || out["error_type"] != "FORBIDDEN" || out["reason"] != "insufficient_scope" || out["scope"] != writeScope ||
					!strings.Contains(out["message"].(string), writeScope) {
					t.Errorf("%s with the read scope: %v", name, out)
				}
			}
			if got := pgtest.Dump(t, o.db); got != before || len(o.snapshots(t)) != 0 {
				t.Fatal("a refused tool call changed the tables or wrote a set")
			}

			n, err := o.mcpClient(t, protocol, nothing)
			if err != nil {
				t.Fatal(err)
			}
			if res, out := callTool(t, n, "list_vector_backups", map[string]any{}, nil); !res.IsError || out["scope"] != readScope {
				t.Errorf("list without scopes: %v", out)
			}
			if _, err := n.GetPrompt(context.Background(), mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "rollback_vector_data"}}); err == nil || !strings.Contains(err.Error(), readScope) {
				t.Errorf("the prompt without scopes: %v", err)
			}
			if _, err := n.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "vector-backup://vector_bak/" + globalTS + "/log"}}); err == nil || !strings.Contains(err.Error(), readScope) {
				t.Errorf("a resource without scopes: %v", err)
			}

			w, err := o.mcpClient(t, protocol, writer)
			if err != nil {
				t.Fatal(err)
			}
			if res, out := callTool(t, w, "restore_vector_backup", map[string]any{"backup_path": taskPath, "timestamp": taskTS, "truncate_before_restore": true}, nil); res.IsError {
				t.Fatalf("restore with the write scope: %v", out)
			}
		})
	}
}

// TestLegacyAPIModes: --legacy-api read-only serves the REST list only,
// refusing restore and backup with 403 that says why; off answers the
// three routes 404 naming the flag. /health and /mcp stay.
func TestLegacyAPIModes(t *testing.T) {
	const token = "Authorization: Bearer static-token"
	t.Run("read-only", func(t *testing.T) {
		o := newOAuthRig(t, httpapi.LegacyReadOnly)
		before := pgtest.Dump(t, o.db)
		o.call(t, "GET", list, "", token).ok(t, "成功扫描到 2 个备份位置，共 2 个备份集")
		o.call(t, "POST", restore, restoreBody(globalPath, globalTS, `"truncate_before_restore": true`), token).
			refused(t, 403, "禁止访问", "FORBIDDEN", "--legacy-api read-only", "confirmation", "/mcp")
		o.call(t, "POST", backup, `{}`, token).refused(t, 403, "禁止访问", "FORBIDDEN", "--legacy-api read-only")
		if got := pgtest.Dump(t, o.db); got != before || len(o.snapshots(t)) != 0 {
			t.Fatal("a closed route changed the tables or wrote a set")
		}
		if a := o.call(t, "GET", "/health", ""); a.status != 200 {
			t.Errorf("/health: %d", a.status)
		}
		c, err := o.mcpClient(t, protocols[0], map[string]string{"Authorization": "Bearer static-token"})
		if err != nil {
			t.Fatal(err)
		}
		if res, out := callTool(t, c, "list_vector_backups", map[string]any{}, nil); res.IsError {
			t.Errorf("MCP list: %v", out)
		}
	})
	t.Run("off", func(t *testing.T) {
		o := newOAuthRig(t, httpapi.LegacyOff)
		o.call(t, "GET", list, "", token).refused(t, 404, "资源未找到", "RESOURCE_NOT_FOUND", "--legacy-api off")
		o.call(t, "POST", restore, restoreBody(globalPath, globalTS, ""), token).refused(t, 404, "资源未找到", "RESOURCE_NOT_FOUND", "--legacy-api off")
		o.call(t, "POST", backup, `{}`, token).refused(t, 404, "资源未找到", "RESOURCE_NOT_FOUND", "--legacy-api off")
		if a := o.call(t, "GET", "/health", ""); a.status != 200 {
			t.Errorf("/health: %d", a.status)
		}
	})
}

// TestOAuthFlat: 1,000 calls authorized by an OAuth token leave the
// goroutines and the heap where they were, and fetch the issuer's keys
// no more than the once at start.
func TestOAuthFlat(t *testing.T) {
	o := newOAuthRig(t, "")
	reader := strings.TrimPrefix(o.bearer(t, "reader", readScope), "Authorization: ")
	client := &http.Client{}
	get := func() {
		req, _ := http.NewRequest("GET", o.url+list+"?limit=1", nil)
		req.Header.Set("Authorization", reader)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("list: %d", res.StatusCode)
		}
	}
	measure := func() (goroutines int, heap uint64) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return runtime.NumGoroutine(), m.HeapAlloc
	}
	for range 100 { // warm up: connections, caches, pools
		get()
	}
	g0, h0 := measure()
	for range 1000 {
		get()
	}
	g1, h1 := measure()
	t.Logf("goroutines %d → %d, heap %d KiB → %d KiB", g0, g1, h0>>10, h1>>10)
	if g1 > g0+2 {
		t.Errorf("goroutines grew from %d to %d over 1,000 calls", g0, g1)
	}
	if h1 > h0+4<<20 {
		t.Errorf("the heap grew from %d KiB to %d KiB over 1,000 calls", h0>>10, h1>>10)
	}
	if n := o.iss.Fetches(); n != 1 {
		t.Errorf("the key set was fetched %d times over 1,100 calls, want once (at start)", n)
	}
}

// TestListenProtected: off loopback, Listen wants the server protected, by
// a static token or OAuth.
func TestListenProtected(t *testing.T) {
	if _, err := httpapi.Listen("0.0.0.0:0", false); !errors.Is(err, httpapi.ErrTokenRequired) || !strings.Contains(err.Error(), "--oauth-issuer") {
		t.Errorf("Listen off loopback, unprotected: %v", err)
	}
	ln, err := httpapi.Listen("0.0.0.0:0", true)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

// BenchmarkAuthHTTP is what authorization adds to one HTTP request: a GET
// of a path that is not served (404 after the guard, no disk, no
// database), without a token configured, with the static token, and with
// an OAuth token (RS256, cached keys).
func BenchmarkAuthHTTP(b *testing.B) {
	iss := oauthtest.New(b, oauthtest.Options{})
	v, err := oauth.New(context.Background(), oauth.Config{Issuer: iss.URL, Audience: publicURL})
	if err != nil {
		b.Fatal(err)
	}
	token := iss.Token(b, iss.Claims(time.Now(), "bench", publicURL, readScope))
	p := pgtest.NewProject(b, pgtest.ProjectOptions{})
	svc := &service.Service{Catalog: p.Catalog(b), Policy: dbaccess.NewPolicy("", nil)}
	mcpServer, err := tools.NewServer(svc, tools.Options{Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		opts   httpapi.Options
		header string
	}{
		{"none", httpapi.Options{}, ""},
		{"static", httpapi.Options{AuthToken: "static-token"}, "Bearer static-token"},
		{"oauth", httpapi.Options{AuthToken: "static-token", OAuth: v, PublicURL: publicURL}, "Bearer " + token},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, err := httpapi.New(svc, mcpServer, bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			req, _ := http.NewRequest("GET", serveBench(b, h)+"/not-served", nil)
			if bc.header != "" {
				req.Header.Set("Authorization", bc.header)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusNotFound {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
		})
	}
	if n := iss.Fetches(); n != 1 {
		b.Errorf("the key set was fetched %d times", n)
	}
}
