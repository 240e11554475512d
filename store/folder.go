package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Folder is a backup root on this machine's file system. Every open,
// create, link, rename and delete happens beneath the root's descriptor
// (os.Root): a link swapped in anywhere on the way, a parent folder
// included, cannot lead a read or a write out of the root. Files are opened
// without blocking (a FIFO swapped in cannot hang a call) and checked as
// open descriptors: regular files only.
type Folder struct {
	dir string // absolute, symlinks resolved
}

// NewFolder is the folder dir, an absolute path with its symlinks resolved.
// It need not exist: the first write creates it, and until then it lists
// as empty.
func NewFolder(dir string) *Folder { return &Folder{dir: dir} }

// Local is the folder's path.
func (f *Folder) Local() string { return f.dir }

// Name is key's path.
func (f *Folder) Name(key string) string { return filepath.Join(f.dir, filepath.FromSlash(key)) }

// Close does nothing: each operation opens the root itself, so that a root
// created after start is seen.
func (f *Folder) Close() error { return nil }

// root opens the backup root; a missing root is ErrNotExist.
func (f *Folder) root() (*os.Root, error) {
	r, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, f.fail("open the backup root", "", err)
	}
	return r, nil
}

// rootFor checks key and opens the root for reading or removing it; found
// is false, with no error, when the root does not exist yet: a fresh
// install, which holds nothing.
func (f *Folder) rootFor(key string) (r *os.Root, found bool, err error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	r, err = f.root()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// checkKey refuses keys that are not plain relative paths.
func checkKey(key string) error {
	if key == "" {
		return nil
	}
	if !fs.ValidPath(key) || strings.ContainsAny(key, "\\\x00") {
		return apierr.New(apierr.InvalidParams, "not a valid backup file name: %q", key)
	}
	return nil
}

// local is key as a path relative to the root ("." for the root).
func local(key string) string {
	if key == "" {
		return "."
	}
	return filepath.FromSlash(key)
}

// List lists dir. Folders and files are what they are, or what a link
// inside the root leads to; broken links, links out of the root, and
// anything but files and folders are left out.
func (f *Folder) List(ctx context.Context, dir string) ([]Entry, error) {
	r, found, err := f.rootFor(dir)
	if !found {
		return nil, err
	}
	defer r.Close()
	entries, err := f.list(ctx, r, dir)
	if dir == "" && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

func (f *Folder) list(ctx context.Context, r *os.Root, dir string) ([]Entry, error) {
	d, err := r.OpenFile(local(dir), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if real, ok := f.relocate(dir); ok {
			d, err = r.OpenFile(local(real), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
		}
	}
	if err != nil {
		return nil, f.fail("read folder", dir, err)
	}
	defer d.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	des, err := d.ReadDir(-1)
	if err != nil {
		return nil, f.fail("read folder", dir, err)
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		e := Entry{Key: Join(dir, de.Name())}
		typ := de.Type()
		if typ&fs.ModeSymlink != 0 {
			// Followed only while it stays in the root: os.Root refuses
			// the rest.
			fi, err := f.stat(r, e.Key)
			if err != nil {
				continue
			}
			typ = fi.Mode().Type()
		}
		switch {
		case typ.IsDir():
			e.Dir = true
		case typ.IsRegular():
		default:
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Walk lists dir's files depth folders down.
func (f *Folder) Walk(ctx context.Context, dir string, depth int, fn func(Entry) error) error {
	r, found, err := f.rootFor(dir)
	if !found {
		return err
	}
	defer r.Close()
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		entries, err := f.list(ctx, r, dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			switch {
			case !e.Dir:
				if err := fn(e); err != nil {
					return err
				}
			case depth > 1:
				if err := walk(e.Key, depth-1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(dir, depth)
}

// Stat describes key, following a link that stays in the root.
func (f *Folder) Stat(ctx context.Context, key string) (Entry, error) {
	if err := checkKey(key); err != nil {
		return Entry{}, err
	}
	r, err := f.root()
	if err != nil {
		return Entry{}, err
	}
	defer r.Close()
	fi, err := f.stat(r, key)
	if err != nil {
		return Entry{}, f.fail("read", key, err)
	}
	return Entry{Key: key, Dir: fi.IsDir(), Size: fi.Size(), ModTime: fi.ModTime(), Sized: true}, nil
}

// Open opens key beneath the root, read-only, without blocking, and checks
// the descriptor is a regular file.
func (f *Folder) Open(ctx context.Context, key string) (Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r, err := f.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	file, err := r.OpenFile(local(key), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if real, ok := f.relocate(key); ok {
			file, err = r.OpenFile(local(real), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		}
	}
	if err != nil {
		return nil, f.fail("open", key, err)
	}
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotRegular
	}
	if err != nil {
		file.Close()
		return nil, f.fail("open", key, err)
	}
	return &folderObject{key: key, file: file, info: fi}, nil
}

// stat follows key's links while they stay in the root.
func (f *Folder) stat(r *os.Root, key string) (fs.FileInfo, error) {
	fi, err := r.Stat(local(key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if real, ok := f.relocate(key); ok {
			return r.Stat(local(real))
		}
	}
	return fi, err
}

// relocate is key's real path relative to the root, when it lies inside
// it: os.Root follows no absolute link, even one that leads back inside
// the root, which the pipeline's folders may hold. What relocate finds is
// then opened beneath the root like any key, so a link swapped in between
// still cannot lead out.
func (f *Folder) relocate(key string) (string, bool) {
	root, err := filepath.EvalSymlinks(f.dir)
	if err != nil {
		return "", false
	}
	real, err := filepath.EvalSymlinks(f.Name(key))
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || !filepath.IsLocal(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// ErrNotRegular: a name that should be a file is something else (a FIFO, a
// device, a folder).
var ErrNotRegular = errors.New("not a regular file")

type folderObject struct {
	key  string
	file *os.File
	info fs.FileInfo
}

func (o *folderObject) Key() string        { return o.key }
func (o *folderObject) Size() int64        { return o.info.Size() }
func (o *folderObject) ModTime() time.Time { return o.info.ModTime() }
func (o *folderObject) Close() error       { return o.file.Close() }

// Identity is the file's inode and modification time as its descriptor
// shows them now: a file rewritten in place after Open changes it.
func (o *folderObject) Identity() string {
	fi, err := o.file.Stat()
	if err != nil {
		return "unreadable"
	}
	ino := uint64(0)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("ino-%d-mtime-%d-size-%d", ino, fi.ModTime().UnixNano(), fi.Size())
}

// NewReader reads the open descriptor from off with pread: readers of one
// object do not share an offset.
func (o *folderObject) NewReader(_ context.Context, off int64) (io.ReadCloser, error) {
	if off < 0 || off > o.info.Size() {
		return nil, fmt.Errorf("read %s from byte %d: out of range", o.key, off)
	}
	return io.NopCloser(&positioned{f: o.file, r: io.NewSectionReader(o.file, off, o.info.Size()-off), base: off}), nil
}

// positioned reads f through its own section (pread: readers sharing the
// descriptor never disturb each other) and moves the descriptor's offset
// along, so that how far a reader got shows where tools look for it
// (/proc/PID/fdinfo, progress(1)). With several readers the offset is the
// last one's: it is only ever shown, never read from.
type positioned struct {
	f    *os.File
	r    *io.SectionReader
	base int64
}

func (p *positioned) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		off, _ := p.r.Seek(0, io.SeekCurrent)
		p.f.Seek(p.base+off, io.SeekStart)
	}
	return n, err
}

// OpenFile wraps a file a caller opened itself as an Object (tests, and
// files outside any backup root).
func OpenFile(f *os.File) (Object, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	return &folderObject{key: filepath.Base(f.Name()), file: f, info: fi}, nil
}

// Create writes key under a temporary name of the server's own
// (layout.ServerTmpName), created exclusively and locked while this process
// writes it; Commit syncs it and links it to key, which never replaces an
// existing file.
func (f *Folder) Create(ctx context.Context, key string) (Writer, error) {
	if err := checkKey(key); err != nil || key == "" {
		return nil, cmpErr(err, apierr.New(apierr.InvalidParams, "empty backup file name"))
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, f.fail("create the backup root", "", err)
	}
	r, err := f.root()
	if err != nil {
		return nil, err
	}
	if dir := Dir(key); dir != "" {
		if err := r.MkdirAll(local(dir), 0o755); err != nil {
			r.Close()
			return nil, f.fail("create folder", dir, err)
		}
	}
	if _, err := r.Lstat(local(key)); err == nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", f.Name(key), ErrExist)
	}
	tmp := layout.ServerTmpName(key)
	file, err := r.OpenFile(local(tmp), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if errors.Is(err, fs.ErrExist) {
		r.Close()
		return nil, fmt.Errorf("%s is being written by another writer: %w", f.Name(key), ErrExist)
	}
	if err != nil {
		r.Close()
		return nil, f.fail("create", tmp, err)
	}
	// Locked until its temporary name is gone: RemoveLeftovers never takes
	// a live writer's file for a dead one's.
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		file.Close()
		r.Remove(local(tmp))
		r.Close()
		return nil, f.fail("lock", tmp, err)
	}
	return &folderWriter{f: f, root: r, key: key, tmp: tmp, file: file, wb: writeback{f: file}}, nil
}

type folderWriter struct {
	f         *Folder
	root      *os.Root
	key, tmp  string
	file      *os.File
	wb        writeback
	done      bool
	writeFail error
}

func (w *folderWriter) Write(p []byte) (int, error) {
	n, err := w.wb.Write(p)
	if err != nil {
		w.writeFail = w.f.fail("write", w.tmp, err)
		return n, w.writeFail
	}
	return n, nil
}

func (w *folderWriter) Commit() error {
	if w.done {
		return errors.New("store: writer already ended")
	}
	w.done = true
	defer w.root.Close()
	err := w.writeFail
	if err == nil {
		if err = w.file.Sync(); err != nil {
			err = w.f.fail("sync", w.tmp, err)
		}
	}
	if err == nil {
		// A hard link, unlike rename, never replaces a file another
		// writer published under the same name meanwhile.
		if lerr := w.root.Link(local(w.tmp), local(w.key)); lerr != nil {
			if errors.Is(lerr, fs.ErrExist) {
				err = fmt.Errorf("%s: %w", w.f.Name(w.key), ErrExist)
			} else {
				err = w.f.fail("publish", w.key, lerr)
			}
		}
	}
	w.root.Remove(local(w.tmp))
	cerr := w.file.Close()
	if err == nil && cerr != nil {
		err = w.f.fail("close", w.tmp, cerr)
	}
	if err != nil {
		return err
	}
	return w.syncDir()
}

// syncDir makes the new name durable.
func (w *folderWriter) syncDir() error {
	d, err := w.root.OpenFile(local(Dir(w.key)), os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return w.f.fail("sync folder", Dir(w.key), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return w.f.fail("sync folder", Dir(w.key), err)
	}
	return nil
}

func (w *folderWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.root.Remove(local(w.tmp))
	w.file.Close()
	w.root.Close()
}

// Remove deletes key (a link itself, never what it leads to).
func (f *Folder) Remove(ctx context.Context, key string) error {
	r, found, err := f.rootFor(key)
	if !found {
		return err
	}
	defer r.Close()
	if err := r.Remove(local(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return f.fail("remove", key, err)
	}
	return nil
}

// Replace writes key with data through a temporary file of its own and
// renames it over key.
func (f *Folder) Replace(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	r, err := f.root()
	if err != nil {
		return err
	}
	defer r.Close()
	var b [6]byte
	rand.Read(b[:])
	tmp := key + "." + hex.EncodeToString(b[:]) + ".tmp"
	file, err := r.OpenFile(local(tmp), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return f.fail("write", key, err)
	}
	_, err = file.Write(data)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(local(tmp), local(key))
	}
	if err != nil {
		r.Remove(local(tmp))
		return f.fail("write", key, err)
	}
	return nil
}

// RemoveLeftovers removes what writers of this server that died (a
// SIGKILL, a crash) left in dir: files under the server's temporary names,
// older than age, that no process holds locked.
func (f *Folder) RemoveLeftovers(ctx context.Context, dir string, age time.Duration) {
	r, err := f.root()
	if err != nil {
		return
	}
	defer r.Close()
	entries, err := f.list(ctx, r, dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Dir || !layout.IsServerTmp(e.Name()) {
			continue
		}
		file, err := r.OpenFile(local(e.Key), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		fi, err := file.Stat()
		if err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > age &&
			syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			r.Remove(local(e.Key))
		}
		file.Close()
	}
}

// fail wraps a file system error of doing on key: ErrNotExist and
// ErrNotRegular stay recognisable (errors.Is), permissions are FORBIDDEN, a
// full disk STORAGE_ERROR, and the cause stays in the chain.
func (f *Folder) fail(doing, key string, err error) error {
	name := path.Join("", key)
	if name == "" {
		name = "the backup root"
	}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrNotRegular):
		return fmt.Errorf("%s %s: %w", doing, name, err)
	case errors.Is(err, fs.ErrPermission):
		return apierr.Wrap(apierr.Forbidden, err, "cannot %s %s: the server may not (%v); fix the folder's permissions", doing, name, errnoText(err)).
			With("reason", "access_denied")
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return apierr.Wrap(apierr.StorageError, err, "cannot %s %s: the disk is full (%v); free disk space, then retry", doing, name, errnoText(err)).
			With("reason", "write_failed")
	}
	// Anything else (os.Root refusing a link out of the root, a loop, an
	// I/O error) is left to the caller to word: it knows what it was
	// reading or writing, and why.
	return fmt.Errorf("%s %s: %w", doing, name, err)
}

// errnoText is the system's words for err's errno, without the server's
// paths that a *PathError carries.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// writeback writes to a file, starting the kernel's writeback every
// writebackEvery bytes (startWriteback).
type writeback struct {
	f                *os.File
	written, started int64
}

const writebackEvery = 16 << 20

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackEvery {
		startWriteback(w.f, w.started, w.written)
		w.started = w.written
	}
	return n, err
}
