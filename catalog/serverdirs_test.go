package catalog

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// TestServerDirsAreNoLocations: the audit trail and the server's state
// folder never show as backup locations, even when they hold what would
// look like a task's sets, and no backup_path, task_id or link inside the
// root reaches them: a record is never read as a set, and no set is written
// among the records. In a folder and in a bucket.
func TestServerDirsAreNoLocations(t *testing.T) {
	ctx := context.Background()
	var files []string
	files = append(files, set("global_vector_bak", "20250722_010318")...)
	files = append(files, set("task_1/vector_bak", "20250721_215758")...)
	for _, dir := range []string{layout.AuditDir, layout.StateDir} {
		// As a task folder would hold them: dir/vector_bak/<set>.
		files = append(files, set(dir+"/vector_bak", "20250721_215758")...)
	}
	files = append(files, layout.AuditDir+"/2026/12/07/20261207T013000.000000000Z-0123456789abcdef.json={}")

	folder := newCatalog(t)
	write(t, folder.BackupRoot, files...)
	var bucketKeys []string
	for _, f := range files {
		k, _, _ := strings.Cut(f, "=")
		bucketKeys = append(bucketKeys, filepath.ToSlash(k))
	}
	bucket := bucketCatalog(t, bucketKeys...)

	for name, c := range map[string]*Catalog{"folder": folder, "bucket": bucket} {
		t.Run(name, func(t *testing.T) {
			s, err := c.Scan(ctx, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var dirs []string
			for _, l := range s.Locations {
				dirs = append(dirs, l.Dir)
			}
			if len(dirs) != 2 || dirs[0] != "global_vector_bak" || dirs[1] != "task_1/vector_bak" {
				t.Errorf("locations %v, want global_vector_bak and task_1/vector_bak only", dirs)
			}
			paths := []string{
				layout.AuditDir, layout.AuditDir + "/vector_bak", layout.AuditDir + "/2026/12/07",
				"./" + layout.LegacyRoot + "/" + layout.AuditDir + "/vector_bak",
				layout.StateDir + "/vector_bak",
			}
			if !c.Bucket() {
				// A link inside the root that leads into the trail.
				symlink(t, filepath.Join(c.BackupRoot, layout.AuditDir), filepath.Join(c.BackupRoot, "innocent"))
				paths = append(paths, "innocent/vector_bak", filepath.Join(c.BackupRoot, layout.AuditDir))
			}
			for _, p := range paths {
				// Refused as the server's own folder, or (.mcp-server, a
				// legacy "./" path) as outside the root: never found.
				dir, err := c.Resolve(ctx, p)
				if e, ok := apierr.As(err); !ok || e.Param != "backup_path" || (e.Type != apierr.InvalidParams && e.Type != apierr.Forbidden) {
					t.Errorf("Resolve(%q) = %q, %v: want backup_path refused", p, dir, err)
				}
			}
			for _, id := range []string{layout.AuditDir, layout.StateDir} {
				if _, err := c.TaskDir(ctx, id); apierr.TypeOf(err) != apierr.InvalidParams {
					t.Errorf("TaskDir(%q): %v, want INVALID_PARAMS", id, err)
				}
				if _, err := c.Scan(ctx, Filter{TaskID: id}); apierr.TypeOf(err) != apierr.InvalidParams {
					t.Errorf("Scan(task_id %q): %v, want INVALID_PARAMS", id, err)
				}
				if _, err := c.LocationDir(ctx, id); apierr.TypeOf(err) != apierr.InvalidParams {
					t.Errorf("LocationDir(%q): %v, want INVALID_PARAMS", id, err)
				}
			}
			if dir, err := c.Resolve(ctx, "task_1/vector_bak"); err != nil || dir != "task_1/vector_bak" {
				t.Errorf("Resolve of a task's folder: %q, %v", dir, err)
			}
		})
	}
}
