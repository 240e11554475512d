// Package audit is the immutable trail of the calls that changed rows or
// wrote sets: one JSON record per call, created exclusively (in a bucket, a
// conditional create) under audit/YYYY/MM/DD/ in the backup root, through
// the store, and read back newest first.
package audit

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// Record is one call, as written. Its field names are stable: operators'
// scripts read them (docs/service.md shows one).
type Record struct {
	// Time is when the call finished, in UTC, written in RFC 3339 with
	// nanoseconds.
	Time time.Time `json:"time"`
	// ID is random, 16 hex digits: two records of one instant differ.
	ID        string  `json:"id"`
	Who       Who     `json:"who"`
	Front     string  `json:"front"`     // mcp, rest or cli
	Operation string  `json:"operation"` // the tool's name, or the REST route
	Set       *SetRef `json:"set,omitempty"`
	// Target is the database changed or read from, without its password
	// (host:port/database).
	Target  string  `json:"target"`
	Options Options `json:"options"`
	// Outcome is OutcomeCommitted, OutcomeDryRun, OutcomeWritten, or the
	// error type of a call that failed (CONFLICT, DATABASE_ERROR...);
	// Error is then its message.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// Rows are the rows restored (or for a dry run, that would be), or
	// backed up, by table.
	Rows            map[string]int64 `json:"rows,omitempty"`
	Snapshot        *SetRef          `json:"snapshot,omitempty"` // the rows a restore replaced, saved first
	DurationSeconds float64          `json:"duration_seconds"`
}

// Outcomes of calls that succeeded.
const (
	OutcomeCommitted = "committed" // a restore committed
	OutcomeDryRun    = "dry_run"   // a dry run finished and rolled back
	OutcomeWritten   = "written"   // a backup set was written
)

// Who made the call.
type Who struct {
	// Subject is the OAuth token's sub, "static-token", or "local" for
	// stdio and the command line.
	Subject string `json:"subject"`
	Client  string `json:"client,omitempty"` // the OAuth client, when the token names one
}

// SetRef names a backup set as callers name it.
type SetRef struct {
	Path      string `json:"path"`                // backup_path, as list_vector_backups gives it
	Timestamp string `json:"timestamp,omitempty"` // none for a backup that failed
}

// Options are the call's arguments that say what it did, named as the
// tools name them. Never a password (the target is named without it) and
// never a confirmation token: only whether one approved the call.
type Options struct {
	Tables                []string `json:"tables,omitempty"`
	TruncateBeforeRestore bool     `json:"truncate_before_restore,omitempty"`
	Online                bool     `json:"online,omitempty"`
	Collections           []string `json:"collections,omitempty"`
	OnConflict            string   `json:"on_conflict,omitempty"`
	DryRun                bool     `json:"dry_run,omitempty"`
	Snapshot              *bool    `json:"snapshot,omitempty"`
	AllowOtherDatabase    bool     `json:"allow_other_database,omitempty"`
	Confirmed             bool     `json:"confirmed,omitempty"`  // a person approved it: a confirm_token, or asked directly
	Unattended            bool     `json:"unattended,omitempty"` // run without asking (--yes, the REST API)
	TaskID                string   `json:"task_id,omitempty"`
}

// MaxRecordBytes bounds a record read back: one is a few hundred bytes, a
// long collections list a few KiB. Anything bigger is not a record.
const MaxRecordBytes = 1 << 20

// Trail writes and reads the records of one backup root.
type Trail struct {
	store store.Store
}

// New is the trail in st, under layout.AuditDir.
func New(st store.Store) *Trail { return &Trail{store: st} }

// Write stamps rec with its time (now, unless set) and a new ID, and
// creates its file: never replacing one, so a record once written stays
// as it was. It returns the record's key.
func (t *Trail) Write(ctx context.Context, rec *Record) (string, error) {
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("make an audit record id: %w", err)
	}
	rec.ID = hex.EncodeToString(id[:])
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode the audit record: %w", err)
	}
	key := Key(rec.Time, rec.ID)
	if err := store.WriteFile(ctx, t.store, key, append(data, '\n')); err != nil {
		return "", fmt.Errorf("write the audit record %s: %w", t.store.Name(key), err)
	}
	return key, nil
}

// fileTime is a record's time in its file name: fixed width, so that names
// sort as times do.
const fileTime = "20060102T150405.000000000Z"

// Key is where the record of time t and id lies:
// audit/YYYY/MM/DD/<time>-<id>.json.
func Key(t time.Time, id string) string {
	t = t.UTC()
	return store.Join(layout.AuditDir, t.Format("2006"), t.Format("01"), t.Format("02"), t.Format(fileTime)+"-"+id+".json")
}

// Problem is a file of the trail that could not be read as a record: it is
// skipped, and reported.
type Problem struct {
	Key string
	Err error
}

func (p Problem) Error() string { return p.Key + ": " + p.Err.Error() }

// Newest reads the newest n records (all of them for n <= 0), newest first. It walks the days
// newest first and stops once it has n, so that it reads a few folders
// and files of a long trail, not all of it. Files that are no record
// (unreadable, too big, not JSON, not a record) are skipped and returned
// as problems; they do not count towards n.
func (t *Trail) Newest(ctx context.Context, n int) ([]Record, []Problem, error) {
	var recs []Record
	var problems []Problem
	_, err := t.walkNewest(ctx, layout.AuditDir, 3, func(key string) bool {
		rec, err := t.read(ctx, key)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			problems = append(problems, Problem{Key: key, Err: err})
			return true
		}
		recs = append(recs, *rec)
		return n <= 0 || len(recs) < n
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, nil, err
	}
	return recs, problems, nil
}

// walkNewest calls fn for the record files below dir, newest first: dir's
// folders (years, months, days; depth levels of them) in reverse name order,
// then a day's files in reverse name order, until fn returns false (then
// more is false). Names that are no number (years, months, days) or no
// record's are left out: the trail holds nothing else.
func (t *Trail) walkNewest(ctx context.Context, dir string, depth int, fn func(key string) bool) (more bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	entries, err := t.store.List(ctx, dir)
	if err != nil {
		return false, fmt.Errorf("list the audit trail's %s: %w", t.store.Name(dir), err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case depth > 0 && e.Dir && digits(name):
		case depth == 0 && !e.Dir && strings.HasSuffix(name, ".json"):
		default:
			continue
		}
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(b, a) })
	for _, name := range names {
		key := store.Join(dir, name)
		if depth == 0 {
			more = fn(key)
		} else {
			more, err = t.walkNewest(ctx, key, depth-1, fn)
		}
		if err != nil || !more {
			return false, err
		}
	}
	return true, nil
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// read reads one record, bounded; whatever the file holds is checked.
func (t *Trail) read(ctx context.Context, key string) (*Record, error) {
	data, err := store.ReadAll(ctx, t.store, key, MaxRecordBytes)
	if errors.Is(err, store.ErrTooBig) {
		return nil, fmt.Errorf("more than %d bytes: no audit record", MaxRecordBytes)
	}
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("not an audit record: %w", err)
	}
	if rec.Time.IsZero() || rec.ID == "" || rec.Operation == "" {
		return nil, errors.New("not an audit record: it lacks time, id or operation")
	}
	return &rec, nil
}
