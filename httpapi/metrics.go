package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/caller"
)

// observe names the front of a call of an old REST route (rest, and the
// route) for the audit trail, and counts it in the service's metrics with
// the outcome its answer says, refusals of the guard included. MCP calls
// at /mcp are counted by tool (tools), other paths not at all: a scan of
// made-up paths must not grow the metrics.
func (h *Handler) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.URL.Path
		if route != ListPath && route != RestorePath && route != BackupPath {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		ctx := caller.WithFront(r.Context(), caller.Front{Name: caller.FrontREST, Operation: route})
		rec := &recorder{ResponseWriter: w, keepError: true}
		next.ServeHTTP(rec, r.WithContext(ctx))
		h.svc.Metrics.Call(caller.FrontREST, route, rec.err(), time.Since(start))
	})
}

// maxErrorBody bounds what a recorder keeps of an error's answer: an
// envelope with a message and a few details.
const maxErrorBody = 64 << 10

// err is the error the answer reports (its type and reason, from the
// envelope writeError and writeRefusal make), or nil for a success.
func (r *recorder) err() error {
	if r.status == 0 || r.status == http.StatusOK {
		return nil
	}
	var env struct {
		Data struct {
			Type   string `json:"error_type"`
			Reason string `json:"reason"`
		} `json:"data"`
	}
	_ = json.Unmarshal(r.errBody.Bytes(), &env) // an answer of no envelope counts as the status says
	typ := apierr.Type(env.Data.Type)
	if typ == "" {
		typ = apierr.DatabaseError
		if r.status < http.StatusInternalServerError {
			typ = apierr.InvalidParams
		}
	}
	e := apierr.New(typ, "")
	if env.Data.Reason != "" {
		e = e.With("reason", env.Data.Reason)
	}
	return e
}
