package pgtest

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/store"
)

// OpenStore opens the backup root url (a bucket URL, or a folder) as the
// server does, closed when the test ends.
func OpenStore(t testing.TB, url string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url, func(dir string) (string, error) { return dir, nil })
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Upload copies every file below the local folder dir into st under the
// key prefix (""; the root), as a plain S3 client (aws s3 sync) would:
// the same relative names, each file streamed, nothing else added.
func Upload(t testing.TB, st store.Store, dir, prefix string) {
	t.Helper()
	ctx := context.Background()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		w, err := st.Create(ctx, store.Join(prefix, filepath.ToSlash(rel)))
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, f); err != nil {
			w.Abort()
			return err
		}
		return w.Commit()
	})
	if err != nil {
		t.Fatalf("upload %s: %v", dir, err)
	}
}

// Keys lists every key below prefix in st (the root for ""), at any depth.
func Keys(t testing.TB, st store.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := st.Walk(context.Background(), prefix, 100, func(e store.Entry) error {
		keys = append(keys, e.Key)
		return nil
	}); err != nil {
		t.Fatalf("walk %s: %v", st.Name(prefix), err)
	}
	return keys
}
