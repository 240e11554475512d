package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/httpapi"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/service"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

// BenchmarkListHTTP lists a backup root of 10,000 sets in 2,000 task
// folders (each with the pipeline's log) through the HTTP API, as the old
// service's callers do: every set in one answer, and the first page of 50.
// It reports the latency's median and 99th percentile. No database is
// involved: list reads only the disk.
func BenchmarkListHTTP(b *testing.B) {
	const folders, perFolder = 2000, 5
	p := pgtest.NewProject(b, pgtest.ProjectOptions{})
	backups := p.Backups
	for f := range folders {
		dir := filepath.Join(backups, fmt.Sprintf("task_2025%04d_000000", f), "vector_bak")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		var last string
		for s := range perFolder {
			ts := fmt.Sprintf("2025%02d%02d_%02d0000", 1+f%12, 1+f%28, s)
			last = ts
			for _, table := range []string{"collection", "embedding"} {
				if err := os.WriteFile(filepath.Join(dir, "langchain_pg_"+table+"_"+ts+".csv"), []byte("uuid,name\r\n"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
		log := fmt.Sprintf("=== Vector Table Backup Log ===\n✓ langchain_pg_collection: 4 rows -> langchain_pg_collection_%s.csv (209.0 B)\n✓ langchain_pg_embedding: 58 rows -> langchain_pg_embedding_%s.csv (764.0 KB)\n", last, last)
		if err := os.WriteFile(filepath.Join(dir, "vector_backup_log.txt"), []byte(log), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	svc := &service.Service{Catalog: p.Catalog(b), Policy: dbaccess.NewPolicy("", nil)}
	mcpServer, err := tools.NewServer(svc, tools.Options{Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	h, err := httpapi.New(svc, mcpServer, httpapi.Options{})
	if err != nil {
		b.Fatal(err)
	}
	base := serveBench(b, h) + "/api/v0/data_pipeline/vector/restore/list"

	for _, bc := range []struct{ name, query string }{{"all", ""}, {"limit50", "?limit=50"}} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			var size int
			for b.Loop() {
				start := time.Now()
				res, err := http.Get(base + bc.query)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("%d %v", res.StatusCode, err)
				}
				lat = append(lat, time.Since(start))
				size = len(body)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(size), "bytes/answer")
		})
	}
}

// serveBench serves h on a loopback port until the benchmark ends, and
// returns its base URL.
func serveBench(b *testing.B, h *httpapi.Handler) string {
	b.Helper()
	ln, err := httpapi.Listen("127.0.0.1:0", false)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- httpapi.Serve(ctx, ln, h, time.Second) }()
	b.Cleanup(func() { cancel(); <-served })
	return "http://" + ln.Addr().String()
}
