package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/internal/s3test"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// stores gives each kind of store, empty: a folder, an in-memory bucket,
// and a bucket on the test script's S3 server.
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"folder": func(t *testing.T) store.Store {
			dir, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return store.NewFolder(dir)
		},
		"memblob": func(t *testing.T) store.Store { return open(t, "mem://") },
		"s3":      func(t *testing.T) store.Store { return open(t, s3test.NewPrefix(t)) },
	}
}

func open(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func eachStore(t *testing.T, fn func(t *testing.T, s store.Store)) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) { fn(t, mk(t)) })
	}
}

func write(t *testing.T, s store.Store, key string, data []byte) {
	t.Helper()
	if err := store.WriteFile(context.Background(), s, key, data); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

func TestCreateOpenList(t *testing.T) {
	eachStore(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if entries, err := s.List(ctx, ""); err != nil || len(entries) != 0 {
			t.Fatalf("empty store lists %v, %v", entries, err)
		}
		big := make([]byte, 20<<20+123) // several parts of a multipart upload
		rand.Read(big)
		write(t, s, "task_1/vector_bak/a.csv", big)
		write(t, s, "task_1/vector_bak/b.csv", []byte("b"))
		write(t, s, "global_vector_bak/c.csv", []byte("c"))
		write(t, s, "top.txt", []byte("top"))

		entries, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, fmt.Sprintf("%s dir=%v", e.Key, e.Dir))
		}
		slices.Sort(got)
		want := []string{"global_vector_bak dir=true", "task_1 dir=true", "top.txt dir=false"}
		if !slices.Equal(got, want) {
			t.Errorf("List(root) = %v, want %v", got, want)
		}
		entries, err = s.List(ctx, "task_1/vector_bak")
		if err != nil || len(entries) != 2 {
			t.Fatalf("List(task_1/vector_bak) = %v, %v", entries, err)
		}

		var walked []string
		if err := s.Walk(ctx, "", 3, func(e store.Entry) error { walked = append(walked, e.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(walked)
		if want := []string{"global_vector_bak/c.csv", "task_1/vector_bak/a.csv", "task_1/vector_bak/b.csv", "top.txt"}; !slices.Equal(walked, want) {
			t.Errorf("Walk(3) = %v, want %v", walked, want)
		}
		walked = nil
		s.Walk(ctx, "", 2, func(e store.Entry) error { walked = append(walked, e.Key); return nil })
		slices.Sort(walked)
		if want := []string{"global_vector_bak/c.csv", "top.txt"}; !slices.Equal(walked, want) {
			t.Errorf("Walk(2) = %v, want %v", walked, want)
		}

		obj, err := s.Open(ctx, "task_1/vector_bak/a.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		if obj.Size() != int64(len(big)) || obj.Identity() == "" {
			t.Errorf("size %d identity %q", obj.Size(), obj.Identity())
		}
		r, err := obj.NewReader(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(data, big[1000:]) {
			t.Fatalf("read from 1000: %d bytes, %v", len(data), err)
		}
	})
}

func TestCreateNeverReplaces(t *testing.T) {
	eachStore(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		write(t, s, "d/k", []byte("first"))
		if _, err := s.Create(ctx, "d/k"); !errors.Is(err, store.ErrExist) {
			t.Errorf("Create of an existing key: %v, want ErrExist", err)
		}
		// Two writers of one key: exactly one publishes.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		ws := make([]store.Writer, 2)
		for i := range ws {
			ws[i], errs[i] = s.Create(ctx, "d/race")
		}
		for i, w := range ws {
			if w == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.Write([]byte(fmt.Sprintf("writer %d", i)))
				errs[i] = w.Commit()
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrExist):
				t.Errorf("losing writer: %v, want ErrExist", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d writers published d/race, want 1 (%v)", ok, errs)
		}
		data, err := store.ReadAll(ctx, s, "d/k", 100)
		if err != nil || string(data) != "first" {
			t.Errorf("d/k = %q, %v", data, err)
		}
	})
}

func TestAbortLeavesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		w, err := s.Create(ctx, "d/aborted")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, 12<<20))
		w.Abort()
		if _, err := s.Open(ctx, "d/aborted"); !errors.Is(err, store.ErrNotExist) {
			t.Errorf("Open of an aborted key: %v, want ErrNotExist", err)
		}
		var left []string
		s.Walk(ctx, "", 5, func(e store.Entry) error { left = append(left, e.Key); return nil })
		if len(left) != 0 {
			t.Errorf("an aborted write left %v", left)
		}
		if err := s.Remove(ctx, "d/never"); err != nil {
			t.Errorf("Remove of a missing key: %v", err)
		}
	})
}

func TestMissingKey(t *testing.T) {
	eachStore(t, func(t *testing.T, s store.Store) {
		_, err := s.Open(context.Background(), "nope/x.csv")
		if !errors.Is(err, store.ErrNotExist) {
			t.Errorf("Open of a missing key: %v, want ErrNotExist", err)
		}
	})
}

func TestBadKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s store.Store) {
		for _, key := range []string{"../x", "/abs", "a//b", "a/./b", "a\\b", "a\x00b"} {
			if _, err := s.Open(context.Background(), key); apierr.TypeOf(err) != apierr.InvalidParams {
				t.Errorf("Open(%q): %v, want INVALID_PARAMS", key, err)
			}
		}
	})
}

// TestFolderLinkOut: a link inside the folder that leads out of it is
// neither listed nor opened.
func TestFolderLinkOut(t *testing.T) {
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	outside, _ := filepath.EvalSymlinks(t.TempDir())
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link"))
	os.Symlink(outside, filepath.Join(dir, "dirlink"))
	s := store.NewFolder(dir)
	entries, err := s.List(context.Background(), "")
	if err != nil || len(entries) != 0 {
		t.Errorf("List = %v, %v; want nothing", entries, err)
	}
	for _, key := range []string{"link", "dirlink/secret"} {
		if obj, err := s.Open(context.Background(), key); err == nil {
			obj.Close()
			t.Errorf("Open(%s) followed a link out of the root", key)
		}
	}
}

// TestBucketErrorsNameBucketNotCredentials: a wrong secret is FORBIDDEN and
// the message names the bucket, never the key material.
func TestBucketErrorsNameBucketNotCredentials(t *testing.T) {
	url := s3test.NewPrefix(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-0123456789")
	s := open(t, url)
	_, err := s.List(context.Background(), "")
	if apierr.TypeOf(err) != apierr.Forbidden {
		t.Fatalf("List with a wrong secret: %v, want FORBIDDEN", err)
	}
	msg := err.Error()
	if !bytes.Contains([]byte(msg), []byte(s3test.Bucket(t))) || bytes.Contains([]byte(msg), []byte("wrong-secret")) {
		t.Errorf("message %q should name the bucket and no secret", msg)
	}
}
