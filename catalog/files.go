package catalog

import (
	"bytes"
	"context"
	"errors"
	"io/fs"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// Files is a set whose files are open. Each file is opened once through
// the store (in a folder: beneath the root's descriptor, without blocking,
// checked as a regular file; in a bucket: pinned to the version found), and
// every later read of the call (the plan, the confirmation's stamps, the
// COPY, a diff) reads these objects, so a file renamed, replaced or linked
// elsewhere after Open is not seen, or fails to read. Callers open a set's
// files before they take any lock.
type Files struct {
	Set
	files    map[string]store.Object // table → its open file
	manifest *layout.Manifest        // nil for a set without one
}

// Open opens the set's data files and reads its manifest.
func (s Set) Open(ctx context.Context) (*Files, error) {
	if s.store == nil {
		return nil, errors.New("catalog: set not found by a catalog")
	}
	f := &Files{Set: s, files: make(map[string]store.Object, len(layout.Tables()))}
	for _, table := range layout.Tables() {
		obj, err := s.store.Open(ctx, s.Key(table))
		if err != nil {
			f.Close()
			return nil, s.openError(s.File(table), err)
		}
		f.files[table] = obj
	}
	var err error
	if f.manifest, err = s.Manifest(ctx); err != nil {
		f.Close()
		return nil, err
	}
	for _, table := range layout.Tables() {
		if err := f.describe(table); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// describe gives table's open file its manifest entry, which says how to
// read it (DataFile), after checking that the file's name and the entry
// agree on its format: a file is never read in a format it was not written
// in.
func (f *Files) describe(table string) error {
	name := f.Set.File(table)
	format := layout.DataFormat(name)
	var entry *layout.FileEntry
	if f.manifest != nil {
		if e, ok := f.manifest.Files[table]; ok {
			entry = &e
		}
	}
	switch {
	case entry == nil && format == layout.FormatCSV:
		return nil // the old pipeline's file, or an entry-less table: read as CSV
	case entry == nil:
		return apierr.New(apierr.BackupCorrupt, "backup file %s of set %s is binary COPY, but no manifest gives its column types; it cannot be read", name, f.Timestamp).
			With("file", name)
	case entry.FileFormat() != format:
		return apierr.New(apierr.BackupCorrupt, "backup file %s of set %s is named as %s, but the set's manifest says %s; it cannot be read",
			name, f.Timestamp, format, entry.FileFormat()).
			With("file", name)
	}
	f.files[table] = DataFile{Object: f.files[table], entry: *entry}
	return nil
}

// DataFile is a set's open file with what its manifest says of it: the
// format and, for binary COPY, the column types to read it by
// (backupfile.Open asks for them through Entry).
type DataFile struct {
	store.Object
	entry layout.FileEntry
}

// Entry is the file's manifest entry.
func (d DataFile) Entry() layout.FileEntry { return d.entry }

// File is table's open file. Each reader of it reads through a stream of
// its own (Object.NewReader).
func (f *Files) File(table string) store.Object { return f.files[table] }

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
func (s Set) ReadDocument(ctx context.Context, name string, limit int64) ([]byte, error) {
	if s.store == nil {
		return nil, errors.New("catalog: set not found by a catalog")
	}
	data, err := store.ReadAll(ctx, s.store, store.Join(s.Dir, name), limit)
	switch {
	case errors.Is(err, store.ErrTooBig):
		return nil, apierr.New(apierr.BackupCorrupt, "%s is over %d bytes, too big to be one", name, limit).With("file", name)
	case err != nil:
		return nil, s.openError(name, err)
	}
	return data, nil
}

// openError says why a set's file could not be opened, without the
// server's paths.
func (s Set) openError(name string, err error) error {
	switch {
	case isNotExist(err):
		return apierr.Wrap(apierr.ResourceNotFound, err, "backup file %s of set %s disappeared; list the backups again", name, s.Timestamp).
			With("file", name)
	case errors.Is(err, store.ErrNotRegular):
		return apierr.Wrap(apierr.BackupCorrupt, err, "backup file %s of set %s is not a regular file; nothing was read from it", name, s.Timestamp).
			With("file", name)
	case errors.Is(err, fs.ErrPermission):
		return apierr.Wrap(apierr.Forbidden, err, "backup file %s of set %s is not readable by the server", name, s.Timestamp).
			With("file", name)
	}
	if e, ok := apierr.As(err); ok {
		return e // the store's own account: a bucket's denial, an outage
	}
	// os.Root refuses a path that leads out of the root (a link swapped in,
	// a loop) with an error of no exported type: everything that is not one
	// of the cases above is such a refusal or an I/O failure, and either way
	// nothing was read.
	return apierr.Wrap(apierr.Forbidden, err, "backup file %s of set %s cannot be opened inside the backup root (a link leads out of it, or the folder changed); nothing was read from it", name, s.Timestamp).
		With("file", name)
}

// readManifest reads and checks the manifest at key.
func readManifest(ctx context.Context, st store.Store, key string) (*layout.Manifest, error) {
	data, err := store.ReadAll(ctx, st, key, layout.MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	return layout.DecodeManifest(bytes.NewReader(data))
}
