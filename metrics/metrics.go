// Package metrics is the server's Prometheus metrics, on a registry of its
// own: calls by front end, name and outcome, restores, rows and bytes
// restored, restore and lock-wait durations, snapshot bytes, store errors
// and build information. A nil *Metrics records nothing, so the core runs
// the same without metrics.
package metrics

import (
	"errors"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Prefix starts every metric's name.
const Prefix = "pgvector_backup_"

// OutcomeOK is the outcome label of a call or restore that succeeded;
// a failed one is labelled with its error type in lower case
// (invalid_params, conflict, confirmation_required...).
const OutcomeOK = "ok"

// Restore modes, as the restores' mode label says them.
const (
	ModeTruncate    = "truncate"
	ModeOnline      = "online" // truncate_before_restore with online
	ModeCollections = "collections"
	ModeAppend      = "append"
)

// Buckets of the duration histograms, in seconds. A restore takes from
// under a second (a few thousand rows) to many minutes (millions, with an
// HNSW index to build again); a lock wait from a millisecond (nobody in
// the way) to the 30 s default of --lock-timeout, and a little beyond.
func callBuckets() []float64 {
	return []float64{0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}
}

func restoreBuckets() []float64 {
	return []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}
}

func lockBuckets() []float64 {
	return []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60}
}

// Metrics are the server's metrics and the registry that serves them.
type Metrics struct {
	registry      *prometheus.Registry
	calls         *prometheus.CounterVec
	callDuration  *prometheus.HistogramVec
	restores      *prometheus.CounterVec
	rowsRestored  *prometheus.CounterVec
	bytesRestored prometheus.Counter
	restoreTime   *prometheus.HistogramVec
	lockWait      prometheus.Histogram
	snapshotBytes prometheus.Counter
	storeErrors   *prometheus.CounterVec
	auditFailures prometheus.Counter
}

// New makes the metrics on a registry of their own (never Prometheus's
// global one: two servers in one process, as the tests run them, must not
// share counters), with the Go runtime's and the process's collectors.
func New(version string) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Prefix + "calls_total",
			Help: "Calls by front end (mcp, rest, cli), name (the tool, or the REST route) and outcome (ok, or the error type in lower case).",
		}, []string{"front", "name", "outcome"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    Prefix + "call_duration_seconds",
			Help:    "How long calls took, by front end and name.",
			Buckets: callBuckets(),
		}, []string{"front", "name"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Prefix + "restores_total",
			Help: "Restores that reached the database, by outcome (ok, or the error type in lower case), mode (truncate, online, collections, append) and dry_run (true: rolled back by request).",
		}, []string{"outcome", "mode", "dry_run"}),
		rowsRestored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Prefix + "restored_rows_total",
			Help: "Rows written by committed restores, by table (dry runs are not counted).",
		}, []string{"table"}),
		bytesRestored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: Prefix + "restored_bytes_total",
			Help: "Bytes of backup files read into committed restores.",
		}),
		restoreTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    Prefix + "restore_duration_seconds",
			Help:    "Duration of restores that committed or finished a dry run, until the commit (or rollback), by mode.",
			Buckets: restoreBuckets(),
		}, []string{"mode"}),
		lockWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    Prefix + "lock_wait_seconds",
			Help:    "How long restores that got their locks waited for them (the restore lock of the database, then the tables').",
			Buckets: lockBuckets(),
		}),
		snapshotBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: Prefix + "snapshot_bytes_total",
			Help: "Bytes of pre-restore snapshot sets written (the rows restores replaced, saved for an undo).",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Prefix + "store_errors_total",
			Help: "Calls that failed on the backup root (folder or bucket), and audit records that could not be written, by error type and reason.",
		}, []string{"type", "reason"}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: Prefix + "audit_write_failures_total",
			Help: "Audit records that could not be written (the call's result says so in errors).",
		}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: Prefix + "build_info",
		Help: "Always 1: the server's version and the Go version it was built with.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, m.calls, m.callDuration, m.restores, m.rowsRestored, m.bytesRestored,
		m.restoreTime, m.lockWait, m.snapshotBytes, m.storeErrors, m.auditFailures,
	)
	return m
}

// Handler serves the registry in Prometheus's text format (or OpenMetrics,
// when the scraper asks).
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry is the metrics' own registry, for tests that gather it.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// Outcome is the outcome label of err: OutcomeOK for nil, else its error
// type in lower case.
func Outcome(err error) string {
	if err == nil {
		return OutcomeOK
	}
	return strings.ToLower(string(apierr.TypeOf(err)))
}

// Call records one call of name through front, its outcome and duration;
// a call that failed on the backup root counts as a store error too.
func (m *Metrics) Call(front, name string, err error, took time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(front, name, Outcome(err)).Inc()
	m.callDuration.WithLabelValues(front, name).Observe(took.Seconds())
	m.StoreError(err)
}

// Restore is what one restore that reached the database did.
type Restore struct {
	Mode   string // ModeTruncate, ModeOnline, ModeCollections or ModeAppend
	DryRun bool
	Err    error // nil when it committed (or finished its dry run)

	// Set when Err is nil.
	Duration      time.Duration
	LockWait      time.Duration
	Rows          map[string]int64 // written, by table
	Bytes         int64            // of backup files read
	SnapshotBytes int64            // of the snapshot set written first
}

// Restored records a restore that reached the database: its outcome, and
// when it succeeded, its duration and lock wait; the rows and bytes when it
// committed.
func (m *Metrics) Restored(r Restore) {
	if m == nil {
		return
	}
	dry := "false"
	if r.DryRun {
		dry = "true"
	}
	m.restores.WithLabelValues(Outcome(r.Err), r.Mode, dry).Inc()
	if r.Err != nil {
		return
	}
	m.restoreTime.WithLabelValues(r.Mode).Observe(r.Duration.Seconds())
	m.lockWait.Observe(r.LockWait.Seconds())
	if r.DryRun {
		return
	}
	for table, n := range r.Rows {
		m.rowsRestored.WithLabelValues(table).Add(float64(n))
	}
	m.bytesRestored.Add(float64(r.Bytes))
	m.snapshotBytes.Add(float64(r.SnapshotBytes))
}

// AuditFailed records an audit record that could not be written, and why.
func (m *Metrics) AuditFailed(err error) {
	if m == nil {
		return
	}
	m.auditFailures.Inc()
	m.StoreError(err)
}

// StoreError counts err when it is a failure of the backup root: a
// STORAGE_ERROR (reasons unreachable, throttled, no_such_bucket,
// store_failed, write_failed...), or a FORBIDDEN of reason access_denied;
// a FORBIDDEN without it is a caller's path refused, not a store failing.
// Other errors and nil are not counted.
func (m *Metrics) StoreError(err error) {
	if m == nil || err == nil {
		return
	}
	var e *apierr.Error
	if !errors.As(err, &e) {
		return
	}
	switch {
	case e.Type == apierr.StorageError:
	case e.Type == apierr.Forbidden && e.Reason == "access_denied":
		// The store's own refusal (store/folder.go, store/bucket.go): the
		// backup root refused the server, not the server the caller.
	default:
		return
	}
	reason := e.Reason
	if reason == "" {
		reason = "unspecified"
	}
	m.storeErrors.WithLabelValues(strings.ToLower(string(e.Type)), reason).Inc()
}
