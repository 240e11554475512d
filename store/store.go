// Package store is where backup files live: a local folder or a bucket
// (S3 and every S3-compatible store, Google Cloud Storage, Azure Blob
// Storage), behind one small interface. Everything above it addresses files
// by key: a slash-separated path below the backup root, such as
// "task_20250721_213627/vector_bak/langchain_pg_embedding_20250721_215758.csv".
//
// A store lists keys, opens a key for streaming (with its size and an
// identity that changes when its content does), creates a key with an
// atomic, conditional publish (never replacing what another writer
// published), and removes keys. It knows nothing of backup sets: layout
// names the keys, catalog groups them into sets.
package store

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// Store is a backup root.
type Store interface {
	// List returns the entries directly below dir ("" for the root, else a
	// key prefix without its trailing slash): files, and folders (Dir set).
	// A dir that does not exist has no entries.
	List(ctx context.Context, dir string) ([]Entry, error)

	// Walk calls fn for every file below dir, in no particular order, at
	// most depth folders down (1: dir's own files). A bucket answers it with
	// one flat listing of the prefix, a page per thousand keys.
	Walk(ctx context.Context, dir string, depth int, fn func(Entry) error) error

	// Stat describes key (a file or a folder); a missing key is
	// ErrNotExist.
	Stat(ctx context.Context, key string) (Entry, error)

	// Open opens key for reading. The object is read as it was when
	// opened: a folder's file through its open descriptor, a bucket's
	// object pinned by its ETag where the store allows it. A missing key is
	// ErrNotExist.
	Open(ctx context.Context, key string) (Object, error)

	// Create starts writing key. Nothing is visible under key until Commit,
	// which publishes it whole and fails with ErrExist when key exists by
	// then: a publish never replaces anything. A folder refuses at once a
	// key another live writer is creating.
	Create(ctx context.Context, key string) (Writer, error)

	// Replace writes key whole, replacing what it held: readers see the old
	// content or the new, never a part. Only for a folder's own documents
	// (the legacy log), which are rewritten, not published once.
	Replace(ctx context.Context, key string, data []byte) error

	// Remove deletes key; a missing key is no error.
	Remove(ctx context.Context, key string) error

	// Name describes key for messages: a path below the folder, or the
	// bucket URL without its query (never a credential).
	Name(key string) string

	// Local is the folder's path on this machine, "" for a bucket.
	Local() string

	// Close releases the store.
	Close() error
}

// Entry is one file or folder of a listing.
type Entry struct {
	Key     string // the full key, relative to the root
	Dir     bool   // a folder (a key prefix, for a bucket)
	Size    int64
	ModTime time.Time
	Sized   bool // Size and ModTime are set: a bucket's listing gives them, a folder's does not
}

// Name is the entry's last path element.
func (e Entry) Name() string { return base(e.Key) }

// Object is an open file.
type Object interface {
	Key() string
	Size() int64
	ModTime() time.Time
	// Identity changes whenever the content may have: a bucket's ETag or
	// generation, a folder file's modification time and inode.
	Identity() string
	// NewReader streams the object from byte off to its end.
	NewReader(ctx context.Context, off int64) (io.ReadCloser, error)
	Close() error
}

// Writer is a key being created. Exactly one of Commit and Abort ends it.
type Writer interface {
	io.Writer
	// Commit publishes what was written: ErrExist when the key exists.
	Commit() error
	// Abort throws away what was written; it never fails.
	Abort()
}

var (
	// ErrNotExist: no such key. It is fs.ErrNotExist, so that callers test
	// one error for both kinds of store.
	ErrNotExist = fs.ErrNotExist
	// ErrExist: the key exists, or another writer is creating it.
	ErrExist = fs.ErrExist
)

// ReadAll reads key whole, refusing more than limit bytes with ErrTooBig.
func ReadAll(ctx context.Context, s Store, key string, limit int64) ([]byte, error) {
	if b, ok := s.(*Bucket); ok {
		return b.readAll(ctx, key, limit)
	}
	obj, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if obj.Size() > limit {
		return nil, ErrTooBig
	}
	r, err := obj.NewReader(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, ErrTooBig
	}
	return data, nil
}

// ErrTooBig: a file is bigger than its kind can be.
var ErrTooBig = errors.New("too big")

// WriteFile creates key with data, published whole: ErrExist when it exists.
func WriteFile(ctx context.Context, s Store, key string, data []byte) error {
	w, err := s.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Join joins key elements with slashes, skipping empty ones.
func Join(elem ...string) string {
	out := ""
	for _, e := range elem {
		switch {
		case e == "":
		case out == "":
			out = e
		default:
			out += "/" + e
		}
	}
	return out
}

// Dir is key's folder ("" at the root).
func Dir(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[:i]
		}
	}
	return ""
}

func base(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[i+1:]
		}
	}
	return key
}
