//go:build linux

package main

// These tests run the built binary as an OAuth resource server, against a
// test issuer on loopback: scopes over MCP and the REST API, the static
// token beside OAuth, the metadata, --legacy-api, and the refusals at
// start.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/oauthtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const (
	oauthPublicURL = "https://backups.example.com/mcp"
	oauthStatic    = "static-token-beside-oauth"
	readScope      = "vector-backups:read"
	writeScope     = "vector-backups:write"
)

// startOAuthServer serves a project of two sets (the quick reference's)
// with the binary, accepting iss's tokens for oauthPublicURL and the
// static token.
func startOAuthServer(t *testing.T, iss *oauthtest.Issuer, args ...string) (*httpServer, string) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, sample.Default.DDL(httpDim))
	p := newProject(t)
	a := sample.Generate(1, []string{"sql", "ddl"}, 3, httpDim)
	p.Write(t, a, "task_20250721_213627/vector_bak", "20250721_215758")
	p.Write(t, a.Later(2), "vector_bak", "20250722_010318")
	env := serverEnv(db, p.Root, "MCP_AUTH_TOKEN="+oauthStatic, "MCP_OAUTH_ISSUER="+iss.URL, "MCP_PUBLIC_URL="+oauthPublicURL)
	return startHTTP(t, env, append([]string{"--confirm", "none"}, args...)...), db
}

// send is an HTTP call with a bearer token ("" for none); it returns the
// status, the WWW-Authenticate header and the decoded body.
func send(t *testing.T, method, u, token, body string) (int, string, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: not JSON: %v", method, u, err)
	}
	return res.StatusCode, res.Header.Get("WWW-Authenticate"), out
}

// TestOAuthServe: the binary with --oauth-issuer. A token with the read
// scope lists and inspects but cannot restore, over MCP (a FORBIDDEN tool
// error naming the write scope) and over the REST API (403
// insufficient_scope); a token with the write scope restores; the static
// token keeps working; the metadata names the issuer.
func TestOAuthServe(t *testing.T) {
	iss := oauthtest.New(t, oauthtest.Options{})
	s, db := startOAuthServer(t, iss)
	now := time.Now()
	reader := iss.Token(t, iss.Claims(now, "reader", oauthPublicURL, readScope))
	writer := iss.Token(t, iss.Claims(now, "writer", oauthPublicURL, readScope, writeScope))
	api := s.base + "/api/v0/data_pipeline/vector"
	restoreBody := `{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250722_010318", "truncate_before_restore": true}`

	status, challenge, _ := send(t, "GET", api+"/restore/list", "", "")
	if status != 401 || challenge != `Bearer resource_metadata="https://backups.example.com/.well-known/oauth-protected-resource/mcp"` {
		t.Errorf("no token: %d %q", status, challenge)
	}
	if status, _, env := send(t, "GET", api+"/restore/list", reader, ""); status != 200 {
		t.Errorf("list with the read scope: %d %v", status, env)
	}
	before := pgtest.Dump(t, db)
	status, challenge, env := send(t, "POST", api+"/restore", reader, restoreBody)
	data, _ := env["data"].(map[string]any)
	if status != 403 || data["scope"] != writeScope || !strings.Contains(challenge, `error="insufficient_scope", scope="vector-backups:write"`) {
		t.Errorf("restore with the read scope: %d %q %v", status, challenge, env)
	}

	for _, protocol := range []string{mcp.ProtocolVersion20250618, mcp.LATEST_PROTOCOL_VERSION} {
		trans, err := transport.NewStreamableHTTP(s.base+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + reader}))
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := mcptest.Dial(t, trans, mcptest.Options{Protocol: protocol, Name: "oauth-test"})
		if err != nil {
			t.Fatalf("%s: connect with the read scope: %v", protocol, err)
		}
		if res, out := mcptest.Call(t, c, "list_vector_backups", map[string]any{}, nil); res.IsError {
			t.Errorf("%s: list: %v", protocol, out)
		}
		if res, out := mcptest.Call(t, c, "inspect_vector_backup", map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250722_010318"}, nil); res.IsError {
			t.Errorf("%s: inspect: %v", protocol, out)
		}
		res, out := mcptest.Call(t, c, "restore_vector_backup", map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250722_010318", "truncate_before_restore": true}, nil)
		if !res.IsError || out["error_type"] != "FORBIDDEN" || !strings.Contains(mcptest.Text(res), writeScope) {
			t.Errorf("%s: restore with the read scope: %v", protocol, out)
		}
	}
	if pgtest.Dump(t, db) != before {
		t.Fatal("a refused restore changed the tables")
	}
	if status, _, env := send(t, "POST", api+"/restore", writer, restoreBody); status != 200 {
		t.Errorf("restore with the write scope: %d %v", status, env)
	}
	if status, _, env := send(t, "POST", api+"/restore", oauthStatic, restoreBody); status != 200 {
		t.Errorf("restore with the static token: %d %v", status, env)
	}
	status, _, doc := send(t, "GET", s.base+"/.well-known/oauth-protected-resource", "", "")
	if status != 200 || doc["resource"] != oauthPublicURL || doc["authorization_servers"].([]any)[0] != iss.URL {
		t.Errorf("metadata: %d %v", status, doc)
	}
	if n := iss.Fetches(); n != 1 {
		t.Errorf("the key set was fetched %d times, want once (at start)", n)
	}
}

// TestOAuthLegacyOff: --legacy-api off answers the three old routes 404
// naming the flag; /health stays.
func TestOAuthLegacyOff(t *testing.T) {
	iss := oauthtest.New(t, oauthtest.Options{})
	s, _ := startOAuthServer(t, iss, "--legacy-api", "off")
	for _, path := range []string{"/restore/list", "/restore", "/backup"} {
		method := "POST"
		if path == "/restore/list" {
			method = "GET"
		}
		status, _, env := send(t, method, s.base+"/api/v0/data_pipeline/vector"+path, oauthStatic, "{}")
		data, _ := env["data"].(map[string]any)
		if response, _ := data["response"].(string); status != 404 || !strings.Contains(response, "--legacy-api off") {
			t.Errorf("%s: %d %v", path, status, env)
		}
	}
	if status, _, env := send(t, "GET", s.base+"/health", "", ""); status != 200 {
		t.Errorf("/health: %d %v", status, env)
	}
}

// TestOAuthStartRefusals: an issuer that does not answer, or settings that
// cannot work, stop the start with a message saying what to fix.
func TestOAuthStartRefusals(t *testing.T) {
	dead := oauthtest.New(t, oauthtest.Options{})
	dead.Close()
	p := newProject(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"an issuer that does not answer", []string{"--oauth-issuer", dead.URL}, []string{"cannot read the metadata", "reachable"}},
		{"http off loopback", []string{"--oauth-issuer", "http://login.example.com"}, []string{"must be https://"}},
		{"not a URL", []string{"--oauth-issuer", "login.example.com"}, []string{"want the issuer's URL"}},
		{"a relative public URL", []string{"--public-url", "/mcp"}, []string{"--public-url", "absolute"}},
		{"an unknown legacy mode", []string{"--legacy-api", "maybe"}, []string{"--legacy-api must be on, read-only or off"}},
		{"an audience without an issuer", []string{"--oauth-audience", "api://backups"}, []string{"--oauth-issuer is not"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--http", "127.0.0.1:0", "--confirm", "none"}, tc.args...)
			_, stderr, code := runServer(t, runOptions{env: serverEnv(noDatabase, p.Root), timeout: time.Minute}, args...)
			if code == 0 {
				t.Fatalf("the server started:\n%s", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("exit %d, stderr lacks %q:\n%s", code, w, stderr)
				}
			}
		})
	}
}
