// Package catalog finds, describes and safely resolves vector backup sets in
// a backup root (a folder or a bucket, through store). It never talks to a
// database: it only knows the layout the pipeline writes under the backup
// root, and it guarantees that every folder it hands out lies inside that
// root. Folders are handed out as store keys ("task_x/vector_bak").
package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// maxPathLen bounds a request's backup_path. Linux refuses longer paths
// anyway; checking first gives the caller a clean message instead of an
// ENAMETOOLONG from somewhere inside the resolution.
const maxPathLen = 4096

// Catalog knows where backups live.
type Catalog struct {
	ProjectRoot string // absolute, symlinks resolved
	// BackupRoot is the folder (absolute, symlinks resolved), or the
	// bucket's URL without its query; inside it nothing else is read or
	// written.
	BackupRoot string
	Store      store.Store
}

// Bucket reports whether the backup root is a bucket.
func (c *Catalog) Bucket() bool { return c.Store.Local() == "" }

// New resolves projectRoot (made absolute) and backupRoot: a bucket URL
// (see store.Open), or a folder (a relative one is taken from the project
// root) resolved to an absolute path without symlinks.
//
// A backup root that does not exist yet is allowed: a fresh install has no
// backups, and Scan then simply finds none. Its longest existing ancestor is
// still resolved, so that once the folder is created its real path matches.
func New(projectRoot, backupRoot string) (*Catalog, error) {
	if projectRoot == "" {
		projectRoot = "."
	}
	project, err := filepath.Abs(projectRoot)
	if err != nil {
		return nil, fmt.Errorf("project root %s: %w", projectRoot, err)
	}
	project, err = filepath.EvalSymlinks(project)
	if err != nil {
		return nil, fmt.Errorf("project root %s: %w", projectRoot, err)
	}

	if backupRoot == "" {
		return nil, errors.New("backup root is empty")
	}
	if store.IsURL(backupRoot) {
		// Opening a bucket reads the environment's credentials, not the
		// network: no call's context applies.
		st, err := store.Open(context.Background(), backupRoot, nil)
		if err != nil {
			return nil, err
		}
		return &Catalog{ProjectRoot: project, BackupRoot: st.Name(""), Store: st}, nil
	}
	root := backupRoot
	if !filepath.IsAbs(root) {
		root = filepath.Join(project, root)
	}
	root, err = resolveExisting(filepath.Clean(root))
	if err != nil {
		return nil, fmt.Errorf("backup root %s: %w", backupRoot, err)
	}
	return &Catalog{ProjectRoot: project, BackupRoot: root, Store: store.NewFolder(root)}, nil
}

// NewStore is a catalog of a store already open: a bucket (or a folder)
// whose keys are laid out as a backup root.
func NewStore(projectRoot string, st store.Store) (*Catalog, error) {
	project, err := filepath.Abs(cmp.Or(projectRoot, "."))
	if err != nil {
		return nil, fmt.Errorf("project root %s: %w", projectRoot, err)
	}
	if project, err = filepath.EvalSymlinks(project); err != nil {
		return nil, fmt.Errorf("project root %s: %w", projectRoot, err)
	}
	root := st.Local()
	if root == "" {
		root = st.Name("")
	}
	return &Catalog{ProjectRoot: project, BackupRoot: root, Store: st}, nil
}

// resolveExisting resolves the symlinks of the longest existing ancestor of
// the clean absolute path p and appends the rest unchanged.
func resolveExisting(p string) (string, error) {
	var rest []string
	for dir := p; ; dir = filepath.Dir(dir) {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !isNotExist(err) || filepath.Dir(dir) == dir {
			return "", err
		}
		rest = append([]string{filepath.Base(dir)}, rest...)
	}
}

// Resolve turns a request's backup_path into the key of a folder inside the
// backup root. backup_path is relative to the project root (the legacy
// "./data_pipeline/training_data/..."), or else to the backup root
// ("task_20250721_213627/vector_bak"), or absolute.
//
// In a folder,
// the path is first cleaned and checked lexically, so that nothing outside the
// root is ever touched on the caller's behalf; then its symlinks are resolved
// and the real path is checked again, so a link inside the root cannot lead
// out of it. A missing path is only reported as missing when its existing part
// lies inside the root: otherwise the answer would reveal what exists outside.
func (c *Catalog) Resolve(ctx context.Context, backupPath string) (string, error) {
	if strings.TrimSpace(backupPath) == "" {
		return "", invalidPath("backup_path is empty; give a backup folder such as %s/vector_bak", c.display(c.BackupRoot))
	}
	if strings.IndexByte(backupPath, 0) >= 0 {
		return "", invalidPath("backup_path contains a NUL byte; pass a folder path as list_vector_backups gives it in relative_path")
	}
	if len(backupPath) > maxPathLen {
		return "", invalidPath("backup_path is too long (%d bytes, at most %d)", len(backupPath), maxPathLen)
	}

	if c.Bucket() {
		return c.resolveKey(ctx, backupPath)
	}
	p := backupPath
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.ProjectRoot, p)
		if !inside(c.BackupRoot, p) && relativeToRoot(backupPath) {
			p = filepath.Join(c.BackupRoot, backupPath)
		}
	}
	p = filepath.Clean(p)
	if !inside(c.BackupRoot, p) {
		return "", c.forbidden(backupPath)
	}

	root := c.realRoot()
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", c.resolveError(backupPath, p, root, err)
	}
	if !inside(root, real) {
		return "", c.forbidden(backupPath)
	}

	fi, err := os.Stat(real)
	if err != nil {
		return "", c.resolveError(backupPath, p, root, err)
	}
	if !fi.IsDir() {
		return "", invalidPath("backup_path is not a folder: %s; give the folder that holds the backup files", backupPath).
			With("backup_path", backupPath)
	}
	rel, err := filepath.Rel(root, real)
	if err != nil {
		return "", c.forbidden(backupPath)
	}
	if rel == "." {
		return "", nil
	}
	return checkNotServerDir(backupPath, filepath.ToSlash(rel))
}

// checkNotServerDir refuses a folder key inside one of the server's own
// folders (the audit trail, its state): they hold no sets, and their files
// must not be read as sets.
func checkNotServerDir(backupPath, key string) (string, error) {
	first, _, _ := strings.Cut(key, "/")
	if layout.IsServerDir(first) {
		return "", invalidPath("backup_path %s is inside the server's own folder %s (the audit trail or the server's state), which holds no backup sets; list the backups to see the folders that do", backupPath, first).
			With("backup_path", backupPath)
	}
	return key, nil
}

// relativeToRoot reports whether backupPath may be taken relative to the
// backup root: a plain path down from it ("task_x/vector_bak"), not the
// "./"-prefixed legacy form, which is relative to the project root.
func relativeToRoot(backupPath string) bool {
	return filepath.IsLocal(backupPath) && !strings.HasPrefix(backupPath, ".")
}

// resolveKey resolves backupPath in a bucket: lexically (a bucket has no
// links), then the folder must hold something.
func (c *Catalog) resolveKey(ctx context.Context, backupPath string) (string, error) {
	p := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(strings.TrimPrefix(backupPath, "./"))), "/")
	if strings.HasPrefix(backupPath, "/") || strings.HasPrefix(backupPath, "..") || strings.Contains(backupPath, "/../") || strings.HasSuffix(backupPath, "/..") {
		return "", c.forbidden(backupPath)
	}
	if rest, ok := strings.CutPrefix(p+"/", layout.LegacyRoot+"/"); ok {
		p = strings.TrimSuffix(rest, "/")
	}
	if p == "" || p == "." {
		return "", nil
	}
	e, err := c.Store.Stat(ctx, p)
	switch {
	case errors.Is(err, store.ErrNotExist):
		return "", apierr.Wrap(apierr.ResourceNotFound, err,
			"backup folder does not exist: %s; list the backups to see the folders that hold backup sets", backupPath).
			With("param", "backup_path").With("backup_path", backupPath)
	case err != nil:
		return "", err
	case !e.Dir:
		return "", invalidPath("backup_path is not a folder: %s; give the folder that holds the backup files", backupPath).
			With("backup_path", backupPath)
	}
	return checkNotServerDir(backupPath, p)
}

// resolveError turns a failure to resolve the clean path p into an error for
// the caller.
func (c *Catalog) resolveError(backupPath, p, root string, err error) error {
	switch {
	case isNotExist(err):
		// Find the deepest part that exists: if a symlink there leads out of
		// the root, the path is forbidden whether or not its rest exists.
		for dir := filepath.Dir(p); inside(c.BackupRoot, dir); dir = filepath.Dir(dir) {
			real, err := filepath.EvalSymlinks(dir)
			if err == nil {
				if !inside(root, real) {
					return c.forbidden(backupPath)
				}
				break
			}
			if !isNotExist(err) {
				return c.resolveError(backupPath, dir, root, err)
			}
		}
		return apierr.Wrap(apierr.ResourceNotFound, err,
			"backup folder does not exist: %s; list the backups to see the folders that hold backup sets", backupPath).
			With("param", "backup_path").With("backup_path", backupPath)
	case isLoop(p, err):
		return invalidPath("backup_path cannot be resolved: it goes through a symbolic link loop: %s", backupPath).
			With("backup_path", backupPath)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return invalidPath("backup_path is too long to resolve: %s", backupPath).With("backup_path", backupPath)
	case errors.Is(err, fs.ErrPermission):
		return apierr.Wrap(apierr.Forbidden, err, "backup folder is not readable by the server: %s", backupPath).
			With("param", "backup_path").With("backup_path", backupPath)
	default:
		return fmt.Errorf("resolve backup path %s: %w", backupPath, err)
	}
}

func (c *Catalog) forbidden(backupPath string) error {
	return apierr.New(apierr.Forbidden, "backup_path must be inside the backup root %s; got %s",
		c.display(c.BackupRoot), backupPath).
		With("param", "backup_path").With("backup_path", backupPath).With("backup_root", c.display(c.BackupRoot))
}

func invalidPath(format string, args ...any) *apierr.Error {
	return apierr.New(apierr.InvalidParams, format, args...).With("param", "backup_path")
}

// realRoot returns the backup root with symlinks resolved now. New resolved
// it already when it existed; one created since then is resolved here, so
// that the "inside" checks compare real paths with real paths.
func (c *Catalog) realRoot() string {
	if real, err := filepath.EvalSymlinks(c.BackupRoot); err == nil {
		return real
	}
	return c.BackupRoot
}

// display returns p as callers know it: "./"-prefixed and "/"-separated
// relative to the project root, or absolute when it is outside the project.
func (c *Catalog) display(p string) string {
	if inside(c.ProjectRoot, p) {
		rel, _ := filepath.Rel(c.ProjectRoot, p)
		if rel == "." {
			return "."
		}
		return "./" + filepath.ToSlash(rel)
	}
	return filepath.ToSlash(p)
}

// inside reports whether the clean absolute path p is root or lies below it.
// It compares path elements, not strings: /a/backup2 is not inside /a/backup.
func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil || filepath.IsAbs(rel) {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// isNotExist reports whether err means a path (or one of its parents) is
// missing. A parent that is a file gives ENOTDIR, which fs.ErrNotExist does
// not cover.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// isLoop reports whether resolving p failed on a symlink loop (or a chain
// too long to follow). filepath.EvalSymlinks reports one with an error of
// no type of its own, so the kernel is asked: stat follows the same links
// and fails with ELOOP.
func isLoop(p string, err error) bool {
	if errors.Is(err, syscall.ELOOP) {
		return true
	}
	_, statErr := os.Stat(p)
	return errors.Is(statErr, syscall.ELOOP)
}

// RelativePath returns the folder key dir as callers name it in
// backup_path: "./"-prefixed from the project root (for a bucket, the
// legacy "./data_pipeline/training_data/..."), or absolute when the folder
// lies outside the project.
func (c *Catalog) RelativePath(dir string) string {
	if c.Bucket() {
		return "./" + store.Join(layout.LegacyRoot, dir)
	}
	return c.display(filepath.Join(c.BackupRoot, filepath.FromSlash(dir)))
}

// Name is where the folder key dir lies, for logs: a path or a URL.
func (c *Catalog) Name(dir string) string { return c.Store.Name(dir) }

// GlobalDir is the folder new global sets are written to (the current name).
func (c *Catalog) GlobalDir() string { return layout.GlobalDir }

// LocationDir returns the folder of the location named name, as
// Location.Name gives it (vector_bak, global_vector_bak, or a task folder),
// resolved inside the backup root like any backup_path.
func (c *Catalog) LocationDir(ctx context.Context, name string) (string, error) {
	id, err := cleanTaskID(name)
	if err == nil && id == "" {
		err = apierr.New(apierr.InvalidParams, "no location named; give a folder name such as global_vector_bak or task_20250721_213627")
	}
	if err != nil {
		return "", err
	}
	dir := id
	if !isGlobalDir(id) {
		dir = store.Join(id, backupDir)
	}
	return c.resolveDir(ctx, dir)
}

// resolveDir resolves a key the server built from a name it checked.
func (c *Catalog) resolveDir(ctx context.Context, key string) (string, error) {
	if c.Bucket() {
		return c.resolveKey(ctx, key)
	}
	return c.Resolve(ctx, filepath.Join(c.BackupRoot, filepath.FromSlash(key)))
}

// TaskDir returns the vector_bak folder of an existing task folder, for new
// sets of that task. The task folder must exist; its vector_bak is created by
// the writer when missing.
func (c *Catalog) TaskDir(ctx context.Context, taskID string) (string, error) {
	id, err := cleanTaskID(taskID)
	if err != nil {
		return "", err
	}
	if id == "" || isGlobalDir(id) {
		return "", invalidPath("task_id %q is not a task folder; omit task_id to write a global backup", taskID).With("param", "task_id")
	}
	dir, err := c.resolveDir(ctx, id)
	if e, ok := apierr.As(err); ok {
		// Resolve speaks of backup_path; the caller named a task.
		msg := e.Message
		if e.Type == apierr.ResourceNotFound {
			msg = fmt.Sprintf("task folder %s does not exist in the backup root; list the backups to see the task folders, or omit task_id to write a global backup", id)
		}
		return "", apierr.Wrap(e.Type, err, "%s", msg).With("param", "task_id").With("task_id", id)
	}
	if err != nil {
		return "", err
	}
	bak := store.Join(dir, backupDir)
	if _, err := c.Store.Stat(ctx, bak); err == nil || !errors.Is(err, store.ErrNotExist) {
		return c.resolveDir(ctx, bak)
	}
	return bak, nil
}

// storageError reports a failure to read the backup folders: the disk, not
// the caller or the database, failed. The message names what was being
// done, never the server's paths (the cause, for logs, may).
func storageError(err error, doing string) error {
	if e, ok := apierr.As(err); ok {
		return e
	}
	return apierr.Wrap(apierr.StorageError, err, "cannot %s: the backup folder could not be read (%s); the operator must check the disk and the backup root", doing, errnoText(err))
}

// errnoText is the system's word for err (permission denied, input/output
// error...) without the path an *fs.PathError would add.
func errnoText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
