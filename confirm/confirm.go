// Package confirm mints and opens the tokens that let a destructive restore
// run only after a person approved its plan. A token is sealed with AES-GCM
// under a key only the server holds, so it cannot be forged or altered; it
// expires; and it carries the world the plan was made for (the backup files,
// the options, the target database, the state of the rows to be replaced),
// which the restore checks again under its lock.
package confirm

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/store"
)

// DefaultTTL is how long a token stays valid.
const DefaultTTL = 10 * time.Minute

// tokenPrefix marks the format, so a token from another build is recognized
// as foreign rather than as garbage.
//
// A token is tokenPrefix, the sealing key's id and a dot, then the sealed
// claims (nonce, ciphertext and tag in base64url). The key id lets a
// replica tell a token sealed under another MCP_CONFIRM_KEY from an altered
// one, and say so. Tokens of the first format, without a key id (base64url
// has no dot), still open until they expire.
const tokenPrefix = "vbc1."

// additionalData binds the ciphertext to its purpose; a token with a key id
// binds that too (additionalData plus the id).
var additionalData = []byte("pgvector-backup-mcp confirmation v1")

// keyIDLen is the length of a key id: 48 bits of a hash of the key, enough
// to tell keys apart, nothing to guess the key from.
const keyIDLen = 8

// keyID names key in tokens.
func keyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("pgvector-backup-mcp confirmation key id\x00"), key...))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

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
	Size     int64  `json:"size"`
	Identity string `json:"id"` // the store's identity of the file: an ETag or generation, a folder file's inode and time
	SHA256   string `json:"sha256"`
}

// Errors Open returns; callers word them for the user.
var (
	ErrMalformed = errors.New("not a confirmation token")
	ErrForeign   = errors.New("token was not issued by this server, or was altered")
	ErrOtherKey  = errors.New("token was sealed under another confirmation key")
	ErrExpired   = errors.New("token expired")
	ErrUsed      = errors.New("token was already used")
)

// Sealer mints and opens tokens, and spends each at most once.
type Sealer struct {
	aead      cipher.AEAD
	keyID     string // in every token, to recognize another key's tokens
	ephemeral bool   // the key was made at start: no other process has it
	ttl       time.Duration
	now       func() time.Time

	mu    sync.Mutex
	used  map[string]int64 // id → expiry: spent in this process
	spent *spentRecord     // where spends persist, when set
}

// PersistSpent keeps the record of spent tokens under the backup root
// (in its state folder), so that a token is spent once across restarts and
// across replicas that share the root.
func (s *Sealer) PersistSpent(st store.Store) {
	s.spent = newSpentRecord(st)
}

// CheckKey refuses a key without entropy: all bytes equal (all zero, the
// usual placeholder), or a short pattern repeated, which anyone could guess.
func CheckKey(key []byte) error {
	distinct := map[byte]bool{}
	for _, b := range key {
		distinct[b] = true
	}
	if len(distinct) < 8 {
		return fmt.Errorf("has only %d distinct bytes: it is a placeholder or a pattern, not a random key", len(distinct))
	}
	for period := 1; period <= len(key)/2; period++ {
		repeats := true
		for i := period; i < len(key) && repeats; i++ {
			repeats = key[i] == key[i-period]
		}
		if repeats {
			return fmt.Errorf("repeats a pattern of %d bytes: it is not a random key", period)
		}
	}
	return nil
}

// NewSealer returns a sealer with a 32-byte key; a nil key means a random
// one, so tokens die with the process.
func NewSealer(key []byte, ttl time.Duration) (*Sealer, error) {
	ephemeral := key == nil
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
	return &Sealer{aead: aead, keyID: keyID(key), ephemeral: ephemeral, ttl: ttl, now: time.Now, used: map[string]int64{}}, nil
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
	sealed := s.aead.Seal(nonce, nonce, plain, additionalDataOf(s.keyID))
	return tokenPrefix + s.keyID + "." + base64.RawURLEncoding.EncodeToString(sealed), expires, nil
}

// additionalDataOf is what a token's seal binds besides its claims: the
// purpose, and the key id when the token names one.
func additionalDataOf(keyID string) []byte {
	if keyID == "" {
		return additionalData
	}
	return append(append([]byte(nil), additionalData...), " key "+keyID...)
}

// Open checks a token and returns its claims.
func (s *Sealer) Open(ctx context.Context, token string) (*Claims, error) {
	body, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return nil, ErrMalformed
	}
	// A key id, unless the token is of the first format.
	id, rest, withID := strings.Cut(body, ".")
	if withID {
		if len(id) != keyIDLen || strings.Contains(rest, ".") {
			return nil, ErrMalformed
		}
		if _, err := base64.RawURLEncoding.DecodeString(id); err != nil {
			return nil, ErrMalformed
		}
		body = rest
	} else {
		id = ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, ErrMalformed
	}
	if withID && id != s.keyID {
		// Decided before opening: the id is no secret, and a token
		// sealed under another key could not open here anyway.
		return nil, ErrOtherKey
	}
	nonce, sealed := raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():]
	plain, err := s.aead.Open(nil, nonce, sealed, additionalDataOf(id))
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
	if _, ok := s.used[c.ID]; ok {
		return nil, ErrUsed
	}
	if s.spent != nil {
		spent, err := s.spent.spent(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		if spent {
			return nil, ErrUsed
		}
	}
	return &c, nil
}

// Spend spends a token: exactly once, whoever else tries at the same time
// in this process or in another sharing the record. It returns ErrUsed when
// the token was spent already, and another error when the spend cannot be
// recorded durably. A restore spends its token inside its transaction,
// just before COMMIT, and does not commit unless Spend succeeded.
func (s *Sealer) Spend(ctx context.Context, c *Claims) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, exp := range s.used {
		if exp <= now.Unix() {
			delete(s.used, id)
		}
	}
	if _, ok := s.used[c.ID]; ok {
		return ErrUsed
	}
	if s.spent != nil {
		if err := s.spent.spend(ctx, c.ID, c.ExpiresAt, now); err != nil {
			return err
		}
	}
	s.used[c.ID] = c.ExpiresAt
	return nil
}
