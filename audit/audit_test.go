package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/audit"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/s3test"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// roots open the two kinds of backup root: a folder, and a bucket prefix of
// the test S3 store (a test without one skips only the bucket).
func roots() map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"folder": func(t *testing.T) store.Store { return store.NewFolder(t.TempDir()) },
		"bucket": func(t *testing.T) store.Store { return pgtest.OpenStore(t, s3test.NewPrefix(t)) },
	}
}

func record(at time.Time, op string) *audit.Record {
	return &audit.Record{
		Time: at, Who: audit.Who{Subject: "alice", Client: "agent"}, Front: "mcp", Operation: op,
		Set:    &audit.SetRef{Path: "./data_pipeline/training_data/global_vector_bak", Timestamp: "20250721_215758"},
		Target: "localhost:5432/vanna", Outcome: audit.OutcomeCommitted,
		Options: audit.Options{TruncateBeforeRestore: true},
		Rows:    map[string]int64{"langchain_pg_embedding": 40},
	}
}

// TestTrail: records are written under audit/YYYY/MM/DD/ and read back
// newest first, whole; none is ever replaced, not even by a writer that
// names the same key.
func TestTrail(t *testing.T) {
	ctx := context.Background()
	for name, open := range roots() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			trail := audit.New(st)
			day1 := time.Date(2026, 11, 30, 23, 59, 59, 999, time.UTC)
			day2 := time.Date(2026, 12, 1, 0, 0, 0, 1, time.UTC)
			var keys []string
			for i, at := range []time.Time{day1, day2, day2.Add(time.Hour)} {
				key, err := trail.Write(ctx, record(at, []string{"a", "b", "c"}[i]))
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, key)
			}
			if !strings.HasPrefix(keys[0], "audit/2026/11/30/20261130T235959.000000999Z-") || !strings.HasSuffix(keys[0], ".json") {
				t.Errorf("key %q", keys[0])
			}
			recs, problems, err := trail.Newest(ctx, 2)
			if err != nil || len(problems) > 0 {
				t.Fatal(err, problems)
			}
			if len(recs) != 2 || recs[0].Operation != "c" || recs[1].Operation != "b" {
				t.Fatalf("newest 2: %+v", recs)
			}
			want := record(day2.Add(time.Hour), "c")
			got := recs[0]
			if !got.Time.Equal(want.Time) || got.ID == "" || got.Who != want.Who || *got.Set != *want.Set || got.Rows["langchain_pg_embedding"] != 40 || !got.Options.TruncateBeforeRestore {
				t.Errorf("read back %+v, want %+v", got, want)
			}
			all, _, err := trail.Newest(ctx, 0)
			if err != nil || len(all) != 3 || all[2].Operation != "a" {
				t.Fatalf("all: %+v, %v", all, err)
			}

			// Immutable: the same key cannot be written again.
			if err := store.WriteFile(ctx, st, keys[1], []byte(`{"forged":true}`)); !errors.Is(err, store.ErrExist) {
				t.Errorf("rewriting a record: %v, want ErrExist", err)
			}
			data, err := store.ReadAll(ctx, st, keys[1], audit.MaxRecordBytes)
			if err != nil || strings.Contains(string(data), "forged") {
				t.Errorf("the record changed: %s, %v", data, err)
			}
		})
	}
}

// TestConcurrentWriters: writers of one instant (one second, one
// nanosecond even) all get records of their own.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	for name, open := range roots() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			trail := audit.New(st)
			at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
			const n = 16
			var wg sync.WaitGroup
			keys := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					keys[i], errs[i] = trail.Write(ctx, record(at, "restore_vector_backup"))
				}()
			}
			wg.Wait()
			seen := map[string]bool{}
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("writer %d: %v", i, errs[i])
				}
				seen[keys[i]] = true
			}
			recs, problems, err := trail.Newest(ctx, 0)
			if err != nil || len(problems) > 0 || len(seen) != n || len(recs) != n {
				t.Fatalf("%d distinct keys, %d records read (problems %v, %v); want %d", len(seen), len(recs), problems, err, n)
			}
		})
	}
}

// TestHostileTrail: files of the trail that are no record (garbage, a
// record without its fields, one too big, a link out of the root, a link
// to a huge file, a folder named like a record) are reported and skipped;
// the records around them are read.
func TestHostileTrail(t *testing.T) {
	ctx := context.Background()
	day := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for name, open := range roots() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			trail := audit.New(st)
			good := []string{}
			for i := range 2 {
				key, err := trail.Write(ctx, record(day.Add(time.Duration(i)*time.Hour), "restore_vector_backup"))
				if err != nil {
					t.Fatal(err)
				}
				good = append(good, key)
			}
			dir := store.Dir(good[0])
			bad := map[string][]byte{
				"20261207T103000.000000000Z-garbage.json": []byte("\x00\xffnot json"),
				"20261207T103100.000000000Z-empty.json":   []byte(`{"who":{"subject":"x"}}`),
				"20261207T103200.000000000Z-array.json":   []byte(`[1,2,3]`),
				"20261207T103300.000000000Z-huge.json":    []byte(`{"operation":"` + strings.Repeat("x", audit.MaxRecordBytes) + `"}`),
			}
			for n, data := range bad {
				if err := store.WriteFile(ctx, st, store.Join(dir, n), data); err != nil {
					t.Fatal(err)
				}
			}
			wantProblems := len(bad)
			if local := st.Local(); local != "" {
				// A record swapped for links: out of the root, and to a
				// huge file inside it; and a folder named like a record.
				d := filepath.Join(local, filepath.FromSlash(dir))
				if err := os.Symlink("/etc/passwd", filepath.Join(d, "20261207T103400.000000000Z-out.json")); err != nil {
					t.Fatal(err)
				}
				huge := filepath.Join(local, "huge")
				if err := os.WriteFile(huge, nil, 0o644); err != nil || os.Truncate(huge, 1<<40) != nil {
					t.Fatal("cannot make a sparse huge file")
				}
				if err := os.Symlink(huge, filepath.Join(d, "20261207T103500.000000000Z-link.json")); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(filepath.Join(d, "20261207T103600.000000000Z-dir.json"), 0o755); err != nil {
					t.Fatal(err)
				}
				// Swapped for the link: it was a good record.
				os.Remove(filepath.Join(local, filepath.FromSlash(good[0])))
				if err := os.Symlink(huge, filepath.Join(local, filepath.FromSlash(good[0]))); err != nil {
					t.Fatal(err)
				}
				// The link out of the root is left out of the listing; the
				// links to the huge file are reported; a folder is no file.
				wantProblems += 2
				good = good[1:]
			}
			recs, problems, err := trail.Newest(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(good) {
				t.Errorf("%d records read, want %d", len(recs), len(good))
			}
			if len(problems) != wantProblems {
				t.Errorf("%d problems, want %d: %v", len(problems), wantProblems, problems)
			}
			for _, p := range problems {
				if len(p.Error()) > 1000 {
					t.Errorf("a problem's text runs to %d bytes", len(p.Error()))
				}
			}
		})
	}
}

// TestNewestReadsOnlyWhatItNeeds: the newest records come from the newest
// days; an older day is not read at all (its unreadable file goes
// unreported).
func TestNewestReadsOnlyWhatItNeeds(t *testing.T) {
	ctx := context.Background()
	st := store.NewFolder(t.TempDir())
	trail := audit.New(st)
	old := audit.Key(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "0000000000000000")
	if err := store.WriteFile(ctx, st, old, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := trail.Write(ctx, record(time.Date(2026, 12, 7, i, 0, 0, 0, time.UTC), "restore_vector_backup")); err != nil {
			t.Fatal(err)
		}
	}
	recs, problems, err := trail.Newest(ctx, 3)
	if err != nil || len(recs) != 3 || len(problems) != 0 {
		t.Fatalf("%d records, problems %v, %v: the older day was read", len(recs), problems, err)
	}
	if _, problems, _ := trail.Newest(ctx, 4); len(problems) != 1 {
		t.Errorf("asked for more than the newest day holds: problems %v, want the old garbage", problems)
	}
}

// TestRecordJSON: the field names operators' scripts read.
func TestRecordJSON(t *testing.T) {
	yes := true
	r := record(time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC), "restore_vector_backup")
	r.ID, r.Options.Snapshot, r.Options.Confirmed = "0123456789abcdef", &yes, true
	r.Snapshot = &audit.SetRef{Path: "./data_pipeline/training_data/global_vector_bak", Timestamp: "20261207_010203"}
	r.DurationSeconds = 1.5
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "id", "who", "front", "operation", "set", "target", "options", "outcome", "rows", "snapshot", "duration_seconds"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("no field %q in %s", k, data)
		}
	}
	if obj["time"] != "2026-12-07T01:02:03.456789Z" {
		t.Errorf("time %v", obj["time"])
	}
	if strings.Contains(string(data), "confirm_token\"") || strings.Contains(string(data), "password") {
		t.Errorf("a secret's field: %s", data)
	}
}
