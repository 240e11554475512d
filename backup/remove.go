package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// ErrNotSnapshot is RemoveSnapshot's refusal of a set it cannot prove this
// server wrote as a snapshot.
var ErrNotSnapshot = errors.New("not provably a snapshot this server wrote; left in place")

// RemoveSnapshot deletes a snapshot set that has been superseded, only after
// proving this server wrote it as a snapshot: its manifest says so and
// carries the server's seal, and each file has the size and SHA-256 the
// manifest gives. A set that merely looks like one (a hand-written or
// renamed manifest, another kind, files that do not match) is never
// removed. Every delete goes through the set's store. The embedding file
// goes first (it frees the most), the manifest last; a removal cut short
// leaves an incomplete set, which list shows and restore refuses, never a
// set that restores wrong rows.
func RemoveSnapshot(ctx context.Context, set catalog.Set) error {
	if err := provenSnapshot(ctx, set); err != nil {
		return fmt.Errorf("%w: set %s (%v)", ErrNotSnapshot, set.Timestamp, err)
	}
	st := set.Store()
	for _, name := range []string{set.File(layout.EmbeddingTable), set.File(layout.CollectionTable), set.ManifestFile} {
		if err := st.Remove(ctx, store.Join(set.Dir, name)); err != nil {
			return fmt.Errorf("remove snapshot %s: %w", set.Timestamp, err)
		}
	}
	return nil
}

// provenSnapshot checks that set is a snapshot this server wrote, sealed,
// with its files as written.
func provenSnapshot(ctx context.Context, set catalog.Set) error {
	if set.Kind != layout.KindSnapshot {
		return errors.New("not named as a snapshot")
	}
	files, err := set.Open(ctx)
	if err != nil {
		return err
	}
	defer files.Close()
	m := files.Manifest()
	if m == nil || m.Kind != layout.KindSnapshot {
		return errors.New("its manifest does not say snapshot")
	}
	key, err := sealKey(ctx, set.Store())
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
		r, err := files.File(table).NewReader(ctx, 0)
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(r, want.Bytes+1))
		r.Close()
		if err != nil {
			return err
		}
		if n != want.Bytes || hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
			return fmt.Errorf("%s does not match its manifest", set.File(table))
		}
	}
	return nil
}
