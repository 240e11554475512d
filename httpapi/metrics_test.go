package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/metrics"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// TestObserve: the old REST routes' calls carry their front and are
// counted with the outcome their answer names (type and reason); other
// paths are not counted, whatever a client makes up.
func TestObserve(t *testing.T) {
	m := metrics.New("test")
	h := &Handler{svc: &service.Service{Metrics: m}}
	var fronts []caller.Front
	answer := map[string]func(w http.ResponseWriter){
		RestorePath: func(w http.ResponseWriter) {
			writeError(w, apierr.New(apierr.StorageError, "gone").With("reason", "unreachable"))
		},
		ListPath:   func(w http.ResponseWriter) { writeOK(w, map[string]any{"response": "ok"}) },
		BackupPath: func(w http.ResponseWriter) { http.Error(w, "not an envelope", http.StatusMethodNotAllowed) },
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fronts = append(fronts, caller.FrontOf(r.Context()))
		if a := answer[r.URL.Path]; a != nil {
			a(w)
			return
		}
		notFound(w, r)
	})
	for _, p := range []string{RestorePath, ListPath, BackupPath, "/made/up/" + strings.Repeat("x", 100), MCPPath} {
		h.observe(next).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, p, nil))
	}
	if len(fronts) != 5 || fronts[0] != (caller.Front{Name: caller.FrontREST, Operation: RestorePath}) || fronts[3] != (caller.Front{}) {
		t.Errorf("fronts %+v", fronts)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	text := string(body)
	for _, want := range []string{
		`pgvector_backup_calls_total{front="rest",name="` + RestorePath + `",outcome="storage_error"} 1`,
		`pgvector_backup_calls_total{front="rest",name="` + ListPath + `",outcome="ok"} 1`,
		`pgvector_backup_calls_total{front="rest",name="` + BackupPath + `",outcome="invalid_params"} 1`,
		`pgvector_backup_store_errors_total{reason="unreachable",type="storage_error"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
	if strings.Contains(text, "made/up") || strings.Contains(text, `name="/mcp"`) {
		t.Errorf("a path that is no REST route was counted")
	}
}
