package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/jsonrpc"
)

// maxStdioMessage bounds one JSON-RPC message on stdio: the bytes of a line
// before its newline. mcp-go reads a line whole, however long, and holds
// several copies of it while decoding, so one endless line would take the
// process's memory. Tool arguments are paths and names, a few KiB, and HTTP
// takes bodies up to 1 MiB; 8 MiB still lets a host's multi-megabyte
// argument through to the tools' validation, which names the field at
// fault. A longer line is answered with an Invalid Request and skipped
// without being held.
const maxStdioMessage = 8 << 20

// stdinChunk is how much of stdin is read at a time.
const stdinChunk = 64 << 10

// inflight counts the JSON-RPC requests read from stdin that have no
// response on stdout yet. mcp-go's stdio server cancels every running call
// the moment stdin ends, so a script that pipes in a restore and closes its
// end would always have it rolled back; holding stdin's EOF back until the
// answers are out lets such a call finish.
type inflight struct {
	mu      sync.Mutex
	pending int
	zero    chan struct{} // closed while pending is 0

	stdout *stdoutWriter // shared by both sides: the reader answers refused lines on it
}

func newInflight() *inflight {
	z := make(chan struct{})
	close(z)
	f := &inflight{zero: z}
	f.stdout = &stdoutWriter{out: io.Discard, track: f}
	return f
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

// reader wraps stdin: it hands mcp-go one screened line at a time, counts
// requests, and delays EOF until every request has been answered (or ctx
// ends). Its refusals go to the stream given to writer.
func (f *inflight) reader(ctx context.Context, r io.Reader) io.Reader {
	return &stdinReader{ctx: ctx, in: r, track: f, stdout: f.stdout, chunk: make([]byte, stdinChunk)}
}

// writer wraps stdout: it counts responses. There is one per inflight;
// set it up before serving.
func (f *inflight) writer(w io.Writer) io.Writer {
	f.stdout.mu.Lock()
	defer f.stdout.mu.Unlock()
	f.stdout.out = w
	return f.stdout
}

// stdinReader is stdin as mcp-go reads it. Each line is found by scanning
// only the bytes just read, so a long line costs linear time, and is held
// only up to maxStdioMessage bytes. A complete line is screened
// (jsonrpc.Screen) before mcp-go sees it: a refused one is answered on
// stdout here and never reaches mcp-go, which would round its id or call
// a batch a parse error.
type stdinReader struct {
	ctx    context.Context
	in     io.Reader
	track  *inflight
	stdout *stdoutWriter

	chunk  []byte // the buffer stdin is read into
	unread []byte // the part of chunk not yet split into lines
	// The start of a line that did not end in the bytes read so far, copied
	// into buffers that grow with it (see keep) and joined once the line
	// ends, so that a line over the bound costs no more than the bound.
	held     [][]byte
	heldLen  int
	skipping bool   // the current line went over the bound: drop it up to its newline
	ready    []byte // a screened line, or what is left of it, for mcp-go to read
	err      error  // stdin's error, returned once everything read before it is handed on
}

func (r *stdinReader) Read(p []byte) (int, error) {
	for len(r.ready) == 0 {
		if len(r.unread) == 0 && r.err != nil {
			if r.heldLen > 0 {
				// A last line without its newline goes to mcp-go as it
				// always did (mcp-go drops it): not a message, so neither
				// screened nor counted.
				r.ready = r.join(nil)
				continue
			}
			return 0, r.end()
		}
		if err := r.advance(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.ready)
	r.ready = r.ready[n:]
	return n, nil
}

// end returns stdin's error; at EOF, once no request is waiting for its
// answer.
func (r *stdinReader) end() error {
	if errors.Is(r.err, io.EOF) {
		select {
		case <-r.track.idle():
		case <-r.ctx.Done():
		}
	}
	return r.err
}

// advance reads stdin when all it read is split into lines, and otherwise
// takes the next piece of a line: a whole line is screened and, when it
// passes, made ready. Its error is only that of answering a refused line.
func (r *stdinReader) advance() error {
	if len(r.unread) == 0 {
		n, err := r.in.Read(r.chunk)
		r.unread, r.err = r.chunk[:n], err
		return nil
	}
	end := bytes.IndexByte(r.unread, '\n')
	if end < 0 {
		return r.hold(r.unread)
	}
	piece := r.unread[:end+1]
	r.unread = r.unread[end+1:]
	if r.skipping {
		r.skipping = false
		return nil
	}
	if r.heldLen+len(piece)-1 > maxStdioMessage {
		r.drop()
		return r.refuseOversize()
	}
	return r.screen(r.join(piece))
}

// hold keeps the start of a line until its end is read, or drops it when
// it is over the bound.
func (r *stdinReader) hold(piece []byte) error {
	r.unread = nil
	switch {
	case r.skipping:
		return nil
	case r.heldLen+len(piece) > maxStdioMessage:
		r.drop()
		r.skipping = true
		return r.refuseOversize()
	}
	r.keep(piece)
	return nil
}

// keep copies piece to the end of the held start of a line. A client that
// writes a byte at a time gets each byte read on its own, so pieces are not
// kept one by one: each new buffer is as large as what is held, from 512
// bytes up to stdinChunk.
func (r *stdinReader) keep(piece []byte) {
	r.heldLen += len(piece)
	for len(piece) > 0 {
		last := len(r.held) - 1
		if last < 0 || len(r.held[last]) == cap(r.held[last]) {
			r.held = append(r.held, make([]byte, 0, min(max(r.heldLen, 512), stdinChunk)))
			last++
		}
		n := min(len(piece), cap(r.held[last])-len(r.held[last]))
		r.held[last] = append(r.held[last], piece[:n]...)
		piece = piece[n:]
	}
}

// join returns the held start of a line followed by its end, and lets the
// held pieces go. The line's end is read from chunk, and is returned
// without a copy when nothing is held.
func (r *stdinReader) join(end []byte) []byte {
	if r.heldLen == 0 {
		return end
	}
	line := make([]byte, 0, r.heldLen+len(end))
	for _, piece := range r.held {
		line = append(line, piece...)
	}
	r.drop()
	return append(line, end...)
}

func (r *stdinReader) drop() {
	clear(r.held)
	r.held, r.heldLen = r.held[:0], 0
}

// refuseOversize answers a line over the bound as soon as it is known to be
// over: its id is in the part not read, so the answer's id is null.
func (r *stdinReader) refuseOversize() error {
	return r.stdout.answer(jsonrpc.Refusal{Code: mcp.INVALID_REQUEST, Message: fmt.Sprintf(
		"this message is longer than %d bytes (%d MiB), the limit for one JSON-RPC message on stdio; it was skipped unread, so its id is unknown: send tool arguments as paths and names, not data",
		maxStdioMessage, maxStdioMessage>>20)})
}

// screen hands a whole line (with its newline) to mcp-go, or answers it
// when jsonrpc.Screen refuses it.
func (r *stdinReader) screen(line []byte) error {
	msg, refusal := jsonrpc.Screen(line[:len(line)-1], "line")
	if refusal != nil {
		return r.stdout.answer(*refusal)
	}
	if isRequest(msg) {
		r.track.add(1)
	}
	r.ready = line
	return nil
}

// stdoutWriter is stdout as mcp-go writes it: it counts responses, and puts
// the answers to refused lines between mcp-go's lines. mcp-go writes from
// many goroutines, each message whole in one Write.
type stdoutWriter struct {
	mu    sync.Mutex
	out   io.Writer
	track *inflight

	partial []byte   // the start of a line whose end is not written yet
	held    [][]byte // answers waiting for that line's end
}

func (w *stdoutWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.out.Write(p)
	w.countResponses(p[:n])
	if len(w.partial) == 0 && len(w.held) > 0 {
		// A failed write here shows on mcp-go's next one.
		for _, answer := range w.held {
			w.out.Write(answer)
		}
		w.held = nil
	}
	return n, err
}

// countResponses finds the lines ending in p, scanning only p.
func (w *stdoutWriter) countResponses(p []byte) {
	for len(p) > 0 {
		end := bytes.IndexByte(p, '\n')
		if end < 0 {
			w.partial = append(w.partial, p...)
			return
		}
		line := p[:end]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		if isResponse(line) {
			w.track.add(-1)
		}
		p = p[end+1:]
	}
}

// answer writes a refusal as one line: now, or once the line mcp-go is
// writing has ended. It is not counted: its message was not.
func (w *stdoutWriter) answer(refusal jsonrpc.Refusal) error {
	line := append(refusal.Response(), '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.held = append(w.held, line)
		return nil
	}
	_, err := w.out.Write(line)
	return err
}

// isRequest: a client request expects an answer; notifications and answers
// to the server's own requests do not.
func isRequest(msg jsonrpc.Message) bool {
	var method string
	return hasID(msg.ID) && json.Unmarshal(msg.Method, &method) == nil && method != ""
}

// isResponse: the server's answer to a client request.
func isResponse(line []byte) bool {
	var e struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	return json.Unmarshal(line, &e) == nil && hasID(e.ID) && e.Method == ""
}

func hasID(id json.RawMessage) bool {
	return len(id) > 0 && string(id) != "null"
}
