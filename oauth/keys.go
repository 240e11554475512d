package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// How the key set is kept fresh. A token naming a kid the cache lacks
// refetches the set (the issuer may have rotated), but at most once per
// minRefetch: a flood of tokens with made-up kids costs one fetch, not one
// per request. Keys older than maxKeyAge are refetched before use, so a
// key the issuer withdrew stops being accepted.
const (
	minRefetch = 30 * time.Second
	maxKeyAge  = time.Hour
	// fetchTimeout bounds one fetch of the key set, whoever's request
	// started it.
	fetchTimeout = 10 * time.Second
	// minRSABits refuses RSA keys too short to trust.
	minRSABits = 2048
)

// keySet is the issuer's signing keys, fetched from its jwks_uri and
// cached. go-oidc's RemoteKeySet was the candidate, but it refetches on
// every token its cache cannot verify, a bad signature under a known kid
// included, with no minimum interval, reads the set without a size bound,
// and keeps its cache private; so this one does the same with those bounds.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	// fetching serializes fetches: one runs at a time, and those who
	// waited for it use its result.
	fetching sync.Mutex

	mu        sync.RWMutex // guards the fields below
	keys      []jose.JSONWebKey
	fetchedAt time.Time // when keys were fetched
	triedAt   time.Time // when a fetch last started, whatever its outcome
	gen       int       // counts successful fetches
}

func newKeySet(url string, client *http.Client, now func() time.Time, log *slog.Logger) *keySet {
	return &keySet{url: url, client: client, now: now, log: log}
}

func (k *keySet) snapshot() (keys []jose.JSONWebKey, gen int, stale bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys, k.gen, k.now().Sub(k.fetchedAt) > maxKeyAge
}

// verify checks the token's one signature with the key its kid names (or,
// with no kid, with any key that fits its algorithm), refetching the set
// once when the kid is unknown or the keys are old.
func (k *keySet) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	header := jws.Signatures[0].Header
	keys, gen, stale := k.snapshot()
	if stale {
		keys = k.refresh(ctx, gen, false)
	}
	candidates := matching(keys, header)
	if len(candidates) == 0 && header.KeyID != "" {
		keys = k.refresh(ctx, gen, true)
		candidates = matching(keys, header)
	}
	if len(candidates) == 0 {
		return nil, refuse(UnknownKey, "no %s key with kid %q", header.Algorithm, header.KeyID)
	}
	for _, key := range candidates {
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, nil
		}
	}
	return nil, refuse(BadSignature, "kid %q did not verify", header.KeyID)
}

// matching are the keys that may have signed a token with this header:
// its kid (any, without one), usable for signatures, and of the type its
// algorithm needs (an RSA key never checks an EC signature, nor any key an
// HMAC).
func matching(keys []jose.JSONWebKey, h jose.Header) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range keys {
		if h.KeyID != "" && key.KeyID != h.KeyID {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			continue
		}
		if fits(key.Key, jose.SignatureAlgorithm(h.Algorithm)) {
			out = append(out, key)
		}
	}
	return out
}

func fits(key any, alg jose.SignatureAlgorithm) bool {
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		_, ok := key.(*rsa.PublicKey)
		return ok
	case jose.ES256, jose.ES384, jose.ES512:
		_, ok := key.(*ecdsa.PublicKey)
		return ok
	case jose.EdDSA:
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

// refresh refetches the set, unless another fetch succeeded since the
// caller's snapshot (gen) or one started less than minRefetch ago; it
// returns the keys then current. A failed fetch keeps the old keys. With
// wait, a call finds a fetch under way waits for it (the token needs its
// result); without, it goes on with the keys it has (old keys still
// verify, and a slow issuer must not hold every request).
func (k *keySet) refresh(ctx context.Context, gen int, wait bool) []jose.JSONWebKey {
	if wait {
		k.fetching.Lock()
	} else if !k.fetching.TryLock() {
		return k.current()
	}
	defer k.fetching.Unlock()
	k.mu.RLock()
	keys, current, tried := k.keys, k.gen, k.triedAt
	k.mu.RUnlock()
	if current != gen || k.now().Sub(tried) < minRefetch {
		return keys
	}
	// The fetch serves every waiting request, not only this one: a client
	// that goes away must not cancel it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	if err := k.fetch(ctx); err != nil {
		k.log.Warn("oauth: cannot refetch the issuer's keys; keeping those fetched before", "jwks_uri", k.url, "err", err)
	}
	return k.current()
}

func (k *keySet) current() []jose.JSONWebKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys
}

// fetch reads the key set and, when it holds at least one usable key,
// replaces the cached one.
func (k *keySet) fetch(ctx context.Context) error {
	k.mu.Lock()
	k.triedAt = k.now()
	k.mu.Unlock()
	body, err := getDocument(ctx, k.client, k.url)
	if errors.Is(err, errNotThere) {
		err = fmt.Errorf("answered 404 Not Found")
	}
	if err != nil {
		return fmt.Errorf("cannot fetch the key set: %w", err)
	}
	keys, skipped, err := parseKeySet(body)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("the key set holds no usable signing key (%d skipped: symmetric, private, unknown type, RSA under %d bits, or not for signatures)", skipped, minRSABits)
	}
	k.mu.Lock()
	k.keys, k.fetchedAt, k.gen = keys, k.now(), k.gen+1
	k.mu.Unlock()
	k.log.Info("oauth: fetched the issuer's keys", "jwks_uri", k.url, "keys", len(keys), "skipped", skipped)
	return nil
}

// parseKeySet reads a JWKS, keeping the public signing keys of the
// accepted types; others are skipped (RFC 7517 asks to ignore keys not
// understood), and counted.
func parseKeySet(body []byte) (keys []jose.JSONWebKey, skipped int, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("the key set is not a JWKS: %v", err)
	}
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if json.Unmarshal(raw, &key) != nil || !usable(key) {
			skipped++
			continue
		}
		keys = append(keys, key)
	}
	return keys, skipped, nil
}

func usable(key jose.JSONWebKey) bool {
	if key.Use != "" && key.Use != "sig" {
		return false
	}
	switch pub := key.Key.(type) {
	case *rsa.PublicKey:
		return pub.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false // symmetric, private or unknown
}
