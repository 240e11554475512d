package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/vectorops/pgvector-backup-mcp/store"
)

// The bucket section (--bucket): the same truncating restore from a bucket
// on a loopback S3 store (SeaweedFS, started by bench/run.sh --bucket)
// and from the local folder, alternating, at each of --bucket-sizes; the
// requests one restore makes (through a counting proxy, untimed); and list
// over 10,000 sets in 2,000 task prefixes, from the CLI and from the MCP
// list tool of a running server, the folder beside the bucket.

// bucketEnv is the S3 store the section uses, from the environment
// scripts/weed.sh exports.
type bucketEnv struct {
	endpoint, bucket string
	weedPid          int    // 0: the store's CPU is not measured
	weedData         string // its data folder, read into the page cache before each run
	weedVersion      string
}

func bucketEnvFromOS() (*bucketEnv, error) {
	e := &bucketEnv{endpoint: os.Getenv("S3_ENDPOINT"), bucket: os.Getenv("S3_BUCKET")}
	if e.endpoint == "" || e.bucket == "" || os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		return nil, errors.New("--bucket needs S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (bench/run.sh --bucket starts SeaweedFS and sets them)")
	}
	pid := os.Getenv("WEED_PID")
	if tmp := os.Getenv("WEED_TMP"); tmp != "" {
		if b, err := os.ReadFile(filepath.Join(tmp, "weed.pid")); err == nil {
			pid = strings.TrimSpace(string(b))
		}
		e.weedData = filepath.Join(tmp, "data")
	}
	if n, err := strconv.Atoi(pid); err == nil && n > 0 {
		if _, _, err := procStat(n); err == nil {
			e.weedPid = n
		}
	}
	if bin := os.Getenv("WEED_BIN"); bin != "" {
		e.weedVersion = firstLine(bin, "version")
	}
	return e, nil
}

// url is the backup root s3://BUCKET/PREFIX on endpoint.
func (e *bucketEnv) url(endpoint, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?region=us-east-1&endpoint=%s&use_path_style=true", e.bucket, prefix, endpoint)
}

// cpu is the store's CPU seconds so far: the process's and its children's
// (weed mini is one process).
func (e *bucketEnv) cpu(tick float64) *float64 {
	if e.weedPid == 0 {
		return nil
	}
	v, err := procTreeCPU(e.weedPid, tick)
	if err != nil {
		return nil
	}
	return &v
}

// procTreeCPU is pid's utime+stime+cutime+cstime plus that of its live
// children, in seconds.
func procTreeCPU(pid int, tick float64) (float64, error) {
	t, _, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	total := t[0] + t[1] + t[2] + t[3]
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		if ct, ppid, err := procStat(p); err == nil && ppid == pid {
			total += ct[0] + ct[1] + ct[2] + ct[3]
		}
	}
	return float64(total) / tick, nil
}

// upload copies every file below localDir into the bucket under
// prefix/keyPrefix/<relative path>, with workers uploads at a time, with
// gocloud.dev/blob directly: one PutObject per small file (no existence
// check: the store is this run's own), a multipart upload for a large one.
func upload(ctx context.Context, env *bucketEnv, prefix, localDir, keyPrefix string, workers int) (files int, bytes int64, err error) {
	bkt, err := blob.OpenBucket(ctx, fmt.Sprintf("s3://%s?region=us-east-1&endpoint=%s&use_path_style=true&request_checksum_calculation=when_required&response_checksum_validation=when_required",
		env.bucket, env.endpoint))
	if err != nil {
		return 0, 0, err
	}
	defer bkt.Close()
	var rels []string
	err = filepath.WalkDir(localDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(localDir, p)
		rels = append(rels, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	jobs := make(chan string)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range jobs {
				n, err := uploadOne(ctx, bkt, filepath.Join(localDir, filepath.FromSlash(rel)), store.Join(prefix, keyPrefix, rel))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("upload %s: %w", rel, err)
				}
				files++
				bytes += n
				mu.Unlock()
			}
		}()
	}
	for _, rel := range rels {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		jobs <- rel
	}
	close(jobs)
	wg.Wait()
	return files, bytes, firstErr
}

func uploadOne(ctx context.Context, bkt *blob.Bucket, path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w, err := bkt.NewWriter(ctx, key, &blob.WriterOptions{BufferSize: 16 << 20})
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, f)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// removeTree deletes every key below dir (the snapshots a restore saved);
// it returns their total size.
func removeTree(ctx context.Context, st store.Store, dir string) (int64, error) {
	var keys []string
	var size int64
	err := st.Walk(ctx, dir, 10, func(e store.Entry) error {
		keys = append(keys, e.Key)
		size += e.Size
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := st.Remove(ctx, k); err != nil {
			return size, err
		}
	}
	return size, nil
}

// bucketResult is the section's results.
type bucketResult struct {
	Store    string            `json:"store"`
	Rounds   int               `json:"rounds"`
	WeedCPU  bool              `json:"store_cpu_measured"`
	Sizes    []*bucketSize     `json:"sizes"`
	Requests []requestCounts   `json:"requests"`
	List     *bucketListResult `json:"list,omitempty"`
}

type bucketSize struct {
	Rows      int          `json:"rows"`
	Dims      int          `json:"dims"`
	LegacyMiB float64      `json:"legacy_set_mib"`
	Prefix    string       `json:"prefix"`
	UploadS   float64      `json:"upload_s"`
	Runs      []*bucketRun `json:"runs"`
}

type bucketRun struct {
	Round         int      `json:"round"`
	Where         string   `json:"where"` // folder or bucket
	Snapshot      bool     `json:"snapshot"`
	WallS         float64  `json:"wall_s"`
	ClientCPUS    float64  `json:"client_cpu_s"`
	ClientUserS   float64  `json:"client_user_s"`
	ClientSysS    float64  `json:"client_sys_s"`
	PeakRSSMiB    float64  `json:"peak_rss_mib"`
	ServerCPUS    *float64 `json:"server_cpu_s"`
	WeedCPUS      *float64 `json:"store_cpu_s"`
	OtherCPUS     *float64 `json:"other_cpu_s"`
	LoadAvg1      float64  `json:"load_avg_1m_before"`
	ReportedS     float64  `json:"reported_duration_s"`
	SnapshotBytes int64    `json:"snapshot_bytes,omitempty"`
}

// bucketSection runs the section.
func (b *bencher) bucketSection(ctx context.Context) (*bucketResult, error) {
	env, err := bucketEnvFromOS()
	if err != nil {
		return nil, err
	}
	res := &bucketResult{Store: "SeaweedFS `weed mini` on loopback", Rounds: b.cfg.bucketRounds, WeedCPU: env.weedPid != 0}
	if env.weedVersion != "" {
		res.Store += " (" + env.weedVersion + ")"
	}
	if env.weedPid == 0 {
		logf("bucket: the store's process is unknown (no WEED_TMP or WEED_PID): its CPU is not measured")
	}
	proxy, err := startCountingProxy(env.endpoint)
	if err != nil {
		return nil, err
	}
	defer proxy.close()

	for i, sz := range b.cfg.bucketSizes {
		ds := b.ds
		if sz[0] != b.cfg.rows || sz[1] != b.cfg.dims {
			if sz[1] != b.cfg.dims {
				return nil, fmt.Errorf("--bucket-sizes: %dx%d: the dimensions must be --dims (%d): the bench database's schema", sz[0], sz[1], b.cfg.dims)
			}
			c := *b.cfg
			c.rows, c.dims = sz[0], sz[1]
			logf("bucket: generating %d x %d", sz[0], sz[1])
			if ds, err = prepareData(&c); err != nil {
				return nil, err
			}
		}
		db := *b.db
		db.ds = ds
		key := fmt.Sprintf("%dx%d", sz[0], sz[1])
		bs := &bucketSize{Rows: sz[0], Dims: sz[1], LegacyMiB: float64(ds.legacyBytes) / (1 << 20), Prefix: "bench-" + key}
		root := env.url(env.endpoint, bs.Prefix)
		st, err := store.Open(ctx, root, nil)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		// The set's folder, relative to the backup root: its keys' prefix,
		// and the restore's --backup-path.
		rel, err := filepath.Rel(ds.backupRoot, ds.setDir)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		t0 := time.Now()
		if _, _, err := upload(ctx, env, bs.Prefix, ds.setDir, rel, 4); err != nil {
			return nil, err
		}
		bs.UploadS = time.Since(t0).Seconds()
		logf("bucket: uploaded the %s set (%s) to s3://%s/%s/%s in %.1f s", key, mib(ds.legacyBytes), env.bucket, bs.Prefix, rel, bs.UploadS)

		run := func(round int, where string, snapshot bool, endpoint string) (*bucketRun, error) {
			return b.bucketRun(ctx, env, &db, ds, st, env.url(endpoint, bs.Prefix), rel, where, snapshot, round, key)
		}
		for round := 1; round <= b.cfg.bucketRounds; round++ {
			for _, snapshot := range []bool{false, true} {
				wheres := []string{"folder", "bucket"}
				if round%2 == 0 {
					wheres = []string{"bucket", "folder"}
				}
				for _, where := range wheres {
					r, err := run(round, where, snapshot, env.endpoint)
					if err != nil {
						return nil, fmt.Errorf("bucket section, %s, round %d, %s, snapshot %v: %w", key, round, where, snapshot, err)
					}
					bs.Runs = append(bs.Runs, r)
					logf("bucket %s round %d %-6s snapshot %-5v %6.2f s  client CPU %5.2f s (user %.2f sys %.2f)  RSS %4.0f MiB  PostgreSQL CPU %s  store CPU %s  other %s",
						key, round, where, snapshot, r.WallS, r.ClientCPUS, r.ClientUserS, r.ClientSysS, r.PeakRSSMiB,
						fmtOpt(r.ServerCPUS, "%.2f s"), fmtOpt(r.WeedCPUS, "%.2f s"), fmtOpt(r.OtherCPUS, "%.2f s"))
				}
			}
		}
		if i == 0 {
			// The requests of one restore, untimed, through the counting proxy.
			for _, snapshot := range []bool{false, true} {
				proxy.reset()
				if _, err := run(0, "bucket", snapshot, proxy.endpoint); err != nil {
					return nil, fmt.Errorf("bucket section, counting requests: %w", err)
				}
				name := fmt.Sprintf("restore %s x %s, snapshot off", thousands(sz[0]), thousands(sz[1]))
				if snapshot {
					name = fmt.Sprintf("restore %s x %s, snapshot on", thousands(sz[0]), thousands(sz[1]))
				}
				rc := newRequestCounts(name, proxy.reset())
				logf("bucket: %s: %d requests: %s", name, rc.Total, rc)
				res.Requests = append(res.Requests, rc)
			}
		}
		res.Sizes = append(res.Sizes, bs)
	}
	if !b.cfg.skipList {
		if res.List, err = b.bucketList(ctx, env, proxy, res); err != nil {
			return nil, fmt.Errorf("bucket list: %w", err)
		}
	}
	return res, nil
}

// bucketRun restores ds's set from the folder or the bucket (rootURL),
// timed, from full tables, and verifies the tables afterwards.
func (b *bencher) bucketRun(ctx context.Context, env *bucketEnv, db *benchDB, ds *dataset, st store.Store, rootURL, rel, where string, snapshot bool, round int, key string) (*bucketRun, error) {
	args := []string{"restore", "--database-url", db.url, "--project-root", ds.projectRoot, "--timestamp", setTimestamp,
		"--truncate-before-restore", "--yes", "--json"}
	if where == "folder" {
		args = append(args, "--backup-root", ds.backupRoot, "--backup-path", ds.setDir)
	} else {
		args = append(args, "--backup-root", rootURL, "--backup-path", rel)
	}
	if !snapshot {
		args = append(args, "--snapshot=false")
	}
	clean := func() (int64, error) {
		if err := os.RemoveAll(ds.snapshotDir); err != nil {
			return 0, err
		}
		return removeTree(ctx, st, "global_vector_bak")
	}
	if _, err := clean(); err != nil {
		return nil, err
	}
	if err := db.reset(ctx); err != nil {
		return nil, fmt.Errorf("loading the tables before the run: %w", err)
	}
	if err := warm(ds); err != nil {
		return nil, err
	}
	if where == "bucket" && env.weedData != "" {
		if err := warmTree(env.weedData); err != nil {
			return nil, err
		}
	}
	base := filepath.Join(b.runsDir, fmt.Sprintf("bucket-%s-r%d-%s-snap%v", key, round, where, snapshot))
	load := loadAvg()
	before, err := b.server.read()
	if err != nil {
		return nil, err
	}
	weedBefore := env.cpu(b.tick)
	busyBefore, busyErr := machineBusy(b.tick)
	ps, err := timed(ctx, b.cfg.timeout, base, os.Environ(), b.cfg.binary, args...)
	if err != nil {
		return nil, err
	}
	if err := db.waitIdle(ctx); err != nil {
		return nil, err
	}
	busyAfter, err := machineBusy(b.tick)
	if busyErr == nil {
		busyErr = err
	}
	weedAfter := env.cpu(b.tick)
	after, err := b.server.read()
	if err != nil {
		return nil, err
	}
	if ps.ExitCode != 0 {
		return nil, fmt.Errorf("restore exited with status %d:\n%s%s", ps.ExitCode, tail(ps.Stdout), tail(ps.Stderr))
	}
	r := &bucketRun{Round: round, Where: where, Snapshot: snapshot, WallS: ps.WallS, ClientCPUS: ps.UserS + ps.SysS,
		ClientUserS: ps.UserS, ClientSysS: ps.SysS, PeakRSSMiB: float64(ps.MaxRSSKiB) / 1024, LoadAvg1: load}
	other := r.ClientCPUS
	if before != nil && after != nil {
		v := *after - *before
		r.ServerCPUS = &v
		other += v
	}
	if weedBefore != nil && weedAfter != nil {
		v := *weedAfter - *weedBefore
		r.WeedCPUS = &v
		other += v
	}
	if busyErr == nil && r.ServerCPUS != nil {
		o := max(0, busyAfter-busyBefore-other)
		r.OtherCPUS = &o
	}
	var out struct {
		RestorePerformed bool    `json:"restore_performed"`
		Duration         float64 `json:"duration"`
		Snapshot         *struct {
			Rows map[string]int64 `json:"rows"`
		} `json:"snapshot"`
	}
	if err := json.Unmarshal(ps.Stdout, &out); err != nil {
		return nil, fmt.Errorf("restore printed no result JSON: %w", err)
	}
	switch {
	case !out.RestorePerformed:
		return nil, fmt.Errorf("restore_performed is false: %s", ps.Stdout)
	case snapshot && out.Snapshot == nil:
		return nil, fmt.Errorf("no snapshot in the result: %s", ps.Stdout)
	case !snapshot && out.Snapshot != nil:
		return nil, fmt.Errorf("a snapshot with --snapshot=false: %s", ps.Stdout)
	case snapshot && out.Snapshot.Rows[embTable] != int64(len(ds.truth.Embeddings)):
		return nil, fmt.Errorf("the snapshot saved %d embeddings, want %d", out.Snapshot.Rows[embTable], len(ds.truth.Embeddings))
	}
	r.ReportedS = out.Duration
	rng := rand.New(rand.NewPCG(b.cfg.seed, uint64(round)<<8|0xb0))
	if err := db.verify(ctx, rng, b.cfg.sample); err != nil {
		return nil, err
	}
	if snapshot {
		if where == "folder" {
			if r.SnapshotBytes, err = dirSize(ds.snapshotDir); err != nil {
				return nil, err
			}
		}
	}
	n, err := clean()
	if err != nil {
		return nil, err
	}
	if where == "bucket" {
		r.SnapshotBytes = n
	}
	return r, nil
}

// warmTree reads every file below dir.
func warmTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		return warmFiles(p)
	})
}
