package backup

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// folder is a backup folder reached through the backup root's descriptor
// (os.Root): every create, link, rename and delete in it happens beneath
// the root, so a link swapped in anywhere on the way (the folder itself, a
// parent, a file) cannot send a write or a delete outside the root.
type folder struct {
	root *os.Root
	rel  string // the folder, relative to the root
	dir  string // its path, for messages and Written.Dir
}

// openFolder opens dir beneath root (dir itself when root is empty),
// creating it when missing.
func openFolder(root, dir string) (*folder, error) {
	if root == "" {
		root = dir
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return nil, fmt.Errorf("backup folder %s is not inside the backup root", dir)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, writeError(err, "create the backup root")
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, writeError(err, "open the backup root")
	}
	if err := r.MkdirAll(rel, 0o755); err != nil {
		r.Close()
		return nil, writeError(err, "create backup folder %s", rel)
	}
	return &folder{root: r, rel: rel, dir: dir}, nil
}

func (f *folder) close() { f.root.Close() }

func (f *folder) path(name string) string { return filepath.Join(f.rel, name) }

// readDir lists the folder; a FIFO or link swapped in for it is refused,
// not followed or waited on.
func (f *folder) readDir() ([]fs.DirEntry, error) {
	d, err := f.root.OpenFile(f.rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

// exists reports whether name is in the folder (as anything).
func (f *folder) exists(name string) bool {
	_, err := f.root.Lstat(f.path(name))
	return err == nil
}

// createExclusive creates name, failing with fs.ErrExist when anything has
// that name (a link included: it is never followed).
func (f *folder) createExclusive(name string, perm os.FileMode) (*os.File, error) {
	return f.root.OpenFile(f.path(name), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perm)
}

// openNoFollow opens name for reading if it is a regular file, without
// following a link or waiting on a FIFO.
func (f *folder) openNoFollow(name string) (*os.File, error) {
	file, err := f.root.OpenFile(f.path(name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := file.Stat(); err != nil || !fi.Mode().IsRegular() {
		file.Close()
		return nil, errors.New("not a regular file")
	}
	return file, nil
}

// link gives the file old a second name, never replacing an existing one.
func (f *folder) link(old, new string) error { return f.root.Link(f.path(old), f.path(new)) }

// remove deletes name (a link itself, never what it points to); a missing
// name is no error.
func (f *folder) remove(name string) error {
	err := f.root.Remove(f.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// writeAtomic replaces name with data through a temporary file of its own,
// so concurrent writers (two backups into one folder) never share one, and
// readers see the old content or the new, never a part.
func (f *folder) writeAtomic(name string, data []byte) error {
	var tmp string
	var file *os.File
	var err error
	for range 10 {
		var b [8]byte
		rand.Read(b[:])
		tmp = name + "." + strconv.FormatUint(binary.LittleEndian.Uint64(b[:])%1e9, 10) + ".tmp"
		if file, err = f.createExclusive(tmp, 0o644); !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return writeError(err, "write %s", name)
	}
	_, err = file.Write(data)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.root.Rename(f.path(tmp), f.path(name))
	}
	if err != nil {
		f.remove(tmp)
		return writeError(err, "write %s", name)
	}
	return nil
}

// sync makes the folder's entries durable.
func (f *folder) sync() error {
	d, err := f.root.OpenFile(f.rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return writeError(err, "open %s", f.rel)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return writeError(err, "sync %s", f.rel)
	}
	return nil
}
