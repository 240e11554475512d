package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Check refuses a backup root the server cannot safely serve: one that is
// not a folder, or whose global backup folders (global_vector_bak,
// vector_bak) are links that lead out of it, where backups and snapshots
// would be written, listed and pruned outside the root. A root
// that does not exist yet is fine: a fresh install has no backups.
//
// A bucket is checked by listing its root: wrong credentials, a missing
// bucket or an endpoint that does not answer stop the server at start, with
// the store's reason, rather than fail every call.
func (c *Catalog) Check(ctx context.Context) error {
	if c.Bucket() {
		_, err := c.Store.List(ctx, "")
		return err
	}
	fi, err := os.Stat(c.BackupRoot)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("backup root %s: %w", c.BackupRoot, err)
	case !fi.IsDir():
		return fmt.Errorf("backup root %s is a file, not a folder; point --backup-root (VECTOR_BACKUP_ROOT) at the folder that holds vector_bak/ and the task folders", c.BackupRoot)
	}
	// Task folders that link out are skipped by listings and refused per
	// call (FORBIDDEN); the global folders are where every snapshot and
	// global backup is written, so a link out of the root there refuses
	// the root itself.
	root := c.realRoot()
	for _, name := range layout.GlobalDirs() {
		dir := filepath.Join(c.BackupRoot, name)
		fi, err := os.Lstat(dir)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || !inside(root, real) {
			return fmt.Errorf("backup folder %s is a link that leads outside the backup root %s (or nowhere); backups and snapshots would be written and removed outside the root: replace the link with a folder", c.display(dir), c.BackupRoot)
		}
	}
	return nil
}
