package httpapi

import (
	"crypto/rand"
	"errors"
	"sync"
	"time"
)

// sessionIdleTTL ends MCP sessions (protocol 2025-11-25 and before) that
// clients left without closing, so they do not pile up.
const sessionIdleTTL = 30 * time.Minute

// errUnknownSession is the registry's answer to mcp-go for a session id it
// does not hold: never minted here, deleted, swept as idle, or from before
// a restart.
var errUnknownSession = errors.New("unknown or ended MCP session")

// sessionRegistry is mcp-go's SessionIdManager for /mcp: it mints session
// ids and remembers the live ones. mcp-go's default manager checks only an
// id's form, so any made-up id was served (by a fresh, empty session, and
// every one of them took a slot in mcp-go's idle sweeper); the spec wants
// 404 for an id the server does not know, which tells the client to
// initialize again. Ended sessions are forgotten, not remembered as ended:
// both answer 404, so there is nothing to keep.
//
// mcp-go calls Generate on initialize, Terminate on DELETE, on its idle
// sweep and on shutdown, and Validate on every later POST.
type sessionRegistry struct {
	mu   sync.Mutex
	live map[string]struct{}
}

func newSessionRegistry() *sessionRegistry {
	return &sessionRegistry{live: make(map[string]struct{})}
}

// Generate mints an id from 130 random bits: an id is a capability to the
// session's stream, so it must not be guessable.
func (s *sessionRegistry) Generate() string {
	id := "mcp-session-" + rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[id] = struct{}{}
	return id
}

// Validate fails for an id that is not live; mcp-go then answers 404.
func (s *sessionRegistry) Validate(id string) (isTerminated bool, err error) {
	if !s.known(id) {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate forgets id. Clients may end their own sessions.
func (s *sessionRegistry) Terminate(id string) (isNotAllowed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, id)
	return false, nil
}

func (s *sessionRegistry) known(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.live[id]
	return ok
}
