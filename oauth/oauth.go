// Package oauth checks the bearer JWTs of one OAuth issuer for this
// resource and says who the caller is: the issuer's metadata and keys are
// discovered once and cached, each token's signature, issuer, audience and
// lifetime are checked, and its scopes become a caller.Caller.
package oauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/vectorops/pgvector-backup-mcp/caller"
)

// MaxTokenBytes bounds a token before any of it is parsed. Access tokens
// are one to a few KiB; a 16 KiB one is not an issuer's.
const MaxTokenBytes = 16 << 10

// ClockSkew is how far the issuer's clock and ours may disagree: a token
// is accepted until ClockSkew after its exp and from ClockSkew before its
// nbf.
const ClockSkew = 30 * time.Second

// DiscoveryTimeout bounds the discovery at start (metadata and keys).
const DiscoveryTimeout = 30 * time.Second

// acceptedAlgs are the signature algorithms accepted: asymmetric only, so
// that no public key can serve as an HMAC secret, and never none.
func acceptedAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512,
		jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512,
		jose.EdDSA,
	}
}

// Config says whose tokens are accepted, and for what.
type Config struct {
	// Issuer is the issuer's URL, exactly as its metadata and its tokens'
	// iss say it: https://, or http:// on a loopback address.
	Issuer string
	// Audience is the aud a token must name: this resource's URL.
	Audience string
	// Client fetches the metadata and the keys; nil means one with a 10 s
	// timeout.
	Client *http.Client
	// Now is the clock tokens are checked against; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Verifier checks one issuer's tokens for one audience. It is safe for
// concurrent use.
type Verifier struct {
	issuer   string
	audience string
	now      func() time.Time
	keys     *keySet
}

// New discovers the issuer's metadata and fetches its keys, within
// DiscoveryTimeout; an issuer that cannot be reached, or whose metadata is
// wrong, is an error saying what to fix.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := CheckIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		return nil, fmt.Errorf("oauth: no audience: set --oauth-audience or --public-url to the URL clients reach /mcp at")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: fetchTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return fmt.Errorf("more than 5 redirects")
			}
			return checkTransport("a redirect", req.URL) // never from https:// down to http://
		}}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, DiscoveryTimeout)
	defer cancel()
	meta, err := discover(ctx, cfg.Client, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	keys := newKeySet(meta.JWKSURI, cfg.Client, cfg.Now, cfg.Logger)
	if err := keys.fetch(ctx); err != nil {
		return nil, fmt.Errorf("oauth: the issuer %s publishes its keys at %s, but %w; check that the issuer is up and reachable from this server", cfg.Issuer, meta.JWKSURI, err)
	}
	return &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, now: cfg.Now, keys: keys}, nil
}

// Issuer is the issuer whose tokens are accepted.
func (v *Verifier) Issuer() string { return v.issuer }

// Audience is the aud a token must name.
func (v *Verifier) Audience() string { return v.audience }

// claims are the token's claims this server reads. Those whose JSON type
// varies are kept raw and read by hand.
type claims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Expiry    *float64        `json:"exp"`
	NotBefore *float64        `json:"nbf"`
	Scope     json.RawMessage `json:"scope"`
	Scp       json.RawMessage `json:"scp"`
	AZP       string          `json:"azp"`
	ClientID  string          `json:"client_id"`
}

// Verify checks a bearer token and returns its caller: the token's sub,
// its client (azp, else client_id) and the server's scopes it grants. A
// refusal is an *Error.
func (v *Verifier) Verify(ctx context.Context, token string) (caller.Caller, error) {
	if len(token) > MaxTokenBytes {
		return caller.Caller{}, refuse(TooLarge, "%d bytes, more than %d", len(token), MaxTokenBytes)
	}
	if err := checkAlg(token); err != nil {
		return caller.Caller{}, err
	}
	jws, err := jose.ParseSignedCompact(token, acceptedAlgs())
	if err != nil {
		return caller.Caller{}, refuse(Malformed, "%v", err)
	}
	if len(jws.Signatures) != 1 {
		return caller.Caller{}, refuse(Malformed, "%d signatures, want 1", len(jws.Signatures))
	}
	payload, err := v.keys.verify(ctx, jws)
	if err != nil {
		return caller.Caller{}, err
	}
	var c claims
	if p := bytes.TrimSpace(payload); len(p) == 0 || p[0] != '{' {
		return caller.Caller{}, refuse(Malformed, "the claims are not a JSON object")
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return caller.Caller{}, refuse(Malformed, "claims: %v", err)
	}
	if err := v.check(&c); err != nil {
		return caller.Caller{}, err
	}
	scopes, err := grantedScopes(c.Scope, c.Scp)
	if err != nil {
		return caller.Caller{}, err
	}
	client := c.AZP
	if client == "" {
		client = c.ClientID
	}
	return caller.OAuth(c.Subject, client, scopes), nil
}

// checkAlg refuses, before the token is parsed in full, one whose header
// names an algorithm not accepted, so that none and HS* are told apart
// from a token that is merely malformed.
func checkAlg(token string) error {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return refuse(Malformed, "not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return refuse(Malformed, "header: %v", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return refuse(Malformed, "header: %v", err)
	}
	for _, a := range acceptedAlgs() {
		if string(a) == h.Alg {
			return nil
		}
	}
	return refuse(UnsupportedAlg, "alg %q", h.Alg)
}

// check checks the claims against the issuer, the audience and the clock.
func (v *Verifier) check(c *claims) error {
	if c.Issuer != v.issuer {
		return refuse(WrongIssuer, "iss %q", c.Issuer)
	}
	auds, err := audiences(c.Audience)
	if err != nil {
		return err
	}
	found := false
	for _, a := range auds {
		found = found || a == v.audience
	}
	if !found {
		return refuse(WrongAudience, "aud %q, want %q", auds, v.audience)
	}
	if c.Expiry == nil {
		return refuse(MissingClaim, "no exp")
	}
	now := v.now()
	exp, err := numericDate("exp", *c.Expiry)
	if err != nil {
		return err
	}
	if now.After(exp.Add(ClockSkew)) {
		return refuse(Expired, "expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil {
		nbf, err := numericDate("nbf", *c.NotBefore)
		if err != nil {
			return err
		}
		if now.Add(ClockSkew).Before(nbf) {
			return refuse(NotYetValid, "not before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if c.Subject == "" {
		return refuse(MissingClaim, "no sub")
	}
	return nil
}

// numericDate reads a NumericDate (seconds since 1970, fractions allowed)
// within the years a token may name.
func numericDate(claim string, secs float64) (time.Time, error) {
	if math.IsNaN(secs) || secs < 0 || secs > 1<<40 {
		return time.Time{}, refuse(Malformed, "%s %v is not a date", claim, secs)
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)), nil
}

// audiences reads aud: one string or an array of strings.
func audiences(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, refuse(WrongAudience, "no aud")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, refuse(Malformed, "aud is neither a string nor an array of strings")
	}
	return many, nil
}

// grantedScopes reads the server's scopes from scope (a space-separated
// string, RFC 8693 and RFC 9068) or scp (an array, or a string as scope);
// the others are ignored.
func grantedScopes(scope, scp json.RawMessage) ([]caller.Scope, error) {
	var names []string
	for claim, raw := range map[string]json.RawMessage{"scope": scope, "scp": scp} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			names = append(names, strings.Fields(s)...)
			continue
		}
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, refuse(Malformed, "%s is neither a string nor an array of strings", claim)
		}
		names = append(names, list...)
	}
	var granted []caller.Scope
	for _, s := range caller.Scopes() {
		for _, n := range names {
			if n == string(s) {
				granted = append(granted, s)
				break
			}
		}
	}
	return granted, nil
}
