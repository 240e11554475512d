package backup

import (
	"context"
	"errors"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Retention is what Prune did: the snapshots it removed, and the sets that
// looked like snapshots but could not be proven this server's (left in
// place).
type Retention struct {
	Removed []string // timestamps
	Kept    []error  // each a set left in place, wrapping ErrNotSnapshot
}

// Prune keeps, in a folder's sets (newest first, as the catalog lists
// them), the newest keep-1 snapshots older than newest that were taken
// from source, and removes the older ones it can prove it wrote
// (RemoveSnapshot). Other databases' snapshots are theirs to count, and
// snapshots newer than newest belong to restores still running. It stops at
// the first failure to remove.
func Prune(ctx context.Context, sets []catalog.Set, keep int, source layout.Source, newest string) (Retention, error) {
	var r Retention
	var older []catalog.Set
	for _, set := range sets {
		if set.Kind != layout.KindSnapshot || set.Timestamp >= newest {
			continue
		}
		if m, err := set.Manifest(ctx); err == nil && m != nil && m.Source != nil && m.Source.Same(source) {
			older = append(older, set)
		}
	}
	for _, set := range older[min(len(older), max(keep-1, 0)):] {
		err := RemoveSnapshot(ctx, set)
		if errors.Is(err, ErrNotSnapshot) {
			r.Kept = append(r.Kept, err)
			continue
		}
		if err != nil {
			return r, err
		}
		r.Removed = append(r.Removed, set.Timestamp)
	}
	return r, nil
}
