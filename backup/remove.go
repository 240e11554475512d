package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// ErrNotSnapshot is RemoveSnapshot's refusal of a set it cannot prove this
// server wrote as a snapshot.
var ErrNotSnapshot = errors.New("not provably a snapshot this server wrote; left in place")

// RemoveSnapshot deletes a snapshot set that has been superseded, only after
// proving this server wrote it as a snapshot: its manifest says so and
// carries the server's seal, and each file has the size and SHA-256 the
// manifest gives. A set that merely looks like one (a hand-written or
// renamed manifest, another kind, files that do not match) is never
// removed. Every delete happens beneath root. The embedding file goes first
// (it frees the most), the manifest last; a removal cut short leaves an
// incomplete set, which list shows and restore refuses, never a set that
// restores wrong rows.
func RemoveSnapshot(root string, set catalog.Set) error {
	if err := provenSnapshot(root, set); err != nil {
		return fmt.Errorf("%w: set %s (%v)", ErrNotSnapshot, set.Timestamp, err)
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

// provenSnapshot checks that set is a snapshot this server wrote, sealed,
// with its files as written.
func provenSnapshot(root string, set catalog.Set) error {
	if set.Kind != layout.KindSnapshot {
		return errors.New("not named as a snapshot")
	}
	files, err := set.Open()
	if err != nil {
		return err
	}
	defer files.Close()
	m := files.Manifest()
	if m == nil || m.Kind != layout.KindSnapshot {
		return errors.New("its manifest does not say snapshot")
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	key, err := sealKey(r)
	r.Close()
	if err != nil {
		return err
	}
	if !sealed(key, m) {
		return errors.New("its manifest is not sealed by this server")
	}
	for _, table := range layout.Tables() {
		want, ok := m.Files[table]
		if !ok {
			return fmt.Errorf("its manifest lacks %s", table)
		}
		f := files.File(table)
		h := sha256.New()
		n, err := io.Copy(h, io.NewSectionReader(f, 0, want.Bytes+1))
		if err != nil {
			return err
		}
		if n != want.Bytes || hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
			return fmt.Errorf("%s does not match its manifest", set.File(table))
		}
	}
	return nil
}
