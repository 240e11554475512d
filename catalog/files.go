package catalog

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Files is a set whose files are open. Each file is opened once, beneath
// the backup root (os.Root: no link is followed out of it, whatever is
// swapped in while the path is walked), without blocking (a FIFO swapped in
// cannot hang the call), and checked as an open descriptor: a regular file.
// Every later read of the call (the plan, the confirmation's stamps, the
// COPY, a diff) reads these descriptors, so a file renamed, replaced or
// linked elsewhere after Open is not seen. Callers open a set's files before
// they take any lock.
type Files struct {
	Set
	files    map[string]*os.File // table → its open file
	manifest *layout.Manifest    // nil for a set without one
}

// Open opens the set's data files and reads its manifest.
func (s Set) Open() (*Files, error) {
	root, rel, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f := &Files{Set: s, files: make(map[string]*os.File, len(layout.Tables()))}
	for _, table := range layout.Tables() {
		file, err := openRegular(root, filepath.Join(rel, s.File(table)))
		if err != nil {
			f.Close()
			return nil, s.openError(s.File(table), err)
		}
		f.files[table] = file
	}
	if f.manifest, err = s.manifestIn(root, rel); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// File is table's open file. Read it with ReadAt (or an io.SectionReader):
// the descriptor is shared by every reader of the call.
func (f *Files) File(table string) *os.File { return f.files[table] }

// Manifest is the set's manifest, read when the files were opened; nil when
// the set has none (the old pipeline wrote it).
func (f *Files) Manifest() *layout.Manifest { return f.manifest }

// Close closes the files.
func (f *Files) Close() error {
	var errs []error
	for _, file := range f.files {
		errs = append(errs, file.Close())
	}
	return errors.Join(errs...)
}

// ReadDocument reads one of the set's own text files (its manifest or its
// folder's log), opened as Open opens data files; more than limit bytes is
// BACKUP_CORRUPT.
func (s Set) ReadDocument(name string, limit int64) ([]byte, error) {
	root, rel, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := openRegular(root, filepath.Join(rel, name))
	if err != nil {
		return nil, s.openError(name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, apierr.Wrap(apierr.StorageError, err, "cannot read %s: %v", name, err)
	}
	if int64(len(data)) > limit {
		return nil, apierr.New(apierr.BackupCorrupt, "%s is over %d bytes, too big to be one", name, limit).With("file", name)
	}
	return data, nil
}

// openRoot opens the backup root and returns the set's folder relative to
// it.
func (s Set) openRoot() (*os.Root, string, error) {
	if s.root == "" {
		return nil, "", errors.New("catalog: set not found by a catalog")
	}
	rel, err := filepath.Rel(s.root, s.Dir)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return nil, "", apierr.New(apierr.Forbidden, "backup set %s lies outside the backup root", s.Timestamp)
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, "", apierr.Wrap(apierr.StorageError, err, "cannot open the backup root: %v", err)
	}
	return root, rel, nil
}

// openRegular opens name beneath root read-only and without blocking, and
// checks the descriptor is a regular file.
func openRegular(root *os.Root, name string) (*os.File, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotRegular
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

var errNotRegular = errors.New("not a regular file")

// openError says why a set's file could not be opened, without the
// server's paths.
func (s Set) openError(name string, err error) error {
	switch {
	case isNotExist(err):
		return apierr.Wrap(apierr.ResourceNotFound, err, "backup file %s of set %s disappeared; list the backups again", name, s.Timestamp).
			With("file", name)
	case errors.Is(err, errNotRegular):
		return apierr.Wrap(apierr.BackupCorrupt, err, "backup file %s of set %s is not a regular file; nothing was read from it", name, s.Timestamp).
			With("file", name)
	case errors.Is(err, fs.ErrPermission):
		return apierr.Wrap(apierr.Forbidden, err, "backup file %s of set %s is not readable by the server", name, s.Timestamp).
			With("file", name)
	default:
		// os.Root refuses a path that leads out of the root (a link swapped
		// in, a loop) with an error of no exported type: everything that is
		// not one of the cases above is such a refusal or an I/O failure,
		// and either way nothing was read.
		return apierr.Wrap(apierr.Forbidden, err, "backup file %s of set %s cannot be opened inside the backup root (a link leads out of it, or the folder changed); nothing was read from it", name, s.Timestamp).
			With("file", name)
	}
}

// readManifest reads and checks the manifest at name beneath root.
func readManifest(root *os.Root, name string) (*layout.Manifest, error) {
	f, err := openRegular(root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return layout.DecodeManifest(f)
}
