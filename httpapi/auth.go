package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/oauth"
)

// LegacyMode is which of the old REST API's routes are served
// (--legacy-api).
type LegacyMode string

// The legacy API's modes. The old REST restore runs without a
// confirmation, as the old service did: read-only closes it (and the
// backup), off closes the three routes.
const (
	LegacyOn       LegacyMode = "on"
	LegacyReadOnly LegacyMode = "read-only"
	LegacyOff      LegacyMode = "off"
)

// ParseLegacyMode reads --legacy-api's value.
func ParseLegacyMode(s string) (LegacyMode, error) {
	switch m := LegacyMode(s); m {
	case LegacyOn, LegacyReadOnly, LegacyOff:
		return m, nil
	}
	return "", fmt.Errorf("--legacy-api must be on, read-only or off, got %q", s)
}

// ResourceMetadataPath is where the protected resource metadata (RFC 9728)
// is served; the same path followed by the resource's own path (/mcp) is
// RFC 9728's form for the resource https://host/mcp.
const ResourceMetadataPath = "/.well-known/oauth-protected-resource"

// resourceMetadataURL is the metadata's URL for the public URL: RFC 9728
// inserts the well-known path between the origin and the resource's path.
func resourceMetadataURL(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + ResourceMetadataPath + strings.TrimSuffix(u.EscapedPath(), "/")
}

// metadataPaths are the paths the metadata is served at: the bare one, the
// form for /mcp, and the form for the public URL's path, when a proxy
// serves /mcp under another.
func (h *Handler) metadataPaths() []string {
	paths := []string{ResourceMetadataPath, ResourceMetadataPath + MCPPath}
	if u, err := url.Parse(h.opts.PublicURL); err == nil {
		if p := ResourceMetadataPath + strings.TrimSuffix(u.EscapedPath(), "/"); p != ResourceMetadataPath && p != paths[1] {
			paths = append(paths, p)
		}
	}
	return paths
}

// checkAuthOptions checks the options of authorization: OAuth needs an
// absolute public URL, the resource its tokens are for.
func checkAuthOptions(opts *Options) error {
	if opts.LegacyAPI == "" {
		opts.LegacyAPI = LegacyOn
	}
	if _, err := ParseLegacyMode(string(opts.LegacyAPI)); err != nil {
		return err
	}
	if opts.OAuth == nil {
		return nil
	}
	u, err := url.Parse(opts.PublicURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("--public-url %q: with --oauth-issuer, give the absolute URL clients reach /mcp at, such as https://backups.example.com/mcp", opts.PublicURL)
	}
	return nil
}

// bearer is the request's bearer token, "" without one.
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// authenticate says who sends r: the static token's holder (compared in
// constant time, over digests, so not even its length shows), else the
// subject of a verified OAuth token, else, with neither configured, the
// local operator. A request it cannot admit gets refused, nil for no
// token (or a wrong static one), or the token's *oauth.Error.
func (h *Handler) authenticate(r *http.Request) (who caller.Caller, admitted bool, refused error) {
	if h.opts.AuthToken == "" && h.opts.OAuth == nil {
		return caller.Local(), true, nil
	}
	token := bearer(r)
	if token == "" {
		return caller.Caller{}, false, nil
	}
	if h.opts.AuthToken != "" {
		a, b := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(h.opts.AuthToken))
		if subtle.ConstantTimeCompare(a[:], b[:]) == 1 {
			return caller.StaticToken(), true, nil
		}
	}
	if h.opts.OAuth == nil {
		return caller.Caller{}, false, nil
	}
	who, err := h.opts.OAuth.Verify(r.Context(), token)
	if err != nil {
		h.log.Info("bearer token refused", "path", r.URL.Path, "reason", oauth.ReasonOf(err), "err", err, "remote", r.RemoteAddr)
		return caller.Caller{}, false, err
	}
	return who, true, nil
}

// challenge is the WWW-Authenticate header of a 401 or 403: with OAuth,
// where its metadata is (RFC 9728), and what was wrong (RFC 6750's error,
// error_description, scope); the values are this server's own words.
func (h *Handler) challenge(params ...string) string {
	var b strings.Builder
	b.WriteString("Bearer ")
	if h.opts.OAuth == nil {
		params = append([]string{"realm", "mcp-server"}, params...)
	} else {
		params = append(params, "resource_metadata", resourceMetadataURL(h.opts.PublicURL))
	}
	for i := 0; i+1 < len(params); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", params[i], params[i+1])
	}
	return b.String()
}

// unauthorized answers 401: no token, or one refused (why, in a word and
// a phrase, never the token's claims).
func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, refused error, refuse func(int, apierr.Type, string, ...any)) {
	how := "the header Authorization: Bearer <token> (the token the operator set with --auth-token or MCP_AUTH_TOKEN)"
	if h.opts.OAuth != nil {
		how = fmt.Sprintf("the header Authorization: Bearer <token>: an access token from the OAuth issuer %s for the audience %s with the scope %s or %s "+
			"(its protected resource metadata, %s, says so), or the operator's --auth-token",
			h.opts.OAuth.Issuer(), h.opts.OAuth.Audience(), caller.Read, caller.Write, resourceMetadataURL(h.opts.PublicURL))
	}
	var bad *oauth.Error
	switch {
	case errors.As(refused, &bad):
		w.Header().Set("WWW-Authenticate", h.challenge("error", "invalid_token", "error_description", bad.Description()))
		refuse(http.StatusUnauthorized, apierr.Forbidden, "the bearer token was refused: %s (%s); this server needs %s", bad.Description(), bad.Reason, how)
	case bearer(r) != "":
		w.Header().Set("WWW-Authenticate", h.challenge("error", "invalid_token", "error_description", "the token is not one this server accepts"))
		refuse(http.StatusUnauthorized, apierr.Forbidden, "the bearer token is not one this server accepts; it needs %s", how)
	default:
		w.Header().Set("WWW-Authenticate", h.challenge())
		refuse(http.StatusUnauthorized, apierr.Forbidden, "this server needs %s", how)
	}
}

// legacyRoute serves one of the old REST routes as --legacy-api allows,
// to a caller granted scope: off answers 404, read-only answers the
// writing routes 403, and a caller without the scope gets 403
// insufficient_scope naming it.
func (h *Handler) legacyRoute(scope caller.Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case h.opts.LegacyAPI == LegacyOff:
			writeRefusal(w, http.StatusNotFound, apierr.ResourceNotFound,
				"the old REST API is turned off on this server (--legacy-api off): %s is not served; use the MCP tools at %s", r.URL.Path, MCPPath)
			return
		case h.opts.LegacyAPI == LegacyReadOnly && scope == caller.Write:
			writeRefusal(w, http.StatusForbidden, apierr.Forbidden,
				"the operator closed the old REST API's writes with --legacy-api read-only: %s is refused (it would run without a confirmation); "+
					"restore and back up through the MCP tools at %s, whose restore_vector_backup asks for confirmation", r.URL.Path, MCPPath)
			return
		}
		if err := caller.From(r.Context()).Require(scope); err != nil {
			w.Header().Set("WWW-Authenticate", h.challenge("error", "insufficient_scope", "scope", string(scope)))
			writeError(w, apierr.Wrap(apierr.Forbidden, err, "%s %s: %v", r.Method, r.URL.Path, err).
				With("reason", "insufficient_scope").With("scope", string(scope)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// resourceMetadata serves the protected resource metadata (RFC 9728) when
// OAuth is configured: the resource, its issuer, its scopes. It needs no
// token: it is how a client learns where to get one.
func (h *Handler) resourceMetadata(w http.ResponseWriter, r *http.Request) {
	if h.opts.OAuth == nil {
		writeRefusal(w, http.StatusNotFound, apierr.ResourceNotFound,
			"no protected resource metadata: this server accepts no OAuth tokens (the operator can set --oauth-issuer)")
		return
	}
	scopes := make([]string, 0, 2)
	for _, s := range caller.Scopes() {
		scopes = append(scopes, string(s))
	}
	body, err := json.Marshal(map[string]any{
		"resource":                 h.opts.PublicURL,
		"authorization_servers":    []string{h.opts.OAuth.Issuer()},
		"scopes_supported":         scopes,
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "pgvector backups (" + h.opts.PublicURL + ")",
	})
	if err != nil {
		writeRefusal(w, http.StatusInternalServerError, apierr.DatabaseError, "cannot encode the metadata")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
}
