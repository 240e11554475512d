package restore

import (
	"io"
	"sync"
)

// Chunks of the pipeline: big enough that pgconn sends few messages, few
// enough that memory stays flat.
const (
	chunkSize   = 256 << 10
	chunksAhead = 3
)

// pipeline reads and encodes a stream on its own goroutine, a few chunks
// ahead of COPY: pgconn's goroutine reads a chunk, then blocks writing it to
// the socket while the server digests it, and meanwhile the next chunks are
// being made. It is the io.Reader CopyFrom reads.
type pipeline struct {
	full chan []byte // chunks made, in order; closed after the last
	free chan []byte // chunks to reuse
	stop chan struct{}
	done chan struct{}

	cur []byte
	off int

	mu  sync.Mutex
	err error // what making the chunks failed with
}

func startPipeline(s *stream) *pipeline {
	p := &pipeline{
		full: make(chan []byte, chunksAhead),
		free: make(chan []byte, chunksAhead+1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range chunksAhead + 1 {
		p.free <- make([]byte, 0, chunkSize+64<<10)
	}
	go p.produce(s)
	return p
}

func (p *pipeline) produce(s *stream) {
	defer close(p.done)
	defer close(p.full)
	for !s.eof {
		var buf []byte
		select {
		case buf = <-p.free:
		case <-p.stop:
			return
		}
		buf, err := s.fill(buf[:0], chunkSize)
		if err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			return
		}
		select {
		case p.full <- buf:
		case <-p.stop:
			return
		}
	}
}

// Read hands COPY the next bytes; after the last chunk, the error making
// them failed with, or io.EOF.
func (p *pipeline) Read(b []byte) (int, error) {
	for p.off == len(p.cur) {
		if p.cur != nil {
			p.free <- p.cur[:0] // never blocks: free holds every chunk
			p.cur = nil
		}
		next, ok := <-p.full
		if !ok {
			if err := p.readErr(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		p.cur, p.off = next, 0
	}
	n := copy(b, p.cur[p.off:])
	p.off += n
	return n, nil
}

// Close stops the producer and waits for it, so the stream can be closed.
func (p *pipeline) Close() {
	close(p.stop)
	<-p.done
}

// readErr is the error making the chunks failed with, if any. COPY reports
// such a failure only as "COPY from stdin failed", so the caller asks here
// for the cause.
func (p *pipeline) readErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
