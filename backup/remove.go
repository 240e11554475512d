package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// ErrNotSnapshot is RemoveSnapshot's refusal of a set whose manifest does
// not show this server wrote it as a snapshot.
var ErrNotSnapshot = errors.New("not a snapshot this server wrote; left in place")

// RemoveSnapshot deletes a snapshot set that has been superseded, after
// checking its manifest says this server wrote it as a snapshot: a set that
// merely looks like one (renamed by a person, or another kind) is never
// removed. The embedding file goes first (it frees the most), the manifest
// last; a removal cut short leaves an incomplete set, which list shows and
// restore refuses, never a set that restores wrong rows.
func RemoveSnapshot(set catalog.Set) error {
	m, err := layout.ReadManifest(filepath.Join(set.Dir, set.ManifestFile))
	if set.Kind != layout.KindSnapshot || err != nil || m.Kind != layout.KindSnapshot || m.Timestamp != set.Timestamp {
		return fmt.Errorf("%w: set %s in %s (manifest: %v)", ErrNotSnapshot, set.Timestamp, set.Dir, err)
	}
	for _, name := range []string{set.File(layout.EmbeddingTable), set.File(layout.CollectionTable), set.ManifestFile} {
		if err := os.Remove(filepath.Join(set.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove snapshot %s: %w", set.Timestamp, err)
		}
	}
	return nil
}

// Remove deletes a set this package wrote, for a snapshot whose restore
// failed: the rows it saved are still in the tables.
func Remove(w *Written) {
	for _, table := range layout.Tables {
		os.Remove(layout.Path(w.Dir, table, w.Timestamp))
	}
	os.Remove(filepath.Join(w.Dir, w.ManifestFile))
}
