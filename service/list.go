package service

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// DefaultListLimit is how many sets a page holds when the caller names no limit.
const DefaultListLimit = 50

// maxIncomplete bounds the incomplete sets an answer describes; the summary
// counts them all.
const maxIncomplete = 100

// List scans the backup root and returns one page of sets, newest first
// across all locations, with a summary of the whole scan.
func (s *Service) List(ctx context.Context, args schemas.ListArgs) (*schemas.ListResult, error) {
	limit := args.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > 1000 {
		return nil, apierr.New(apierr.InvalidParams, "limit must be between 1 and 1000, got %d", limit).With("param", "limit")
	}
	return s.list(ctx, args, limit)
}

// BackupRootMissing reports whether the backup root does not exist. A list
// then finds no sets because there is no folder to look in: most often the
// server was started elsewhere than in the project, or with another project
// root, which callers should say rather than show an empty list. It is
// not an error: a fresh install has no backups, and the first backup makes
// the folder.
func (s *Service) BackupRootMissing() bool {
	if s.Catalog.Bucket() {
		return false // a bucket has no folder to miss; a wrong one fails to list
	}
	_, err := os.Stat(s.Catalog.BackupRoot)
	return errors.Is(err, fs.ErrNotExist)
}

// ListAll returns every set in one answer, as the old HTTP service did for
// callers that do not page.
func (s *Service) ListAll(ctx context.Context, args schemas.ListArgs) (*schemas.ListResult, error) {
	return s.list(ctx, args, 0)
}

// list returns the page of at most limit sets (0: all) after args.Cursor.
func (s *Service) list(ctx context.Context, args schemas.ListArgs, limit int) (*schemas.ListResult, error) {
	after, err := decodeCursor(args.Cursor)
	if err != nil {
		return nil, err
	}
	// Brief: only the page's sets are statted and their logs read, below.
	scan, err := s.Catalog.Scan(ctx, catalog.Filter{GlobalOnly: args.GlobalOnly, TaskID: args.TaskID, Brief: true})
	if err != nil {
		return nil, err
	}
	res := &schemas.ListResult{
		BackupLocations: []schemas.Location{},
		Incomplete:      []schemas.IncompleteSet{},
		Summary:         summarize(scan),
	}

	entries := newestFirst(scan)
	start := 0
	if after != nil {
		// The first set after the cursor's place in the order: a set written
		// or deleted since the last page does not shift the next one.
		start, _ = slices.BinarySearchFunc(entries, *after, func(e listEntry, k sortKey) int { return e.key.compare(k) })
		for start < len(entries) && entries[start].key == *after {
			start++
		}
	}
	page := entries[start:]
	if limit > 0 && len(page) > limit {
		page = page[:limit]
		res.NextCursor = encodeCursor(page[len(page)-1].key)
	}
	sets := make([]*catalog.Set, len(page))
	for i, e := range page {
		sets[i] = e.set
	}
	// A set removed since the scan drops out of the page.
	if sets, err = s.Catalog.Detail(ctx, sets); err != nil {
		return nil, err
	}
	shown := make(map[*catalog.Set]bool, len(sets))
	for _, set := range sets {
		shown[set] = true
	}

	// Group the page's sets by location, locations in the order of their
	// newest set on the page; the entries are newest first already.
	index := map[*catalog.Location]int{}
	for _, e := range page {
		if !shown[e.set] {
			continue
		}
		i, ok := index[e.loc]
		if !ok {
			i = len(res.BackupLocations)
			index[e.loc] = i
			res.BackupLocations = append(res.BackupLocations, location(e.loc))
		}
		res.BackupLocations[i].Backups = append(res.BackupLocations[i].Backups, backupEntry(e.set))
	}
	if after == nil {
		// What the first page alone shows: locations that hold no set, and
		// the sets that cannot be restored, so nothing is silently hidden.
		var incomplete []incompleteEntry
		for i := range scan.Locations {
			loc := &scan.Locations[i]
			if len(loc.Sets) == 0 {
				res.BackupLocations = append(res.BackupLocations, location(loc))
			}
			for _, inc := range loc.Incomplete {
				incomplete = append(incomplete, incompleteEntry{key: keyOf(loc, inc.Timestamp), set: incompleteSet(*loc, inc)})
			}
		}
		slices.SortStableFunc(incomplete, func(a, b incompleteEntry) int { return a.key.compare(b.key) })
		for _, inc := range incomplete[:min(len(incomplete), maxIncomplete)] {
			res.Incomplete = append(res.Incomplete, inc.set)
		}
	}
	return res, nil
}

// sortKey orders sets newest first; sets of one second, global locations
// before task folders, then by folder name.
type sortKey struct {
	Timestamp string `json:"t"`
	Task      bool   `json:"k,omitempty"`
	Folder    string `json:"n"`
}

func (a sortKey) compare(b sortKey) int {
	if c := cmp.Compare(b.Timestamp, a.Timestamp); c != 0 {
		return c
	}
	if a.Task != b.Task {
		if a.Task {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.Folder, b.Folder)
}

func keyOf(loc *catalog.Location, timestamp string) sortKey {
	return sortKey{Timestamp: timestamp, Task: loc.Type == "task", Folder: loc.Name()}
}

type listEntry struct {
	key sortKey
	loc *catalog.Location
	set *catalog.Set
}

type incompleteEntry struct {
	key sortKey
	set schemas.IncompleteSet
}

// newestFirst lists every complete set of the scan in page order.
func newestFirst(scan *catalog.Scan) []listEntry {
	var out []listEntry
	for i := range scan.Locations {
		loc := &scan.Locations[i]
		for j := range loc.Sets {
			out = append(out, listEntry{key: keyOf(loc, loc.Sets[j].Timestamp), loc: loc, set: &loc.Sets[j]})
		}
	}
	slices.SortFunc(out, func(a, b listEntry) int { return a.key.compare(b.key) })
	return out
}

func location(loc *catalog.Location) schemas.Location {
	return schemas.Location{Type: loc.Type, TaskID: loc.TaskID, RelativePath: loc.RelativePath, Backups: []schemas.Backup{}}
}

func summarize(scan *catalog.Scan) schemas.Summary {
	sum := schemas.Summary{TotalLocations: len(scan.Locations), ScanTime: scan.ScanTime.Format(time.RFC3339)}
	for _, loc := range scan.Locations {
		sum.TotalBackupSets += len(loc.Sets)
		sum.IncompleteSets += len(loc.Incomplete)
		if loc.Type == "global" {
			sum.GlobalBackups += len(loc.Sets)
		} else {
			sum.TaskBackups += len(loc.Sets)
		}
	}
	return sum
}

func backupEntry(set *catalog.Set) schemas.Backup {
	return schemas.Backup{
		Timestamp:       set.Timestamp,
		Kind:            set.Kind,
		CollectionFile:  set.File(layout.CollectionTable),
		EmbeddingFile:   set.File(layout.EmbeddingTable),
		CollectionSize:  layout.HumanSize(set.Bytes[layout.CollectionTable]),
		EmbeddingSize:   layout.HumanSize(set.Bytes[layout.EmbeddingTable]),
		CollectionBytes: set.Bytes[layout.CollectionTable],
		EmbeddingBytes:  set.Bytes[layout.EmbeddingTable],
		BackupDate:      set.BackupDate(),
		HasLog:          set.LogFile != "",
		LogFile:         set.LogFile,
		ManifestFile:    set.ManifestFile,
		RowCounts:       set.RowCounts,
	}
}

func incompleteSet(loc catalog.Location, inc catalog.Incomplete) schemas.IncompleteSet {
	return schemas.IncompleteSet{
		RelativePath: loc.RelativePath,
		Timestamp:    inc.Timestamp,
		Files:        nonNil(inc.Files),
		Missing:      nonNil(inc.Missing),
		Reason:       inc.Reason,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// A cursor is the sort key of a page's last set. It names a place in the
// order rather than an offset, so sets written or removed between two pages
// do not shift the next one.
func encodeCursor(k sortKey) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*sortKey, error) {
	if s == "" {
		return nil, nil
	}
	var c sortKey
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Folder == "" || !layout.ValidTimestamp(c.Timestamp) {
		return nil, apierr.New(apierr.InvalidParams, "cursor is not one this server returned; pass next_cursor from the previous page unchanged, or omit it").
			With("param", "cursor")
	}
	return &c, nil
}
