// Package httpapi serves, on one port, the old Python service's REST API
// (same endpoints, envelope and messages, so its scripts keep working) and
// MCP over streamable HTTP at /mcp, behind the checks every route shares:
// Host and Origin, the bearer token (static, or an OAuth JWT whose scopes
// decide what the call may do), bounds on a body's size and on the time to
// receive it, and an access log.
// It is a thin front end: arguments go through the tools' own validator,
// the work through service, errors are mapped by their apierr type.
package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/oauth"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// The legacy routes, as the old service's users call them.
const (
	ListPath    = "/api/v0/data_pipeline/vector/restore/list"
	RestorePath = "/api/v0/data_pipeline/vector/restore"
	BackupPath  = "/api/v0/data_pipeline/vector/backup"
	HealthPath  = "/health"
	MCPPath     = "/mcp"
)

// DefaultMaxBodyBytes bounds a request body: arguments are a few hundred
// bytes, a long collections list or a token a few KiB.
const DefaultMaxBodyBytes = 1 << 20

// Options configure the handler.
type Options struct {
	// AuthToken, when set, is a bearer token every route but /health and
	// the protected resource metadata accepts: its holder may do
	// everything.
	AuthToken string
	// OAuth, when set, verifies the bearer JWTs of one issuer: their
	// scopes decide what each call may do.
	OAuth *oauth.Verifier
	// PublicURL is the URL clients reach /mcp at: with OAuth, the
	// resource its metadata names and its tokens are for.
	PublicURL string
	// LegacyAPI is which old REST routes are served ("" means LegacyOn).
	LegacyAPI LegacyMode
	// AllowOrigins are browser origins ("https://console.example.com")
	// allowed besides the server's own.
	AllowOrigins []string
	MaxBodyBytes int64 // 0 means DefaultMaxBodyBytes
	// HeaderTimeout bounds the time to receive a request's headers, and
	// BodyTimeout the time to receive its body once the headers are in
	// (0 means DefaultHeaderTimeout, DefaultBodyTimeout). Nothing bounds
	// the time to answer: a restore may run for minutes.
	HeaderTimeout time.Duration
	BodyTimeout   time.Duration
	Version       string
	Logger        *slog.Logger
}

// Handler is the HTTP front end.
type Handler struct {
	svc       *service.Service
	validator *schemas.Validator
	mcp       *server.StreamableHTTPServer
	sessions  *sessionRegistry
	opts      Options
	log       *slog.Logger
	root      http.Handler
	openPaths []string // the paths that need no token
}

// New returns the handler serving svc's operations, and mcpServer's tools at
// /mcp.
func New(svc *service.Service, mcpServer *server.MCPServer, opts Options) (*Handler, error) {
	v, err := schemas.NewValidator()
	if err != nil {
		return nil, err
	}
	if err := checkAuthOptions(&opts); err != nil {
		return nil, err
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.HeaderTimeout <= 0 {
		opts.HeaderTimeout = DefaultHeaderTimeout
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, validator: v, opts: opts, log: log, sessions: newSessionRegistry()}
	// mcp-go keeps its own Host check (DNS rebinding) at /mcp; the guard in
	// front of it adds the Origin check and the token it lacks. mcp-go's
	// default session manager accepts any well-formed session id, minted
	// here or not, alive or ended; the registry knows which are live.
	h.mcp = server.NewStreamableHTTPServer(mcpServer,
		server.WithEndpointPath(MCPPath),
		server.WithStreamableHTTPLogger(log),
		server.WithSessionIdleTTL(sessionIdleTTL),
		server.WithSessionIdManager(h.sessions),
	)

	mux := http.NewServeMux()
	mux.Handle(ListPath, h.legacyRoute(caller.Read, only(h.list, http.MethodGet, http.MethodHead)))
	mux.Handle(RestorePath, h.legacyRoute(caller.Write, only(h.restore, http.MethodPost)))
	mux.Handle(BackupPath, h.legacyRoute(caller.Write, only(h.backup, http.MethodPost)))
	mux.Handle(HealthPath, only(h.health, http.MethodGet, http.MethodHead))
	h.openPaths = append([]string{HealthPath}, h.metadataPaths()...)
	for _, p := range h.metadataPaths() {
		mux.Handle(p, only(h.resourceMetadata, http.MethodGet, http.MethodHead))
	}
	mux.Handle(MCPPath, h.mcpFront(h.mcp))
	mux.HandleFunc("/", notFound)
	h.root = h.observe(h.guard(mux))
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.root.ServeHTTP(w, r) }
