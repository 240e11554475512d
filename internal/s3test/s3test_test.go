package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// do sends a signed request to endpoint and returns the status and body.
func do(t *testing.T, ctx context.Context, method, endpoint, path string, body []byte, ak, sk string) (int, []byte, error) {
	t.Helper()
	req, err := signedRequest(ctx, method, endpoint, path, "", body, ak, sk, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestNewPrefix checks the URL form and that the shared store takes and
// gives back an object under a fresh prefix, and refuses a wrong secret.
func TestNewPrefix(t *testing.T) {
	u1, u2 := NewPrefix(t), NewPrefix(t)
	if u1 == u2 {
		t.Fatalf("two calls gave the same URL %s", u1)
	}
	endpoint, bucket := Endpoint(t), Bucket(t)
	p, err := url.Parse(u1)
	if err != nil {
		t.Fatal(err)
	}
	want := "?region=us-east-1&endpoint=" + endpoint + "&use_path_style=true"
	if p.Scheme != "s3" || p.Host != bucket || !strings.HasPrefix(p.Path, "/t/TestNewPrefix-") || !strings.HasSuffix(u1, want) {
		t.Errorf("URL %s: want s3://%s/t/TestNewPrefix-...%s", u1, bucket, want)
	}
	bu, err := BlobURL(u1)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := url.Parse(bu); q.Path != "" || q.Query().Get("prefix") != strings.TrimPrefix(p.Path, "/")+"/" || q.Query().Get("endpoint") != endpoint {
		t.Errorf("BlobURL(%s) = %s", u1, bu)
	}

	ak, sk := Credentials(t)
	ctx := context.Background()
	key := "/" + bucket + p.Path + "/hello"
	if code, b, err := do(t, ctx, http.MethodPut, endpoint, key, []byte("hello"), ak, sk); err != nil || code != http.StatusOK {
		t.Fatalf("PUT: %d %v %s", code, err, b)
	}
	if code, b, err := do(t, ctx, http.MethodGet, endpoint, key, nil, ak, sk); err != nil || code != http.StatusOK || string(b) != "hello" {
		t.Fatalf("GET: %d %v %q", code, err, b)
	}
	if code, _, err := do(t, ctx, http.MethodGet, endpoint, key, nil, ak, sk+"x"); err != nil || code != http.StatusForbidden {
		t.Errorf("GET with a wrong secret: %d %v, want 403", code, err)
	}
	if code, _, err := do(t, ctx, http.MethodDelete, endpoint, key, nil, ak, sk); err != nil || code != http.StatusNoContent {
		t.Errorf("DELETE: %d %v", code, err)
	}
}

// TestStore kills a private store in the middle of a read, restarts it (the
// object is still there, on the same endpoint), and pauses and resumes it.
func TestStore(t *testing.T) {
	s := StartStore(t)
	ak, sk := Credentials(t)
	ctx := context.Background()
	data := make([]byte, 32<<20)
	rand.Read(data)
	key := "/" + s.Bucket() + "/obj"
	if code, b, err := do(t, ctx, http.MethodPut, s.Endpoint(), key, data, ak, sk); err != nil || code != http.StatusOK {
		t.Fatalf("PUT: %d %v %s", code, err, b)
	}

	// Killed in the middle of a read: the read fails.
	req, err := signedRequest(ctx, http.MethodGet, s.Endpoint(), key, "", nil, ak, sk, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	endpoint := s.Endpoint()
	s.Stop()
	if s.Running() {
		t.Error("Running after Stop")
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("the read went on after the kill: %d more bytes, no error", n)
	} else {
		t.Logf("read after the kill: %d more bytes, then %v", n, err)
	}
	if _, _, err := do(t, ctx, http.MethodGet, endpoint, key, nil, ak, sk); err == nil {
		t.Error("a request to the killed store got an answer")
	}

	start := time.Now()
	s.Start()
	t.Logf("restarted in %v", time.Since(start).Round(time.Millisecond))
	if s.Endpoint() != endpoint {
		t.Errorf("endpoint %s after the restart, was %s", s.Endpoint(), endpoint)
	}
	if code, b, err := do(t, ctx, http.MethodGet, endpoint, key, nil, ak, sk); err != nil || code != http.StatusOK || !bytes.Equal(b, data) {
		t.Fatalf("GET after the restart: %d %v, %d bytes (want %d)", code, err, len(b), len(data))
	}

	// Paused: requests hang until the client gives up; resumed: they work.
	s.Pause()
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	_, _, err = do(t, tctx, http.MethodGet, endpoint, key, nil, ak, sk)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request to a paused store: %v, want a deadline exceeded", err)
	}
	s.Resume()
	if code, _, err := do(t, ctx, http.MethodGet, endpoint, key, nil, ak, sk); err != nil || code != http.StatusOK {
		t.Errorf("GET after Resume: %d %v", code, err)
	}
}
