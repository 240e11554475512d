package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// DefaultListLimit is how many sets a page holds when the caller names no limit.
const DefaultListLimit = 50

// List scans the backup root and returns one page of sets, newest first,
// with a summary of the whole scan.
func (s *Service) List(ctx context.Context, args schemas.ListArgs) (*schemas.ListResult, error) {
	limit := args.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > 1000 {
		return nil, apierr.New(apierr.InvalidParams, "limit must be between 1 and 1000, got %d", limit).With("param", "limit")
	}
	after, err := decodeCursor(args.Cursor)
	if err != nil {
		return nil, err
	}
	scan, err := s.Catalog.Scan(ctx, catalog.Filter{GlobalOnly: args.GlobalOnly, TaskID: args.TaskID})
	if err != nil {
		return nil, err
	}

	res := &schemas.ListResult{
		BackupLocations: []schemas.Location{},
		Incomplete:      []schemas.IncompleteSet{},
		Summary:         summarize(scan),
	}
	// Walk the scan's order, skipping up to the cursor, taking up to limit sets.
	skipping := after != nil
	taken := 0
	var last cursor
	for _, loc := range scan.Locations {
		for _, inc := range loc.Incomplete {
			res.Incomplete = append(res.Incomplete, incompleteSet(loc, inc))
		}
		page := schemas.Location{Type: loc.Type, TaskID: loc.TaskID, RelativePath: loc.RelativePath, Backups: []schemas.Backup{}}
		for _, set := range loc.Sets {
			if skipping {
				if loc.RelativePath == after.Path && set.Timestamp == after.Timestamp {
					skipping = false
				}
				continue
			}
			if taken == limit {
				res.NextCursor = encodeCursor(last)
				break
			}
			page.Backups = append(page.Backups, backupEntry(set))
			last = cursor{Path: loc.RelativePath, Timestamp: set.Timestamp}
			taken++
		}
		if len(page.Backups) > 0 || (after == nil && len(loc.Sets) == 0) {
			res.BackupLocations = append(res.BackupLocations, page)
		}
		if res.NextCursor != "" {
			break
		}
	}
	if skipping {
		return nil, apierr.New(apierr.InvalidParams,
			"cursor points at a backup set that no longer exists (deleted since the last page); list again without cursor").
			With("param", "cursor")
	}
	return res, nil
}

func summarize(scan *catalog.Scan) schemas.Summary {
	sum := schemas.Summary{TotalLocations: len(scan.Locations), ScanTime: scan.ScanTime.Format(time.RFC3339)}
	for _, loc := range scan.Locations {
		sum.TotalBackupSets += len(loc.Sets)
		if loc.Type == "global" {
			sum.GlobalBackups += len(loc.Sets)
		} else {
			sum.TaskBackups += len(loc.Sets)
		}
	}
	return sum
}

func backupEntry(set catalog.Set) schemas.Backup {
	return schemas.Backup{
		Timestamp:       set.Timestamp,
		CollectionFile:  set.CollectionFile,
		EmbeddingFile:   set.EmbeddingFile,
		CollectionSize:  catalog.HumanSize(set.CollectionBytes),
		EmbeddingSize:   catalog.HumanSize(set.EmbeddingBytes),
		CollectionBytes: set.CollectionBytes,
		EmbeddingBytes:  set.EmbeddingBytes,
		BackupDate:      set.BackupDate(),
		HasLog:          set.LogFile != "",
		LogFile:         set.LogFile,
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

// cursor marks the last set of a page. It names the set rather than an
// offset, so a backup written between two pages does not shift the next one.
type cursor struct {
	Path      string `json:"p"`
	Timestamp string `json:"t"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Path == "" || !catalog.ValidTimestamp(c.Timestamp) {
		return nil, apierr.New(apierr.InvalidParams, "cursor is not one this server returned; pass next_cursor from the previous page unchanged, or omit it").
			With("param", "cursor")
	}
	return &c, nil
}
