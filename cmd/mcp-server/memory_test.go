//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestMemoryCeiling: hostile backup files cannot take the server's memory.
// One inspect of a set whose one embedding row holds 23 fields of 15 MiB
// (345 MB) peaks under 160 MB; ten at once, through one server, under 512
// MB; each is refused with an error that names the line. Peaks are the
// server process's own (VmHWM).
func TestMemoryCeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 345 MB file")
	}
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
	db := p.DB
	const ts = "20250721_215758"
	p.Write(t, sample.Generate(1, []string{"sql"}, 2, 8), "global_vector_bak", ts)
	writeHostileRow(t, filepath.Join(p.Backups, "global_vector_bak", layout.FileName(layout.EmbeddingTable, ts)), 23, 15<<20)
	args := map[string]any{"backup_path": "./data_pipeline/training_data/global_vector_bak", "timestamp": ts, "diff": true}

	inspect := func(s *stdioServer) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		res, out, err := s.callTool(ctx, t, "inspect_vector_backup", args, nil)
		if err != nil {
			t.Error(err)
			return
		}
		if res.IsError || out["restorable"] != false || !strings.Contains(fmt.Sprint(out["problems"]), "line 2") {
			t.Errorf("hostile set: restorable %v, problems %v; want refused, naming line 2", out["restorable"], out["problems"])
		}
	}

	one := startServer(t, protocols[0], serverOptions{db: db, projectRoot: p.Root})
	inspect(one)
	if peak := peakRSS(t, one.cmd.Process.Pid); peak > 160<<20 {
		t.Errorf("one hostile inspect: peak RSS %d MB, want at most 160 MB", peak>>20)
	} else {
		t.Logf("one hostile inspect: peak RSS %d MB", peak>>20)
	}

	ten := startServer(t, protocols[0], serverOptions{db: db, projectRoot: p.Root})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); inspect(ten) }()
	}
	wg.Wait()
	if peak := peakRSS(t, ten.cmd.Process.Pid); peak > 512<<20 {
		t.Errorf("ten hostile inspects at once: peak RSS %d MB, want at most 512 MB", peak>>20)
	} else {
		t.Logf("ten hostile inspects at once: peak RSS %d MB", peak>>20)
	}
}

// writeHostileRow writes an embedding file whose one data row has fields
// fields of size bytes each, streaming it to disk.
func writeHostileRow(t *testing.T, path string, fields, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("id,collection_id,embedding,document,cmetadata\r\n")
	chunk := []byte(strings.Repeat("x", 1<<20))
	for i := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		for n := 0; n < size; n += len(chunk) {
			w.Write(chunk[:min(len(chunk), size-n)])
		}
	}
	w.WriteString("\r\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
