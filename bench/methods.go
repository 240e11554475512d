package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// method is one way to get the set's rows into the tables.
type method struct {
	ID    string
	Title string
	// OptIn methods run only when --methods names them.
	OptIn bool
	// command returns the program and arguments to time; scratch is a
	// directory for the run's own files.
	command func(b *bencher, scratch string) (string, []string, error)
	// check looks at what the finished command printed; extra notes go into
	// the run's result.
	check func(b *bencher, ps *procStats, extra map[string]any) error
}

var methods = []*method{
	{
		ID:    "ours-nosnap",
		Title: "ours, snapshot off",
		command: func(b *bencher, _ string) (string, []string, error) {
			return b.cfg.binary, append(b.restoreArgs(), "--snapshot=false"), nil
		},
		check: func(b *bencher, ps *procStats, extra map[string]any) error { return checkOurs(b, ps, extra, false) },
	},
	{
		ID:    "ours-snapshot",
		Title: "ours, default snapshot",
		command: func(b *bencher, _ string) (string, []string, error) {
			return b.cfg.binary, b.restoreArgs(), nil
		},
		check: func(b *bencher, ps *procStats, extra map[string]any) error { return checkOurs(b, ps, extra, true) },
	},
	{
		ID:    "ours-online",
		Title: "ours, --online, snapshot off",
		OptIn: true,
		command: func(b *bencher, _ string) (string, []string, error) {
			return b.cfg.binary, append(b.restoreArgs(), "--snapshot=false", "--online"), nil
		},
		check: func(b *bencher, ps *procStats, extra map[string]any) error { return checkOurs(b, ps, extra, false) },
	},
	{
		ID:    "psql-csv",
		Title: "psql \\copy, JSON twin (CSV)",
		command: func(b *bencher, scratch string) (string, []string, error) {
			return b.psqlScript(scratch, fmt.Sprintf(`\copy %s (%s) FROM %s WITH (FORMAT csv, HEADER)`,
				embTable, strings.Join(b.ds.layout.EmbeddingColumns(), ", "), sqlLiteral(b.ds.twinEmb)))
		},
	},
	{
		ID:    "psql-binary",
		Title: "floor: psql \\copy, binary",
		command: func(b *bencher, scratch string) (string, []string, error) {
			return b.psqlScript(scratch, fmt.Sprintf(`\copy %s (%s) FROM %s WITH (FORMAT binary)`,
				embTable, strings.Join(b.ds.layout.EmbeddingColumns(), ", "), sqlLiteral(b.ds.binaryEmb)))
		},
	},
	{
		ID:    "old-python",
		Title: "old service's algorithm (Python)",
		command: func(b *bencher, _ string) (string, []string, error) {
			script, err := filepath.Abs(filepath.Join("bench", "old_service.py"))
			if err != nil {
				return "", nil, err
			}
			if _, err := os.Stat(script); err != nil {
				return "", nil, fmt.Errorf("%w (run from the repository root)", err)
			}
			return b.cfg.python, []string{script, "--dsn", b.db.url,
				"--collection-csv", b.ds.legacyColl, "--embedding-csv", b.ds.legacyEmb}, nil
		},
		check: func(b *bencher, ps *procStats, extra map[string]any) error {
			var out struct {
				Phases map[string]float64 `json:"phases"`
				Rows   map[string]int     `json:"rows"`
			}
			if err := json.Unmarshal(ps.Stdout, &out); err != nil {
				return fmt.Errorf("old_service.py printed no JSON: %w", err)
			}
			if n := out.Rows[embTable]; n != len(b.ds.truth.Embeddings) {
				return fmt.Errorf("old_service.py wrote %d embeddings, want %d", n, len(b.ds.truth.Embeddings))
			}
			var all map[string]any
			json.Unmarshal(ps.Stdout, &all)
			extra["old_service"] = all
			return nil
		},
	},
}

// methodIDs lists the methods run by default, or all of them.
func methodIDs(all bool) []string {
	var ids []string
	for _, m := range methods {
		if all || !m.OptIn {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

func methodByID(id string) *method {
	for _, m := range methods {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// restoreArgs is the real binary's truncating restore of the set.
func (b *bencher) restoreArgs() []string {
	return []string{"restore",
		"--database-url", b.db.url,
		"--project-root", b.ds.projectRoot,
		"--backup-root", b.ds.backupRoot,
		"--backup-path", b.ds.setDir,
		"--timestamp", setTimestamp,
		"--truncate-before-restore", "--yes", "--json",
	}
}

// checkOurs checks the restore's JSON: performed, the rows written, and
// (with a snapshot) that the replaced rows were saved.
func checkOurs(b *bencher, ps *procStats, extra map[string]any, snapshot bool) error {
	var res struct {
		RestorePerformed bool    `json:"restore_performed"`
		Duration         float64 `json:"duration"`
		Snapshot         *struct {
			BackupPath string           `json:"backup_path"`
			Timestamp  string           `json:"timestamp"`
			Rows       map[string]int64 `json:"rows"`
		} `json:"snapshot"`
	}
	if err := json.Unmarshal(ps.Stdout, &res); err != nil {
		return fmt.Errorf("restore printed no result JSON: %w", err)
	}
	if !res.RestorePerformed {
		return fmt.Errorf("restore_performed is false: %s", ps.Stdout)
	}
	extra["reported_duration_s"] = res.Duration
	switch {
	case snapshot && res.Snapshot == nil:
		return fmt.Errorf("no snapshot in the result: %s", ps.Stdout)
	case !snapshot && res.Snapshot != nil:
		return fmt.Errorf("a snapshot with --snapshot=false: %s", ps.Stdout)
	case snapshot:
		if n := res.Snapshot.Rows[embTable]; n != int64(len(b.ds.truth.Embeddings)) {
			return fmt.Errorf("the snapshot saved %d embeddings, want %d", n, len(b.ds.truth.Embeddings))
		}
		size, err := dirSize(b.ds.snapshotDir)
		if err != nil {
			return fmt.Errorf("the snapshot's folder: %w", err)
		}
		extra["snapshot_bytes"] = size
	}
	return nil
}

// psqlScript writes the baseline's psql script: one transaction that
// truncates both tables, loads the collections from the JSON twin and the
// embeddings with embCopy.
func (b *bencher) psqlScript(scratch, embCopy string) (string, []string, error) {
	script := fmt.Sprintf(`\set ON_ERROR_STOP on
BEGIN;
TRUNCATE %[1]s, %[2]s;
\copy %[1]s (%[3]s) FROM %[4]s WITH (FORMAT csv, HEADER)
%[5]s
COMMIT;
`, collTable, embTable, strings.Join(b.ds.layout.CollectionColumns(), ", "), sqlLiteral(b.ds.twinColl), embCopy)
	path := filepath.Join(scratch, "load.sql")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return "", nil, err
	}
	return b.cfg.psql, []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.db.url, "-f", path}, nil
}

func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// bencher runs the methods.
type bencher struct {
	cfg     *config
	ds      *dataset
	db      *benchDB
	server  serverCPU
	tick    float64 // clock ticks per second
	runsDir string
}

// runResult is one timed run.
type runResult struct {
	Round      int            `json:"round"`
	Method     string         `json:"method"`
	WallS      float64        `json:"wall_s"`
	RowsPerS   float64        `json:"rows_per_s"`
	MiBPerS    float64        `json:"legacy_mib_per_s"`
	PeakRSSMiB float64        `json:"peak_rss_mib"`
	ClientCPUS float64        `json:"client_cpu_s"`
	ServerCPUS *float64       `json:"server_cpu_s"`
	OtherCPUS  *float64       `json:"other_cpu_s"` // the machine's CPU during the run, less client and server
	LoadAvg1   float64        `json:"load_avg_1m_before"`
	Verified   bool           `json:"verified"`
	Extra      map[string]any `json:"extra,omitempty"`
}

// runMethod resets the tables, times the method, and verifies the result.
func (b *bencher) runMethod(ctx context.Context, round int, m *method) (*runResult, error) {
	base := filepath.Join(b.runsDir, fmt.Sprintf("r%d-%s", round, m.ID))
	scratch := base + ".d"
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(b.ds.snapshotDir); err != nil {
		return nil, err
	}
	if err := b.db.reset(ctx); err != nil {
		return nil, fmt.Errorf("loading the tables before the run: %w", err)
	}
	name, args, err := m.command(b, scratch)
	if err != nil {
		return nil, err
	}
	if err := warm(b.ds); err != nil {
		return nil, err
	}
	load := loadAvg()
	ps, cpu, err := b.runTimed(ctx, base, name, args...)
	if err != nil {
		return nil, err
	}
	r := &runResult{
		Round:      round,
		Method:     m.ID,
		WallS:      ps.WallS,
		RowsPerS:   float64(len(b.ds.truth.Embeddings)) / ps.WallS,
		MiBPerS:    float64(b.ds.legacyBytes) / (1 << 20) / ps.WallS,
		PeakRSSMiB: float64(ps.MaxRSSKiB) / 1024,
		ClientCPUS: ps.UserS + ps.SysS,
		LoadAvg1:   load,
		Extra:      map[string]any{},
	}
	r.ServerCPUS, r.OtherCPUS = cpu.of(r.ClientCPUS)
	if m.check != nil {
		if err := m.check(b, ps, r.Extra); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(b.cfg.seed, uint64(round)<<8|uint64(slices.Index(methods, m))))
	if err := b.db.verify(ctx, rng, b.cfg.sample); err != nil {
		return nil, err
	}
	r.Verified = true
	if err := os.RemoveAll(b.ds.snapshotDir); err != nil {
		return nil, err
	}
	return r, nil
}

// warm reads the input files, so every method reads them from the page
// cache (they were just generated or read by the previous run anyway).
func warm(ds *dataset) error {
	return warmFiles(ds.legacyColl, ds.legacyEmb, ds.twinColl, ds.twinEmb, ds.binaryEmb)
}

func tail(b []byte) string {
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
