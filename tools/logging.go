package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// MCP logging: a client that asks for log messages gets the server's log
// records about its own calls (the restore starting, waiting for a lock,
// committed or rolled back, the snapshot saved, a set written) as
// notifications/message, at or above the level it asked for, with the
// logger name LoggerName. A client asks:
//
//   - before protocol 2026-07-28, with logging/setLevel, once per session
//     (mcp-go keeps the level per session and answers an unknown level with
//     invalid params);
//   - from 2026-07-28, which removed logging/setLevel, per request, with the
//     level in the request's _meta (mcp-go reads it into the request's
//     protocol info).
//
// A client that never asked gets none: mcp-go would send a session-era
// client the errors of its calls by default, and the spec leaves that to
// the server; here a client that did not ask is not sent log messages.
//
// The records are the service's own (slog, with the call's context): a
// handler wrapped around the server's log handler forwards a record to the
// client whose call's context it was logged with, so a record reaches only
// the client of the call it is about, and a record logged without a call's
// context (start, shutdown, the legacy REST API) reaches no client. The
// records already name databases without passwords and folders relative to
// the backup root; an error is forwarded as the message its caller gets.

// LoggerName names the server's records in notifications/message.
const LoggerName = ServerName

// loggingClients are the session-era sessions that asked for log messages
// with logging/setLevel, by session id. A session leaves when it ends.
type loggingClients struct {
	mu    sync.Mutex
	asked map[string]bool
}

func newLoggingClients() *loggingClients {
	return &loggingClients{asked: map[string]bool{}}
}

// hook records the sessions that set a level, and forgets ended ones.
func (l *loggingClients) hook(hooks *server.Hooks) {
	hooks.AddAfterSetLevel(func(ctx context.Context, _ any, _ *mcp.SetLevelRequest, _ *mcp.EmptyResult) {
		if session := server.ClientSessionFromContext(ctx); session != nil {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.asked[session.SessionID()] = true
		}
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, session server.ClientSession) {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.asked, session.SessionID())
	})
}

// level is the level the client of ctx's call asked for, and whether it
// asked at all.
func (l *loggingClients) level(ctx context.Context) (mcp.LoggingLevel, bool) {
	session := server.ClientSessionFromContext(ctx)
	if session == nil {
		return "", false // not a call of an MCP client
	}
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.LogLevel, info.LogLevel != ""
	}
	withLevel, ok := session.(server.SessionWithLogging)
	if !ok {
		return "", false
	}
	l.mu.Lock()
	asked := l.asked[session.SessionID()]
	l.mu.Unlock()
	return withLevel.GetLogLevel(), asked
}

// clientLogHandler is a slog.Handler that passes every record to the
// server's own handler (next) and also sends it to the client of the call
// whose context it was logged with, when that client asked for its level.
type clientLogHandler struct {
	next    slog.Handler
	srv     *server.MCPServer
	clients *loggingClients
	attrs   []slog.Attr // from WithAttrs, each within the groups open then
	groups  []string    // open groups, for the attributes that follow
}

// forwardLogs wraps logger so that its records about a call also reach
// that call's client. A logger wrapped before (by another server over the
// same service) is unwrapped first, so no record is sent twice.
func forwardLogs(logger *slog.Logger, srv *server.MCPServer, clients *loggingClients) *slog.Logger {
	next := logger.Handler()
	if h, ok := next.(*clientLogHandler); ok {
		next = h.next
	}
	return slog.New(&clientLogHandler{next: next, srv: srv, clients: clients})
}

func (h *clientLogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level) || h.wants(ctx, level)
}

// wants reports whether the client of ctx's call asked for records of level.
func (h *clientLogHandler) wants(ctx context.Context, level slog.Level) bool {
	asked, ok := h.clients.level(ctx)
	return ok && mcpLevel(level).ShouldSendTo(asked)
}

func (h *clientLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.wants(ctx, r.Level) {
		// Best effort: a client whose stream is full or gone loses the
		// message, and the call goes on.
		note := mcp.NewLoggingMessageNotification(mcpLevel(r.Level), LoggerName, h.data(r))
		_ = h.srv.SendLogMessageToClient(ctx, note)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *clientLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = slices.Clone(h.attrs)
	for _, a := range attrs {
		c.attrs = append(c.attrs, nest(h.groups, a))
	}
	return &c
}

func (h *clientLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.groups = append(slices.Clone(h.groups), name)
	return &c
}

// nest puts a within groups, innermost last.
func nest(groups []string, a slog.Attr) slog.Attr {
	for i := len(groups) - 1; i >= 0; i-- {
		a = slog.Attr{Key: groups[i], Value: slog.GroupValue(a)}
	}
	return a
}

// data is a record as the notification's data: a JSON object with the
// message under "message" and the attributes by key (groups as objects).
func (h *clientLogHandler) data(r slog.Record) map[string]any {
	out := map[string]any{}
	for _, a := range h.attrs {
		addAttr(out, a)
	}
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	if len(attrs) > 0 {
		target := out
		for _, g := range h.groups {
			inner, _ := target[g].(map[string]any)
			if inner == nil {
				inner = map[string]any{}
				target[g] = inner
			}
			target = inner
		}
		for _, a := range attrs {
			addAttr(target, a)
		}
	}
	out["message"] = r.Message
	return out
}

// addAttr adds a to obj as a JSON value.
func addAttr(obj map[string]any, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() != slog.KindGroup {
		return
	}
	switch v.Kind() {
	case slog.KindGroup:
		target := obj
		if a.Key != "" {
			inner, _ := obj[a.Key].(map[string]any)
			if inner == nil {
				inner = map[string]any{}
				obj[a.Key] = inner
			}
			target = inner
		}
		for _, g := range v.Group() {
			addAttr(target, g)
		}
	case slog.KindDuration:
		obj[a.Key] = v.Duration().String()
	case slog.KindTime:
		obj[a.Key] = v.Time().UTC().Format(time.RFC3339Nano)
	case slog.KindAny:
		obj[a.Key] = jsonValue(v.Any())
	default:
		obj[a.Key] = v.Any()
	}
}

// jsonValue is x as JSON can carry it: an error as the message its caller
// is given (apierr's, never the causes beneath), anything JSON cannot
// encode as its text.
func jsonValue(x any) any {
	switch x := x.(type) {
	case nil:
		return nil
	case error:
		return apierr.MessageOf(x)
	}
	if _, err := json.Marshal(x); err != nil {
		return fmt.Sprint(x)
	}
	return x
}

// mcpLevel is an slog level as MCP names it: slog's four levels map to
// debug, info, warning and error; levels between round down.
func mcpLevel(l slog.Level) mcp.LoggingLevel {
	switch {
	case l < slog.LevelInfo:
		return mcp.LoggingLevelDebug
	case l < slog.LevelWarn:
		return mcp.LoggingLevelInfo
	case l < slog.LevelError:
		return mcp.LoggingLevelWarning
	default:
		return mcp.LoggingLevelError
	}
}
