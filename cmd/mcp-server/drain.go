package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
)

// inflight counts the JSON-RPC requests read from stdin that have no
// response on stdout yet. mcp-go's stdio server cancels every running call
// the moment stdin ends, so a script that pipes in a restore and closes its
// end would always have it rolled back; holding stdin's EOF back until the
// answers are out lets such a call finish.
type inflight struct {
	mu      sync.Mutex
	pending int
	zero    chan struct{} // closed while pending is 0
}

func newInflight() *inflight {
	z := make(chan struct{})
	close(z)
	return &inflight{zero: z}
}

func (f *inflight) add(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	was := f.pending
	f.pending = max(0, f.pending+n)
	switch {
	case was == 0 && f.pending > 0:
		f.zero = make(chan struct{})
	case was > 0 && f.pending == 0:
		close(f.zero)
	}
}

func (f *inflight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.zero
}

// reader wraps stdin: it counts requests and delays EOF until every request
// has been answered (or ctx ends).
func (f *inflight) reader(ctx context.Context, r io.Reader) io.Reader {
	return &trackingReader{ctx: ctx, r: r, f: f}
}

// writer wraps stdout: it counts responses.
func (f *inflight) writer(w io.Writer) io.Writer {
	return &trackingWriter{w: w, f: f}
}

type trackingReader struct {
	ctx  context.Context
	r    io.Reader
	f    *inflight
	line []byte
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.line = scanLines(t.line, p[:n], func(l []byte) {
		if isRequest(l) {
			t.f.add(1)
		}
	})
	if err == io.EOF {
		select {
		case <-t.f.idle():
		case <-t.ctx.Done():
		}
	}
	return n, err
}

type trackingWriter struct {
	w    io.Writer
	f    *inflight
	line []byte
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.line = scanLines(t.line, p[:n], func(l []byte) {
		if isResponse(l) {
			t.f.add(-1)
		}
	})
	return n, err
}

// scanLines appends p to partial and calls fn for each complete line,
// returning what is left of the last one.
func scanLines(partial, p []byte, fn func([]byte)) []byte {
	partial = append(partial, p...)
	for {
		i := bytes.IndexByte(partial, '\n')
		if i < 0 {
			return partial
		}
		fn(partial[:i])
		partial = partial[i+1:]
	}
}

type envelope struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

func parse(line []byte) (envelope, bool) {
	var e envelope
	if json.Unmarshal(line, &e) != nil {
		return e, false
	}
	return e, len(e.ID) > 0 && string(e.ID) != "null"
}

// isRequest: a client request expects an answer; notifications and answers
// to the server's own requests do not.
func isRequest(line []byte) bool {
	e, hasID := parse(line)
	return hasID && e.Method != ""
}

// isResponse: the server's answer to a client request.
func isResponse(line []byte) bool {
	e, hasID := parse(line)
	return hasID && e.Method == ""
}
