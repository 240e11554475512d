package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// countingProxy is a reverse proxy on loopback in front of the S3 endpoint
// that counts the requests passing through it, by S3 operation. The client
// signs its requests for the proxy's host:port, and the proxy forwards them
// with that Host header unchanged, so the store checks the signatures the
// client made. It is used only for untimed runs: its own CPU would
// otherwise land on the machine's two cores during a timed one.
type countingProxy struct {
	srv      *http.Server
	endpoint string // http://127.0.0.1:PORT, to give the client

	mu     sync.Mutex
	counts map[string]int
}

func startCountingProxy(target string) (*countingProxy, error) {
	t, err := url.Parse(target)
	if err != nil || t.Host == "" {
		return nil, fmt.Errorf("S3 endpoint %q: not a URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{endpoint: "http://" + ln.Addr().String(), counts: map[string]int{}}
	rp := &httputil.ReverseProxy{
		// Director, not Rewrite: the outgoing Host header stays the one the
		// client signed.
		Director: func(r *http.Request) {
			r.URL.Scheme = t.Scheme
			r.URL.Host = t.Host
		},
		FlushInterval: -1,
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := s3Operation(r)
		p.mu.Lock()
		p.counts[op]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// reset zeroes the counts and returns the previous ones.
func (p *countingProxy) reset() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = map[string]int{}
	return c
}

func (p *countingProxy) close() {
	if err := p.srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		p.srv.Close()
	}
}

// s3Operation names the S3 operation of a path-style request.
func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	key := strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 // /bucket/key...
	switch r.Method {
	case http.MethodGet:
		switch {
		case q.Has("list-type"):
			return "ListObjectsV2"
		case q.Has("uploads"):
			return "ListMultipartUploads"
		case q.Has("uploadId"):
			return "ListParts"
		case !key:
			return "ListObjects (v1)"
		case r.Header.Get("Range") != "":
			return "GetObject (range)"
		}
		return "GetObject"
	case http.MethodHead:
		if !key {
			return "HeadBucket"
		}
		return "HeadObject"
	case http.MethodPut:
		switch {
		case q.Has("partNumber"):
			return "UploadPart"
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return "CreateMultipartUpload"
		case q.Has("uploadId"):
			return "CompleteMultipartUpload"
		case q.Has("delete"):
			return "DeleteObjects"
		}
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	}
	return r.Method + " (other)"
}

// requestCounts is the requests of one command, by operation.
type requestCounts struct {
	Name  string         `json:"name"`
	Total int            `json:"total"`
	ByOp  map[string]int `json:"by_operation"`
}

func newRequestCounts(name string, c map[string]int) requestCounts {
	rc := requestCounts{Name: name, ByOp: c}
	for _, n := range c {
		rc.Total += n
	}
	return rc
}

func (rc requestCounts) String() string {
	ops := make([]string, 0, len(rc.ByOp))
	for op := range rc.ByOp {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b string) int {
		if rc.ByOp[a] != rc.ByOp[b] {
			return rc.ByOp[b] - rc.ByOp[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %d", op, rc.ByOp[op]))
	}
	return strings.Join(parts, ", ")
}
