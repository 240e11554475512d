// Package oauthtest is a small OAuth issuer for tests: an HTTP server on
// loopback serving its metadata and a JWKS of RSA and EC keys, which
// rotates keys, counts the fetches of its key set, and mints tokens with
// any claims, kid and algorithm, none and HMAC included.
package oauthtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options shape the issuer's metadata.
type Options struct {
	// Path is the issuer's path ("/realms/ops"); "" for an issuer at the
	// origin.
	Path string
	// RFC8414Only serves the metadata only at RFC 8414's
	// /.well-known/oauth-authorization-server, not OpenID's.
	RFC8414Only bool
	// MetadataIssuer, when set, is the issuer the metadata claims (a
	// wrong one, to test the check).
	MetadataIssuer string
}

// Key is one of the issuer's signing keys.
type Key struct {
	ID      string
	Alg     string // RS256 or ES256
	Private crypto.Signer
}

// Issuer is a running test issuer.
type Issuer struct {
	URL     string // the issuer: server URL plus Options.Path
	srv     *httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   []Key // published; keys[0] signs by default
	serial int
}

// New starts an issuer on 127.0.0.1 holding an RSA key (kid rsa-1, RS256,
// the default signer) and an EC key (kid ec-1, ES256); it stops when the
// test ends.
func New(t testing.TB, o Options) *Issuer {
	t.Helper()
	iss := &Issuer{}
	iss.keys = []Key{iss.newKey(t, "RS256"), iss.newKey(t, "ES256")}
	mux := http.NewServeMux()
	metadata := func(w http.ResponseWriter, r *http.Request) {
		issuer := iss.URL
		if o.MetadataIssuer != "" {
			issuer = o.MetadataIssuer
		}
		writeJSON(w, map[string]any{
			"issuer":                                issuer,
			"jwks_uri":                              iss.srv.URL + "/keys",
			"token_endpoint":                        iss.URL + "/token",
			"authorization_endpoint":                iss.URL + "/authorize",
			"response_types_supported":              []string{"code"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	}
	if !o.RFC8414Only {
		mux.HandleFunc("GET "+o.Path+"/.well-known/openid-configuration", metadata)
	}
	mux.HandleFunc("GET /.well-known/oauth-authorization-server"+o.Path, metadata)
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		iss.fetches.Add(1)
		writeJSON(w, iss.JWKS())
	})
	iss.srv = httptest.NewServer(mux)
	iss.URL = iss.srv.URL + o.Path
	t.Cleanup(iss.srv.Close)
	return iss
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (iss *Issuer) newKey(t testing.TB, alg string) Key {
	t.Helper()
	iss.serial++
	var k Key
	var err error
	switch alg {
	case "RS256":
		k = Key{ID: fmt.Sprintf("rsa-%d", iss.serial), Alg: alg}
		k.Private, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k = Key{ID: fmt.Sprintf("ec-%d", iss.serial), Alg: alg}
		k.Private, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("oauthtest: no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewKey makes a key the issuer does not publish (to sign a forgery).
func (iss *Issuer) NewKey(t testing.TB, alg string) Key {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.newKey(t, alg)
}

// Close stops the issuer: it no longer answers.
func (iss *Issuer) Close() { iss.srv.Close() }

// Fetches counts the GETs of the key set.
func (iss *Issuer) Fetches() int { return int(iss.fetches.Load()) }

// Keys are the published keys; the first signs by default.
func (iss *Issuer) Keys() []Key {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return append([]Key(nil), iss.keys...)
}

// Rotate replaces the default RSA key with a new one (a new kid; the old
// one is no longer published) and returns it.
func (iss *Issuer) Rotate(t testing.TB) Key {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	k := iss.newKey(t, "RS256")
	iss.keys[0] = k
	return k
}

// JWKS is the published key set.
func (iss *Issuer) JWKS() map[string]any {
	var keys []map[string]any
	for _, k := range iss.Keys() {
		keys = append(keys, publicJWK(k))
	}
	return map[string]any{"keys": keys}
}

func publicJWK(k Key) map[string]any {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	switch pub := k.Private.Public().(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": k.ID, "alg": k.Alg, "use": "sig",
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes() // 0x04 || X || Y
		size := (len(raw) - 1) / 2
		return map[string]any{"kty": "EC", "kid": k.ID, "alg": k.Alg, "use": "sig", "crv": "P-256",
			"x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
	}
	panic("oauthtest: unknown key type")
}

// Claims are a token's claims for this issuer: sub, aud, the scopes as
// scope, iat and nbf now and exp in an hour.
func (iss *Issuer) Claims(now time.Time, sub, aud string, scopes ...string) map[string]any {
	c := map[string]any{
		"iss": iss.URL, "sub": sub, "aud": aud, "azp": "test-agent",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if len(scopes) > 0 {
		c["scope"] = strings.Join(scopes, " ")
	}
	return c
}

// Token signs claims with the default key.
func (iss *Issuer) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	k := iss.Keys()[0]
	return Sign(t, map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "at+jwt"}, claims, k.Private)
}

// Sign makes a compact JWS of header and claims. header's alg decides the
// signature: RS256, PS256, ES256 with key a crypto.Signer of the right
// type; HS256 with key []byte; none (in any case) with no signature.
func Sign(t testing.TB, header, claims map[string]any, key any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch header["alg"] {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:], nil)
	case "ES256":
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:]); err == nil {
			sig = make([]byte, 64) // r || s, 32 bytes each (RFC 7518 3.4)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case "HS256":
		mac := hmac.New(sha256.New, key.([]byte))
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	case "none", "None", "NONE":
	default:
		t.Fatalf("oauthtest: cannot sign with %v", header["alg"])
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// PublicKeyPEM is an RSA key's public half as PEM, the bytes an
// algorithm-confusion attack uses as an HMAC secret.
func PublicKeyPEM(t testing.TB, k Key) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
