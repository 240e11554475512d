package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Sizes of the list measurement's tree.
const (
	listFolders   = 2000
	listPerFolder = 5
)

// inspectResult is `mcp-server inspect` of the benchmark's set.
type inspectResult struct {
	Runs       []float64 `json:"wall_s"`
	MedianS    float64   `json:"median_wall_s"`
	MiBPerS    float64   `json:"legacy_mib_per_s"`
	RowsPerS   float64   `json:"rows_per_s"`
	PeakRSSMiB float64   `json:"peak_rss_mib"`
	ClientCPUS float64   `json:"median_client_cpu_s"`
}

// inspect times `mcp-server inspect --truncate-before-restore` of the set
// against the full tables (it reads every row of both files, and plans the
// restore against the database), --rounds times.
func (b *bencher) inspect(ctx context.Context) (*inspectResult, error) {
	if err := b.db.reset(ctx); err != nil {
		return nil, err
	}
	args := []string{"inspect",
		"--database-url", b.db.url,
		"--project-root", b.ds.projectRoot,
		"--backup-root", b.ds.backupRoot,
		"--backup-path", b.ds.setDir,
		"--timestamp", setTimestamp,
		"--truncate-before-restore", "--json",
	}
	res := &inspectResult{}
	var cpu []float64
	for i := 1; i <= b.cfg.rounds; i++ {
		if err := warm(b.ds); err != nil {
			return nil, err
		}
		ps, err := timed(ctx, b.cfg.timeout, filepath.Join(b.runsDir, fmt.Sprintf("inspect-%d", i)), os.Environ(), b.cfg.binary, args...)
		if err != nil {
			return nil, err
		}
		if ps.ExitCode != 0 {
			return nil, fmt.Errorf("inspect exited with status %d:\n%s%s", ps.ExitCode, tail(ps.Stdout), tail(ps.Stderr))
		}
		var out struct {
			Restorable bool `json:"restorable"`
			Files      map[string]struct {
				Rows int64 `json:"rows"`
			} `json:"files"`
		}
		if err := json.Unmarshal(ps.Stdout, &out); err != nil {
			return nil, fmt.Errorf("inspect printed no result JSON: %w", err)
		}
		if !out.Restorable || out.Files[embTable].Rows != int64(len(b.ds.truth.Embeddings)) {
			return nil, fmt.Errorf("inspect says restorable=%v, %d embedding rows; want true, %d", out.Restorable, out.Files[embTable].Rows, len(b.ds.truth.Embeddings))
		}
		res.Runs = append(res.Runs, ps.WallS)
		cpu = append(cpu, ps.UserS+ps.SysS)
		res.PeakRSSMiB = max(res.PeakRSSMiB, float64(ps.MaxRSSKiB)/1024)
		logf("inspect %d: %.2f s", i, ps.WallS)
	}
	res.MedianS = median(res.Runs)
	res.ClientCPUS = median(cpu)
	res.MiBPerS = float64(b.ds.legacyBytes) / (1 << 20) / res.MedianS
	res.RowsPerS = float64(len(b.ds.truth.Embeddings)) / res.MedianS
	return res, nil
}

// listResult is `mcp-server list --json` over the tree.
type listResult struct {
	Sets      int          `json:"sets"`
	Locations int          `json:"locations"`
	Cases     []listTiming `json:"cases"`
}

type listTiming struct {
	Name       string    `json:"name"`
	Args       []string  `json:"args"`
	Runs       []float64 `json:"wall_s"`
	MedianS    float64   `json:"median_wall_s"`
	MinS       float64   `json:"min_wall_s"`
	MaxS       float64   `json:"max_wall_s"`
	PeakRSSMiB float64   `json:"peak_rss_mib"`
	Bytes      int       `json:"answer_bytes"`
}

// list times `mcp-server list --json` over 10,000 sets in 2,000 task
// folders: the first page of the default size, and a page of 1,000 (the
// largest the command allows). One untimed run first warms the page cache.
func (b *bencher) list(ctx context.Context) (*listResult, error) {
	project, err := listTree(b.cfg.dataDir, listFolders, listPerFolder)
	if err != nil {
		return nil, err
	}
	base := []string{"list", "--project-root", project, "--json"}
	res := &listResult{Sets: listFolders * listPerFolder, Locations: listFolders}
	for _, c := range []struct {
		name  string
		extra []string
		log   string
	}{{"first page (default limit)", nil, "list-page"}, {"page of 1,000 (--limit 1000)", []string{"--limit", "1000"}, "list-1000"}} {
		args := append(slices.Clone(base), c.extra...)
		t := listTiming{Name: c.name, Args: args[1:]}
		for i := 0; i <= b.cfg.listRuns; i++ {
			ps, err := timed(ctx, b.cfg.timeout, filepath.Join(b.runsDir, fmt.Sprintf("%s-%d", c.log, i)), os.Environ(), b.cfg.binary, args...)
			if err != nil {
				return nil, err
			}
			if ps.ExitCode != 0 {
				return nil, fmt.Errorf("list exited with status %d:\n%s%s", ps.ExitCode, tail(ps.Stdout), tail(ps.Stderr))
			}
			var out struct {
				Summary struct {
					TotalBackupSets int `json:"total_backup_sets"`
					TotalLocations  int `json:"total_locations"`
				} `json:"summary"`
			}
			if err := json.Unmarshal(ps.Stdout, &out); err != nil {
				return nil, fmt.Errorf("list printed no result JSON: %w", err)
			}
			if out.Summary.TotalBackupSets != res.Sets || out.Summary.TotalLocations != res.Locations {
				return nil, fmt.Errorf("list counts %d sets in %d locations, want %d in %d", out.Summary.TotalBackupSets, out.Summary.TotalLocations, res.Sets, res.Locations)
			}
			if i == 0 {
				continue // warm-up
			}
			t.Runs = append(t.Runs, ps.WallS)
			t.PeakRSSMiB = max(t.PeakRSSMiB, float64(ps.MaxRSSKiB)/1024)
			t.Bytes = len(ps.Stdout)
		}
		t.MedianS, t.MinS, t.MaxS = median(t.Runs), slices.Min(t.Runs), slices.Max(t.Runs)
		logf("list, %s: median %.0f ms", c.name, t.MedianS*1000)
		res.Cases = append(res.Cases, t)
	}
	return res, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
