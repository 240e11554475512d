package httpapi

import (
	"bytes"
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
		rec := &outcomeRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		h.svc.Metrics.Call(caller.FrontREST, route, rec.err(), time.Since(start))
	})
}

// maxErrorBody bounds what outcomeRecorder keeps of an error's answer: an
// envelope with a message and a few details.
const maxErrorBody = 64 << 10

// outcomeRecorder keeps the status of an answer and, for an error, the
// start of its body: the envelope that names the error's type and reason.
type outcomeRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *outcomeRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *outcomeRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status != http.StatusOK && r.body.Len() < maxErrorBody {
		r.body.Write(p[:min(len(p), maxErrorBody-r.body.Len())])
	}
	return r.ResponseWriter.Write(p)
}

func (r *outcomeRecorder) Flush() { http.NewResponseController(r.ResponseWriter).Flush() }

func (r *outcomeRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// err is the error the answer reports (its type and reason, from the
// envelope writeError and writeRefusal make), or nil for a success.
func (r *outcomeRecorder) err() error {
	if r.status == 0 || r.status == http.StatusOK {
		return nil
	}
	var env struct {
		Data struct {
			Type   string `json:"error_type"`
			Reason string `json:"reason"`
		} `json:"data"`
	}
	_ = json.Unmarshal(r.body.Bytes(), &env) // an answer of no envelope counts as the status says
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
