package confirm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
)

// testClaims are claims as the service fills them in.
func testClaims() Claims {
	return Claims{
		Target:    "127.0.0.1:5432/vectors",
		Options:   `{"collections":[],"on_conflict":"error","snapshot":true,"tables":["langchain_pg_collection","langchain_pg_embedding"],"truncate":true}`,
		SetDir:    "/srv/project/data_pipeline/training_data/global_vector_bak",
		Timestamp: "20250721_215758",
		Files: map[string]FileStamp{
			"langchain_pg_collection": {Size: 209, Identity: "ino-1-mtime-1753105078123456789-size-209", SHA256: strings.Repeat("ab", 32)},
			"langchain_pg_embedding":  {Size: 782336, Identity: "\"9b2cf535f27731c974343645a3985328-3\"-size-782336", SHA256: strings.Repeat("cd", 32)},
		},
		State: "langchain_pg_collection:4:123;langchain_pg_embedding:100:-987654321",
	}
}

// fixedClock is a settable clock for SetClock.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fixedClock { return &fixedClock{t: t} }

func (c *fixedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustSealer(t *testing.T, key []byte, ttl time.Duration) *Sealer {
	t.Helper()
	s, err := NewSealer(key, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSeal(t *testing.T, s *Sealer, c Claims) (string, time.Time) {
	t.Helper()
	token, expires, err := s.Seal(c)
	if err != nil {
		t.Fatal(err)
	}
	return token, expires
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpenRoundTrip(t *testing.T) {
	clock := newClock(time.Date(2025, 7, 21, 21, 57, 58, 500_000_000, time.UTC))
	s := mustSealer(t, nil, 10*time.Minute)
	s.SetClock(clock.now)

	in := testClaims()
	in.ID, in.ExpiresAt = "caller-set", 42 // Seal must overwrite both
	token, expires := mustSeal(t, s, in)
	if !strings.HasPrefix(token, tokenPrefix) {
		t.Fatalf("token %q lacks the prefix %q", token, tokenPrefix)
	}
	if want := clock.now().Add(10 * time.Minute); !expires.Equal(want) {
		t.Errorf("expires %v, want %v", expires, want)
	}
	got, err := s.Open(context.Background(), token)
	if err != nil {
		t.Fatalf("open a fresh token: %v", err)
	}
	if got.ID == "" || got.ID == "caller-set" {
		t.Errorf("Seal did not mint an ID: %q", got.ID)
	}
	if got.ExpiresAt != expires.Unix() {
		t.Errorf("claims expire at %d, Seal said %d", got.ExpiresAt, expires.Unix())
	}
	want := testClaims()
	want.ID, want.ExpiresAt = got.ID, got.ExpiresAt
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("claims changed in the round trip:\n got %+v\nwant %+v", *got, want)
	}
	// Opening does not use a token up.
	if _, err := s.Open(context.Background(), token); err != nil {
		t.Errorf("second open: %v", err)
	}
	// The token is plain URL-safe text, easy for a model to copy.
	if strings.ContainsAny(token, "+/= \n\"\\") {
		t.Errorf("token %q holds characters that are awkward in JSON or URLs", token)
	}
	// The claims are not readable from the token.
	if strings.Contains(token, "vectors") || strings.Contains(token, "global_vector_bak") {
		t.Errorf("token leaks its claims: %s", token)
	}
}

func TestSealMintsDistinctTokens(t *testing.T) {
	s := mustSealer(t, nil, 0)
	seen := map[string]bool{}
	ids := map[string]bool{}
	for range 50 {
		token, _ := mustSeal(t, s, testClaims())
		if seen[token] {
			t.Fatalf("the same token twice: %s", token)
		}
		seen[token] = true
		c, err := s.Open(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		if ids[c.ID] {
			t.Fatalf("the same ID twice: %s", c.ID)
		}
		ids[c.ID] = true
	}
}

func TestDefaultTTL(t *testing.T) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		clock := newClock(time.Unix(1_753_000_000, 0))
		s := mustSealer(t, nil, ttl)
		s.SetClock(clock.now)
		_, expires := mustSeal(t, s, testClaims())
		if got := expires.Sub(clock.now()); got != DefaultTTL {
			t.Errorf("ttl %v: token lives %v, want the default %v", ttl, got, DefaultTTL)
		}
	}
	if DefaultTTL != 10*time.Minute {
		t.Errorf("DefaultTTL %v, the contract says 10 minutes", DefaultTTL)
	}
}

func TestKeyMustBe32Bytes(t *testing.T) {
	for _, n := range []int{0, 1, 16, 24, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n), time.Minute); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		} else if !strings.Contains(err.Error(), "32") {
			t.Errorf("%d-byte key: error %q does not say 32 bytes", n, err)
		}
	}
	if _, err := NewSealer(make([]byte, 32), time.Minute); err != nil {
		t.Errorf("a 32-byte key: %v", err)
	}
	if _, err := NewSealer(nil, time.Minute); err != nil {
		t.Errorf("a nil (random) key: %v", err)
	}
}

// TestKeyDecides: a token opens under a sealer with the same key (a restarted
// server given its key, another replica) and under no other, which knows it
// for another key's token (ErrOtherKey) by the key id it carries.
func TestKeyDecides(t *testing.T) {
	a := mustSealer(t, key(1), time.Minute)
	token, _ := mustSeal(t, a, testClaims())

	if _, err := mustSealer(t, key(1), time.Minute).Open(context.Background(), token); err != nil {
		t.Errorf("same key, other sealer: %v", err)
	}
	for name, other := range map[string]*Sealer{
		"other key":  mustSealer(t, key(2), time.Minute),
		"random key": mustSealer(t, nil, time.Minute),
	} {
		if _, err := other.Open(context.Background(), token); !errors.Is(err, ErrOtherKey) {
			t.Errorf("%s: err %v, want ErrOtherKey", name, err)
		}
	}
	// Two random-key sealers never share tokens: tokens die with the process.
	r1, r2 := mustSealer(t, nil, time.Minute), mustSealer(t, nil, time.Minute)
	tok, _ := mustSeal(t, r1, testClaims())
	if _, err := r2.Open(context.Background(), tok); !errors.Is(err, ErrOtherKey) {
		t.Errorf("random keys: err %v, want ErrOtherKey", err)
	}
}

// splitToken is a token's key id and its sealed bytes.
func splitToken(t *testing.T, token string) (string, []byte) {
	t.Helper()
	id, body, ok := strings.Cut(strings.TrimPrefix(token, tokenPrefix), ".")
	if !ok || len(id) != keyIDLen {
		t.Fatalf("token %q has no key id", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	return id, raw
}

// TestKeyID: a token names its key by an id that says nothing of the key;
// a token naming another key is ErrOtherKey however its body looks, and
// Verify words it for the operator (every replica needs the same key); a
// token that names this key but was sealed under another, or whose id was
// moved onto another key's body, is altered (ErrForeign). Tokens of the
// first format, without a key id, still open under their key, and are
// ErrForeign under any other.
func TestKeyID(t *testing.T) {
	ctx := context.Background()
	a, b := mustSealer(t, key(1), time.Minute), mustSealer(t, key(2), time.Minute)
	tokA, tokB := mustSealString(t, a), mustSealString(t, b)
	idA, rawA := splitToken(t, tokA)
	idB, rawB := splitToken(t, tokB)
	if idA == idB {
		t.Fatalf("two keys share the id %q", idA)
	}
	if idA != keyID(key(1)) || strings.Contains(tokA, base64.RawURLEncoding.EncodeToString(key(1))[:8]) {
		t.Errorf("key id %q: want a hash of the key, never the key", idA)
	}
	if again, _ := splitToken(t, mustSealString(t, mustSealer(t, key(1), time.Minute))); again != idA {
		t.Errorf("the same key's id changed: %q, %q", idA, again)
	}

	for name, c := range map[string]struct {
		token string
		want  error
	}{
		"other key's token":                  {tokB, ErrOtherKey},
		"other key's id, this key's body":    {tokenPrefix + idB + "." + base64.RawURLEncoding.EncodeToString(rawA), ErrOtherKey},
		"this key's id, other key's body":    {tokenPrefix + idA + "." + base64.RawURLEncoding.EncodeToString(rawB), ErrForeign},
		"this key's id, body altered":        {tokenPrefix + idA + "." + base64.RawURLEncoding.EncodeToString(flip(rawA, 20)), ErrForeign},
		"id too short":                       {tokenPrefix + idA[:7] + "." + base64.RawURLEncoding.EncodeToString(rawA), ErrMalformed},
		"id too long":                        {tokenPrefix + idA + "A." + base64.RawURLEncoding.EncodeToString(rawA), ErrMalformed},
		"id not base64url":                   {tokenPrefix + "!!!!!!!!." + base64.RawURLEncoding.EncodeToString(rawA), ErrMalformed},
		"two ids":                            {tokenPrefix + idA + "." + idA + "." + base64.RawURLEncoding.EncodeToString(rawA), ErrMalformed},
		"empty id":                           {tokenPrefix + "." + base64.RawURLEncoding.EncodeToString(rawA), ErrMalformed},
		"id, no body":                        {tokenPrefix + idA + ".", ErrMalformed},
		"other key's id, body not base64url": {tokenPrefix + idB + ".!!!!", ErrMalformed},
		"this token without its id":          {tokenPrefix + base64.RawURLEncoding.EncodeToString(rawA), ErrForeign},
	} {
		if _, err := a.Open(ctx, c.token); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}

	// Tokens of the first format: no key id, sealed under the bare
	// additional data.
	legacy := func(s *Sealer) string {
		c := testClaims()
		c.ID, c.ExpiresAt = "legacy-id", s.now().Add(time.Minute).Unix()
		plain, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		nonce := make([]byte, s.aead.NonceSize())
		return tokenPrefix + base64.RawURLEncoding.EncodeToString(s.aead.Seal(bytes.Clone(nonce), nonce, plain, additionalData))
	}
	if c, err := a.Open(ctx, legacy(a)); err != nil || c.ID != "legacy-id" {
		t.Errorf("a first-format token under its key: %+v, %v", c, err)
	}
	if _, err := b.Open(ctx, legacy(a)); !errors.Is(err, ErrForeign) {
		t.Errorf("a first-format token under another key: %v, want ErrForeign", err)
	}

	// What a caller is told: the keys differ, and what to do.
	call := Call{Target: "t", Set: &catalog.Files{}}
	for name, c := range map[string]struct {
		s    *Sealer
		want string
	}{
		"configured key": {a, "every replica must have the same MCP_CONFIRM_KEY"},
		"ephemeral key":  {mustSealer(t, nil, time.Minute), "this server has no MCP_CONFIRM_KEY"},
	} {
		_, err := c.s.Verify(ctx, tokB, call)
		e, ok := apierr.As(err)
		if !ok || e.Type != apierr.InvalidParams || e.Details["reason"] != "invalid" || e.Details["key_mismatch"] != true ||
			!strings.Contains(e.Message, c.want) || !strings.Contains(e.Message, "without confirm_token") {
			t.Errorf("%s: Verify of another key's token = %v (%+v), want INVALID_PARAMS saying %q", name, err, e, c.want)
		}
	}
	_, err := a.Verify(ctx, tokenPrefix+idA+"."+base64.RawURLEncoding.EncodeToString(flip(rawA, 20)), call)
	if e, ok := apierr.As(err); !ok || e.Details["key_mismatch"] != nil || strings.Contains(e.Message, "MCP_CONFIRM_KEY") {
		t.Errorf("an altered token of this key is blamed on the key: %v", err)
	}
}

// refused reports whether err is one of the errors for a token that is not a
// valid one of ours.
func refused(err error) bool {
	return errors.Is(err, ErrForeign) || errors.Is(err, ErrMalformed)
}

// TestTamperedTokens: every single-character change of the body is refused,
// except where the character's only effect is on base64 padding bits that
// decode to the same bytes (then the token is the same token).
func TestTamperedTokens(t *testing.T) {
	s := mustSealer(t, nil, time.Minute)
	token, _ := mustSeal(t, s, testClaims())
	id, orig := splitToken(t, token)
	// The sealed body; changes to the key id are TestKeyID's.
	prefix := tokenPrefix + id + "."
	body := strings.TrimPrefix(token, prefix)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range body {
		b := []byte(body)
		// Flip to the character 1 and 33 places along the alphabet: one
		// low-bit and one high-bit change.
		for _, step := range []int{1, 33} {
			b[i] = alphabet[(strings.IndexByte(alphabet, body[i])+step)%len(alphabet)]
			_, err := s.Open(context.Background(), prefix+string(b))
			if refused(err) {
				continue
			}
			if err == nil {
				if dec, derr := base64.RawURLEncoding.DecodeString(string(b)); derr == nil && bytes.Equal(dec, orig) && i == len(body)-1 {
					continue // only padding bits changed: the same bytes
				}
				t.Errorf("body char %d changed (%q→%q): the token still opens", i, body[i], b[i])
			} else {
				t.Errorf("body char %d changed: err %v, want ErrForeign or ErrMalformed", i, err)
			}
		}
	}

	for name, bad := range map[string]string{
		"empty":                    "",
		"prefix only":              tokenPrefix,
		"no prefix":                body,
		"other version prefix":     "vbc2." + body,
		"upper-case prefix":        strings.ToUpper(tokenPrefix) + body,
		"prefix without the dot":   strings.TrimSuffix(tokenPrefix, ".") + body,
		"space before":             " " + token,
		"space after":              token + " ",
		"padded":                   token + "==",
		"standard base64 alphabet": prefix + base64.RawStdEncoding.EncodeToString(orig) + "+/",
		"not base64":               prefix + "!!!!" + body[4:],
		"truncated by one":         token[:len(token)-1],
		"truncated by four":        token[:len(token)-4],
		"truncated to half":        token[:len(prefix)+len(body)/2],
		"truncated to the nonce":   prefix + base64.RawURLEncoding.EncodeToString(orig[:12]),
		"shorter than a nonce":     prefix + base64.RawURLEncoding.EncodeToString(orig[:5]),
		"extended":                 token + "AAAA",
		"doubled":                  token + body,
		"two tokens":               token + token,
		"other token's tail":       prefix + body[:16] + strings.TrimPrefix(mustSealString(t, s), prefix)[16:],
		"ciphertext bit flip":      prefix + base64.RawURLEncoding.EncodeToString(flip(orig, len(orig)/2)),
		"nonce bit flip":           prefix + base64.RawURLEncoding.EncodeToString(flip(orig, 0)),
		"tag bit flip":             prefix + base64.RawURLEncoding.EncodeToString(flip(orig, len(orig)-1)),
	} {
		c, err := s.Open(context.Background(), bad)
		if !refused(err) {
			t.Errorf("%s: Open = %+v, %v; want ErrForeign or ErrMalformed", name, c, err)
		}
	}

	// The prefix decides malformed versus foreign.
	if _, err := s.Open(context.Background(), "vbc2."+body); !errors.Is(err, ErrMalformed) {
		t.Errorf("other prefix: %v, want ErrMalformed", err)
	}
	if _, err := s.Open(context.Background(), prefix+base64.RawURLEncoding.EncodeToString(flip(orig, len(orig)/2))); !errors.Is(err, ErrForeign) {
		t.Errorf("altered ciphertext: %v, want ErrForeign", err)
	}
	// Go's base64 skips line breaks, so a token wrapped by a client decodes
	// to the same bytes: the same token, not an altered one.
	if c, err := s.Open(context.Background(), token+"\r\n"); err != nil || c == nil {
		t.Errorf("token with a trailing line break: %v", err)
	}
	// The real token still opens after all that.
	if _, err := s.Open(context.Background(), token); err != nil {
		t.Errorf("the untouched token: %v", err)
	}
}

func mustSealString(t *testing.T, s *Sealer) string {
	token, _ := mustSeal(t, s, testClaims())
	return token
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

// TestSealedNonClaims: a genuine seal of text that is not claims is foreign,
// and a seal under other additional data (another purpose) does not open.
func TestSealedNonClaims(t *testing.T) {
	s := mustSealer(t, key(7), time.Minute)
	nonce := make([]byte, s.aead.NonceSize())
	for name, plain := range map[string][]byte{
		"not JSON":   []byte("hello"),
		"JSON array": []byte(`[1,2]`),
	} {
		sealed := s.aead.Seal(bytes.Clone(nonce), nonce, plain, additionalData)
		if _, err := s.Open(context.Background(), tokenPrefix+base64.RawURLEncoding.EncodeToString(sealed)); !errors.Is(err, ErrForeign) {
			t.Errorf("%s: %v, want ErrForeign", name, err)
		}
	}
	sealed := s.aead.Seal(bytes.Clone(nonce), nonce, []byte(`{"id":"x","exp":99999999999}`), []byte("another purpose"))
	if _, err := s.Open(context.Background(), tokenPrefix+base64.RawURLEncoding.EncodeToString(sealed)); !errors.Is(err, ErrForeign) {
		t.Errorf("other additional data: %v, want ErrForeign", err)
	}
	// Claims without an expiry are expired, never eternal.
	sealed = s.aead.Seal(bytes.Clone(nonce), nonce, []byte(`{"id":"x"}`), additionalData)
	if _, err := s.Open(context.Background(), tokenPrefix+base64.RawURLEncoding.EncodeToString(sealed)); !errors.Is(err, ErrExpired) {
		t.Errorf("claims without exp: %v, want ErrExpired", err)
	}
}

func TestExpiry(t *testing.T) {
	const ttl = 10 * time.Minute
	for _, start := range []time.Time{
		time.Date(2025, 7, 21, 21, 57, 58, 0, time.UTC),
		time.Date(2025, 7, 21, 21, 57, 58, 999_999_999, time.UTC), // expiry is kept in whole seconds
	} {
		clock := newClock(start)
		s := mustSealer(t, key(3), ttl)
		s.SetClock(clock.now)
		token, expires := mustSeal(t, s, testClaims())

		clock.advance(ttl - time.Second - time.Nanosecond)
		if _, err := s.Open(context.Background(), token); err != nil {
			t.Errorf("start %v: a second before expiry: %v", start, err)
		}
		clock.t = expires
		if _, err := s.Open(context.Background(), token); !errors.Is(err, ErrExpired) {
			t.Errorf("start %v: at the expiry Seal announced (%v): %v, want ErrExpired", start, expires, err)
		}
		clock.advance(time.Hour)
		if _, err := s.Open(context.Background(), token); !errors.Is(err, ErrExpired) {
			t.Errorf("start %v: an hour after expiry: %v, want ErrExpired", start, err)
		}
		// A sealer with the same key but a correct clock agrees.
		if _, err := mustSealer(t, key(3), ttl).Open(context.Background(), token); !errors.Is(err, ErrExpired) {
			t.Errorf("start %v: other sealer, real clock: %v, want ErrExpired", start, err)
		}
	}
}

// TestExpiresAtIsHonest: the expiry the service publishes (Seal's answer in
// whole seconds, RFC 3339) is exactly when the token stops working, so a
// client that waits until the last second is not refused early.
func TestExpiresAtIsHonest(t *testing.T) {
	clock := newClock(time.Date(2025, 7, 21, 21, 57, 58, 750_000_000, time.UTC))
	s := mustSealer(t, nil, time.Minute)
	s.SetClock(clock.now)
	token, expires := mustSeal(t, s, testClaims())
	published := expires.Truncate(time.Second)
	clock.t = published.Add(-time.Nanosecond)
	if _, err := s.Open(context.Background(), token); err != nil {
		t.Errorf("just before the published expiry %s: %v", published.Format(time.RFC3339), err)
	}
	clock.t = published
	if _, err := s.Open(context.Background(), token); !errors.Is(err, ErrExpired) {
		t.Errorf("at the published expiry %s: %v, want ErrExpired", published.Format(time.RFC3339), err)
	}
}

func TestSpend(t *testing.T) {
	clock := newClock(time.Unix(1_753_000_000, 0))
	s := mustSealer(t, nil, 10*time.Minute)
	s.SetClock(clock.now)
	a, _ := mustSeal(t, s, testClaims())
	b, _ := mustSeal(t, s, testClaims())

	ca, err := s.Open(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	s.Spend(context.Background(), ca)
	if _, err := s.Open(context.Background(), a); !errors.Is(err, ErrUsed) {
		t.Errorf("open a used token: %v, want ErrUsed", err)
	}
	if _, err := s.Open(context.Background(), b); err != nil {
		t.Errorf("another token with the same claims is not used: %v", err)
	}
	// Marking twice is harmless.
	s.Spend(context.Background(), ca)
	if _, err := s.Open(context.Background(), a); !errors.Is(err, ErrUsed) {
		t.Errorf("after a second Spend: %v, want ErrUsed", err)
	}
	// Once expired, a used token is expired (and no longer remembered).
	clock.advance(10 * time.Minute)
	if _, err := s.Open(context.Background(), a); !errors.Is(err, ErrExpired) {
		t.Errorf("a used token past its expiry: %v, want ErrExpired", err)
	}
}

func TestUsedEntriesPruned(t *testing.T) {
	clock := newClock(time.Unix(1_753_000_000, 0))
	s := mustSealer(t, nil, 10*time.Minute)
	s.SetClock(clock.now)

	var early []*Claims
	for range 100 {
		token, _ := mustSeal(t, s, testClaims())
		c, err := s.Open(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		s.Spend(context.Background(), c)
		early = append(early, c)
	}
	clock.advance(5 * time.Minute)
	late, _ := mustSeal(t, s, testClaims())
	lc, err := s.Open(context.Background(), late)
	if err != nil {
		t.Fatal(err)
	}
	s.Spend(context.Background(), lc)
	if n := len(s.used); n != 101 {
		t.Fatalf("%d used entries before any expired, want 101", n)
	}

	clock.advance(5 * time.Minute) // the first 100 expire now
	next, _ := mustSeal(t, s, testClaims())
	nc, err := s.Open(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	s.Spend(context.Background(), nc)
	if n := len(s.used); n != 2 {
		t.Errorf("%d used entries after the first 100 expired, want 2 (late and next)", n)
	}
	for _, c := range early {
		if _, ok := s.used[c.ID]; ok {
			t.Fatalf("expired used entry %s kept", c.ID)
		}
	}
	// The still-valid used token stays refused.
	if _, err := s.Open(context.Background(), late); !errors.Is(err, ErrUsed) {
		t.Errorf("late token: %v, want ErrUsed", err)
	}
}

// TestConcurrentUse runs Seal, Open and Spend from many goroutines; run
// with -race.
func TestConcurrentUse(t *testing.T) {
	s := mustSealer(t, nil, time.Minute)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				token, _, err := s.Seal(testClaims())
				if err != nil {
					t.Error(err)
					return
				}
				c, err := s.Open(context.Background(), token)
				if err != nil {
					t.Error(err)
					return
				}
				s.Spend(context.Background(), c)
				if _, err := s.Open(context.Background(), token); !errors.Is(err, ErrUsed) {
					t.Errorf("after Spend: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
