// Package testutil holds small helpers the tests of several packages share.
package testutil

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Buffer collects what goroutines write (a server's log, a process's
// stderr) for a test to read while they go on.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// WaitFor waits until the text written after offset contains one of subs
// and returns the one found, or "" after timeout.
func (b *Buffer) WaitFor(offset int, timeout time.Duration, subs ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		s := b.String()
		if offset < len(s) {
			for _, sub := range subs {
				if strings.Contains(s[offset:], sub) {
					return sub
				}
			}
		}
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(20 * time.Millisecond)
	}
}
