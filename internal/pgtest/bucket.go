package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/layout"
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

// WriteBigSet writes a legacy set of about size bytes into dir, streamed to
// disk: one collection, and embeddings of dim dimensions whose documents
// are 64 KiB each, so the set is big yet quick for PostgreSQL to load. It
// returns the number of embeddings.
func WriteBigSet(t testing.TB, dir, ts string, dim, size int) (rows int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const coll = "6f1c1d52-3a57-4c1e-9a59-0c3e7f1a2b3c"
	if err := os.WriteFile(filepath.Join(dir, layout.FileName(layout.CollectionTable, ts)),
		[]byte("uuid,name,cmetadata\r\n"+coll+",sql,\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, layout.FileName(layout.EmbeddingTable, ts)))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("id,collection_id,embedding,document,cmetadata\r\n")
	rest := strings.Repeat(",0.5", dim-1)
	doc := []byte(strings.Repeat("select-the-rows-", 4096)) // 64 KiB
	for n := 0; n < size; n += len(doc) {
		fmt.Fprintf(w, "row-%07d,%s,\"[0.%d%s]\",%07d-", rows, coll, rows%10, rest, rows)
		w.Write(doc)
		w.WriteString(",\r\n")
		rows++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return rows
}
