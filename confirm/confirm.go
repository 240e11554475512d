// Package confirm mints and opens the tokens that let a destructive restore
// run only after a person approved its plan. A token is sealed with AES-GCM
// under a key only the server holds, so it cannot be forged or altered; it
// expires; and it carries the world the plan was made for (the backup files,
// the options, the target database, the state of the rows to be replaced),
// which the restore checks again under its lock.
package confirm

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTTL is how long a token stays valid.
const DefaultTTL = 10 * time.Minute

// tokenPrefix marks the format, so a token from another build is recognized
// as foreign rather than as garbage.
const tokenPrefix = "vbc1."

// additionalData binds the ciphertext to its purpose.
var additionalData = []byte("pgvector-backup-mcp confirmation v1")

// Claims is what a token vouches for.
type Claims struct {
	ID        string               `json:"id"`
	ExpiresAt int64                `json:"exp"` // unix seconds
	Target    string               `json:"target"`
	Options   string               `json:"options"` // Digest of the call's canonical options
	SetDir    string               `json:"set_dir"` // Digest of the set's folder
	Timestamp string               `json:"ts"`
	Files     map[string]FileStamp `json:"files"` // by table
	State     string               `json:"state"` // fingerprint of the rows to be replaced
}

// Digest is a short, collision-resistant stand-in for s: it keeps a token's
// size fixed whatever the options (a list of many collections) or paths.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// FileStamp identifies a backup file's content.
type FileStamp struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"` // unix nanoseconds
	SHA256  string `json:"sha256"`
}

// Errors Open returns; callers word them for the user.
var (
	ErrMalformed = errors.New("not a confirmation token")
	ErrForeign   = errors.New("token was not issued by this server, or was altered")
	ErrExpired   = errors.New("token expired")
	ErrUsed      = errors.New("token was already used")
)

// Sealer mints and opens tokens. It remembers used tokens until they expire.
type Sealer struct {
	aead cipher.AEAD
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	used     map[string]int64 // id → expiry
	usedFile string           // where used ids persist, when set
}

// PersistUsed keeps the list of used tokens in path as well as in memory, so
// that a server restarted with the same key (or another sharing key and
// file) still refuses a token whose restore already committed.
func (s *Sealer) PersistUsed(path string) { s.usedFile = path }

// maxUsedFile bounds what is read of the used-token file.
const maxUsedFile = 1 << 20

// usedOnDisk reports whether id is in the used-token file.
func (s *Sealer) usedOnDisk(id string) bool {
	if s.usedFile == "" {
		return false
	}
	f, err := os.Open(s.usedFile)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxUsedFile))
	for sc.Scan() {
		if got, _, _ := strings.Cut(sc.Text(), " "); got == id {
			return true
		}
	}
	return false
}

// recordOnDisk appends id to the used-token file; O_APPEND keeps concurrent
// writers' lines whole. Expired entries are dropped when the file grows.
func (s *Sealer) recordOnDisk(id string, exp int64) error {
	if s.usedFile == "" {
		return nil
	}
	if fi, err := os.Stat(s.usedFile); err == nil && fi.Size() > maxUsedFile/2 {
		s.pruneFile()
	}
	f, err := os.OpenFile(s.usedFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s %d\n", id, exp); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *Sealer) pruneFile() {
	b, err := os.ReadFile(s.usedFile)
	if err != nil {
		return
	}
	now := s.now().Unix()
	var keep strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		_, expText, ok := strings.Cut(line, " ")
		if exp, err := strconv.ParseInt(expText, 10, 64); ok && err == nil && exp > now {
			keep.WriteString(line + "\n")
		}
	}
	tmp := s.usedFile + ".tmp"
	if os.WriteFile(tmp, []byte(keep.String()), 0o600) == nil {
		os.Rename(tmp, s.usedFile)
	}
}

// NewSealer returns a sealer with a 32-byte key; a nil key means a random
// one, so tokens die with the process.
func NewSealer(key []byte, ttl time.Duration) (*Sealer, error) {
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("confirmation key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Sealer{aead: aead, ttl: ttl, now: time.Now, used: map[string]int64{}}, nil
}

// SetClock replaces the sealer's clock, for tests of expiry.
func (s *Sealer) SetClock(now func() time.Time) { s.now = now }

// Seal fills in the claims' ID and expiry and returns the token and when it
// expires.
func (s *Sealer) Seal(c Claims) (string, time.Time, error) {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return "", time.Time{}, err
	}
	c.ID = base64.RawURLEncoding.EncodeToString(id)
	expires := s.now().Add(s.ttl)
	c.ExpiresAt = expires.Unix()
	plain, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", time.Time{}, err
	}
	sealed := s.aead.Seal(nonce, nonce, plain, additionalData)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(sealed), expires, nil
}

// Open checks a token and returns its claims.
func (s *Sealer) Open(token string) (*Claims, error) {
	body, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return nil, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, ErrMalformed
	}
	nonce, sealed := raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():]
	plain, err := s.aead.Open(nil, nonce, sealed, additionalData)
	if err != nil {
		return nil, ErrForeign
	}
	var c Claims
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, ErrForeign
	}
	now := s.now().Unix()
	if now >= c.ExpiresAt {
		return nil, ErrExpired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.used[c.ID]; ok || s.usedOnDisk(c.ID) {
		return nil, ErrUsed
	}
	return &c, nil
}

// MarkUsed records that a token's restore committed, so it cannot be
// replayed. Failed restores do not use up their token: nothing changed. An
// error means the record could not be persisted (the in-memory one holds).
func (s *Sealer) MarkUsed(c *Claims) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	for id, exp := range s.used {
		if exp <= now {
			delete(s.used, id)
		}
	}
	s.used[c.ID] = c.ExpiresAt
	return s.recordOnDisk(c.ID, c.ExpiresAt)
}
