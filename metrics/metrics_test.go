package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// TestNilRecordsNothing: the core runs without metrics.
func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.Call("mcp", "restore_vector_backup", nil, time.Second)
	m.Restored(Restore{Mode: ModeTruncate})
	m.StoreError(apierr.New(apierr.StorageError, "x"))
	m.AuditFailed(errors.New("x"))
	if m.Registry() != nil {
		t.Error("a nil Metrics has a registry")
	}
}

// TestRecorded: each method moves the metrics it names, with the labels
// the docs give; a failed restore counts no rows; a dry run counts no rows
// and bytes, but its duration; store errors only for the store's failures.
func TestRecorded(t *testing.T) {
	m := New("1.2.3")
	m.Call("mcp", "restore_vector_backup", nil, 2*time.Second)
	m.Call("rest", "/api/v0/data_pipeline/vector/restore", apierr.New(apierr.Conflict, "held").With("reason", "lock_timeout"), time.Second)
	m.Call("mcp", "list_vector_backups", apierr.New(apierr.StorageError, "gone").With("reason", "unreachable"), time.Millisecond)
	m.Call("mcp", "restore_vector_backup", apierr.New(apierr.Forbidden, "outside the root"), time.Millisecond) // a caller's path: no store error
	m.Call("cli", "create_vector_backup", apierr.New(apierr.Forbidden, "denied").With("reason", "access_denied"), time.Millisecond)
	m.Restored(Restore{Mode: ModeTruncate, Duration: 3 * time.Second, LockWait: 5 * time.Millisecond,
		Rows: map[string]int64{"langchain_pg_collection": 2, "langchain_pg_embedding": 40}, Bytes: 1000, SnapshotBytes: 700})
	m.Restored(Restore{Mode: ModeOnline, DryRun: true, Duration: time.Second, Rows: map[string]int64{"langchain_pg_embedding": 99}, Bytes: 5})
	m.Restored(Restore{Mode: ModeAppend, Err: apierr.New(apierr.Conflict, "key"), Rows: map[string]int64{"langchain_pg_embedding": 7}})
	m.AuditFailed(apierr.New(apierr.StorageError, "full").With("reason", "write_failed"))

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"calls ok", testutil.ToFloat64(m.calls.WithLabelValues("mcp", "restore_vector_backup", "ok")), 1},
		{"calls conflict", testutil.ToFloat64(m.calls.WithLabelValues("rest", "/api/v0/data_pipeline/vector/restore", "conflict")), 1},
		{"store errors unreachable", testutil.ToFloat64(m.storeErrors.WithLabelValues("storage_error", "unreachable")), 1},
		{"store errors access_denied", testutil.ToFloat64(m.storeErrors.WithLabelValues("forbidden", "access_denied")), 1},
		{"store errors write_failed", testutil.ToFloat64(m.storeErrors.WithLabelValues("storage_error", "write_failed")), 1},
		{"store error series", float64(testutil.CollectAndCount(m.storeErrors)), 3},
		{"restores ok truncate", testutil.ToFloat64(m.restores.WithLabelValues("ok", "truncate", "false")), 1},
		{"restores dry run online", testutil.ToFloat64(m.restores.WithLabelValues("ok", "online", "true")), 1},
		{"restores conflict append", testutil.ToFloat64(m.restores.WithLabelValues("conflict", "append", "false")), 1},
		{"rows embedding", testutil.ToFloat64(m.rowsRestored.WithLabelValues("langchain_pg_embedding")), 40},
		{"rows collection", testutil.ToFloat64(m.rowsRestored.WithLabelValues("langchain_pg_collection")), 2},
		{"bytes", testutil.ToFloat64(m.bytesRestored), 1000},
		{"snapshot bytes", testutil.ToFloat64(m.snapshotBytes), 700},
		{"audit failures", testutil.ToFloat64(m.auditFailures), 1},
		{"restore durations", float64(testutil.CollectAndCount(m.restoreTime)), 2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// Served in the text format, every name with the one prefix.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	text := string(body)
	for _, want := range []string{
		`pgvector_backup_build_info{goversion="go`, `version="1.2.3"} 1`,
		`pgvector_backup_lock_wait_seconds_bucket{le="0.005"} 2`, `pgvector_backup_lock_wait_seconds_count 2`,
		`pgvector_backup_restore_duration_seconds_count{mode="truncate"} 1`,
		`pgvector_backup_call_duration_seconds_count{front="mcp",name="restore_vector_backup"} 2`,
		"go_goroutines", "process_",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE "), " "); name != "" &&
			!strings.HasPrefix(name, "pgvector_backup_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("a metric without the prefix: %q", line)
		}
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, Prefix) {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestOwnRegistry: two servers in one process count apart (nothing goes to
// Prometheus's global registry).
func TestOwnRegistry(t *testing.T) {
	a, b := New("a"), New("b")
	a.Call("mcp", "list_vector_backups", nil, time.Millisecond)
	if n := testutil.ToFloat64(b.calls.WithLabelValues("mcp", "list_vector_backups", "ok")); n != 0 {
		t.Errorf("b counted a's call: %v", n)
	}
}
