package backup

import (
	"errors"
	"fmt"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// ErrNotSnapshot is RemoveSnapshot's refusal of a set whose manifest does
// not show this server wrote it as a snapshot.
var ErrNotSnapshot = errors.New("not a snapshot this server wrote; left in place")

// RemoveSnapshot deletes a snapshot set that has been superseded, after
// checking its manifest says this server wrote it as a snapshot: a set that
// merely looks like one (renamed by a person, or another kind) is never
// removed. Every delete happens beneath root. The embedding file goes first
// (it frees the most), the manifest last; a removal cut short leaves an
// incomplete set, which list shows and restore refuses, never a set that
// restores wrong rows.
func RemoveSnapshot(root string, set catalog.Set) error {
	m, err := set.Manifest()
	if set.Kind != layout.KindSnapshot || err != nil || m == nil || m.Kind != layout.KindSnapshot || m.Timestamp != set.Timestamp {
		return fmt.Errorf("%w: set %s (manifest: %v)", ErrNotSnapshot, set.Timestamp, err)
	}
	dir, err := openFolder(root, set.Dir)
	if err != nil {
		return err
	}
	defer dir.close()
	for _, name := range []string{set.File(layout.EmbeddingTable), set.File(layout.CollectionTable), set.ManifestFile} {
		if err := dir.remove(name); err != nil {
			return fmt.Errorf("remove snapshot %s: %w", set.Timestamp, err)
		}
	}
	return nil
}
