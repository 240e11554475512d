package oauth_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/internal/oauthtest"
	"github.com/vectorops/pgvector-backup-mcp/oauth"
)

const audience = "https://backups.example.com/mcp"

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newVerifier(t testing.TB, iss *oauthtest.Issuer) (*oauth.Verifier, *clock) {
	t.Helper()
	clk := &clock{now: time.Now()}
	v, err := oauth.New(context.Background(), oauth.Config{Issuer: iss.URL, Audience: audience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v, clk
}

func TestVerifyAccepts(t *testing.T) {
	iss := oauthtest.New(t, oauthtest.Options{})
	v, clk := newVerifier(t, iss)
	now := clk.Now()

	c, err := v.Verify(context.Background(), iss.Token(t, iss.Claims(now, "alice", audience, "vector-backups:read", "openid")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.Client != "test-agent" || !c.May(caller.Read) || c.May(caller.Write) {
		t.Errorf("caller %+v granted %v, want alice of test-agent with read only", c, c.Granted())
	}

	// The EC key, aud as an array, scopes as scp (an array), client_id.
	ec := iss.Keys()[1]
	claims := iss.Claims(now, "bob", "", "")
	delete(claims, "scope")
	delete(claims, "azp")
	claims["aud"] = []string{"other", audience}
	claims["scp"] = []string{"vector-backups:write", "vector-backups:read"}
	claims["client_id"] = "ci"
	c, err = v.Verify(context.Background(), oauthtest.Sign(t, map[string]any{"alg": "ES256", "kid": ec.ID}, claims, ec.Private))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "bob" || c.Client != "ci" || !c.May(caller.Read) || !c.May(caller.Write) {
		t.Errorf("caller %+v granted %v, want bob of ci with read and write", c, c.Granted())
	}

	// Within the clock skew: expired 20 s ago, valid from 20 s from now.
	claims = iss.Claims(now, "carol", audience, "vector-backups:read")
	claims["exp"], claims["nbf"] = now.Add(-20*time.Second).Unix(), now.Add(20*time.Second).Unix()
	if _, err := v.Verify(context.Background(), iss.Token(t, claims)); err != nil {
		t.Errorf("a token within the clock skew: %v", err)
	}
	if n := iss.Fetches(); n != 1 {
		t.Errorf("the key set was fetched %d times, want once (at start)", n)
	}
}

func TestVerifyRefuses(t *testing.T) {
	iss := oauthtest.New(t, oauthtest.Options{})
	v, clk := newVerifier(t, iss)
	now := clk.Now()
	rsaKey, ecKey := iss.Keys()[0], iss.Keys()[1]
	with := func(change func(map[string]any)) string {
		c := iss.Claims(now, "mallory", audience, "vector-backups:write")
		change(c)
		return iss.Token(t, c)
	}
	good := iss.Claims(now, "mallory", audience, "vector-backups:write")
	forger := iss.NewKey(t, "RS256")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	signed := iss.Token(t, good)
	parts := strings.Split(signed, ".")

	cases := []struct {
		name   string
		token  string
		reason oauth.Reason
	}{
		{"wrong audience", with(func(c map[string]any) { c["aud"] = "https://other.example.com/mcp" }), oauth.WrongAudience},
		{"audience array without ours", with(func(c map[string]any) { c["aud"] = []string{"a", "b"} }), oauth.WrongAudience},
		{"no audience", with(func(c map[string]any) { delete(c, "aud") }), oauth.WrongAudience},
		{"audience of another type", with(func(c map[string]any) { c["aud"] = 7 }), oauth.Malformed},
		{"wrong issuer", with(func(c map[string]any) { c["iss"] = iss.URL + "/" }), oauth.WrongIssuer},
		{"expired", with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), oauth.Expired},
		{"not yet valid", with(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }), oauth.NotYetValid},
		{"no exp", with(func(c map[string]any) { delete(c, "exp") }), oauth.MissingClaim},
		{"exp not a number", with(func(c map[string]any) { c["exp"] = "tomorrow" }), oauth.Malformed},
		{"exp negative", with(func(c map[string]any) { c["exp"] = -1 }), oauth.Malformed},
		{"no sub", with(func(c map[string]any) { delete(c, "sub") }), oauth.MissingClaim},
		{"scope of another type", with(func(c map[string]any) { c["scope"] = map[string]any{"a": 1} }), oauth.Malformed},
		{"another key under a known kid", oauthtest.Sign(t, map[string]any{"alg": "RS256", "kid": rsaKey.ID}, good, forger.Private), oauth.BadSignature},
		{"another key without a kid", oauthtest.Sign(t, map[string]any{"alg": "RS256"}, good, forger.Private), oauth.BadSignature},
		{"an RSA signature under the EC key's kid", oauthtest.Sign(t, map[string]any{"alg": "RS256", "kid": ecKey.ID}, good, rsaKey.Private), oauth.UnknownKey},
		{"claims changed after signing", parts[0] + "." + b64(`{"iss":"`+iss.URL+`","sub":"root","aud":"`+audience+`","exp":9999999999,"scope":"vector-backups:write"}`) + "." + parts[2], oauth.BadSignature},
		{"alg none", oauthtest.Sign(t, map[string]any{"alg": "none", "kid": rsaKey.ID}, good, nil), oauth.UnsupportedAlg},
		{"alg None", oauthtest.Sign(t, map[string]any{"alg": "None"}, good, nil), oauth.UnsupportedAlg},
		{"HS256 with the public key as secret", oauthtest.Sign(t, map[string]any{"alg": "HS256", "kid": rsaKey.ID}, good, oauthtest.PublicKeyPEM(t, rsaKey)), oauth.UnsupportedAlg},
		{"empty", "", oauth.Malformed},
		{"one part", "abc", oauth.Malformed},
		{"three parts of nothing", "..", oauth.Malformed},
		{"a header that is not JSON", b64("{") + "." + parts[1] + "." + parts[2], oauth.Malformed},
		{"two parts", parts[0] + "." + parts[1], oauth.Malformed},
		{"the JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, oauth.Malformed},
		{"a signature that is not base64", parts[0] + "." + parts[1] + ".!!!", oauth.Malformed},
		{"huge", parts[0] + "." + strings.Repeat("A", oauth.MaxTokenBytes) + "." + parts[2], oauth.TooLarge},
		{"claims that are not JSON", oauthtest.Sign(t, map[string]any{"alg": "RS256", "kid": rsaKey.ID}, nil, rsaKey.Private), oauth.Malformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tc.token)
			if got := oauth.ReasonOf(err); got != tc.reason {
				t.Fatalf("Verify: reason %q (%v), caller %+v; want %q", got, err, c, tc.reason)
			}
			if c.Subject != "" || c.May(caller.Read) {
				t.Errorf("a refused token still gave a caller: %+v", c)
			}
		})
	}
	// The unknown-kid case above refetched once (the clock has not moved,
	// so not even that): none of these fetched the keys per token.
	if n := iss.Fetches(); n != 1 {
		t.Errorf("the key set was fetched %d times, want once (at start)", n)
	}
}

// TestUnknownKid: a token naming a kid the cache lacks refetches the key
// set once; a flood of made-up kids, one after another or all at once,
// fetches no more until minRefetch has passed.
func TestUnknownKid(t *testing.T) {
	iss := oauthtest.New(t, oauthtest.Options{})
	v, clk := newVerifier(t, iss)
	clk.Advance(31 * time.Second)
	rsaKey := iss.Keys()[0]
	token := func(kid string) string {
		return oauthtest.Sign(t, map[string]any{"alg": "RS256", "kid": kid}, iss.Claims(clk.Now(), "eve", audience, "vector-backups:read"), rsaKey.Private)
	}
	if _, err := v.Verify(context.Background(), token("made-up")); oauth.ReasonOf(err) != oauth.UnknownKey {
		t.Fatalf("an unknown kid: %v, want unknown_key", err)
	}
	if n := iss.Fetches(); n != 2 {
		t.Fatalf("after an unknown kid the key set was fetched %d times, want 2 (start, refetch)", n)
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), token(fmt.Sprintf("kid-%d", i))); oauth.ReasonOf(err) != oauth.UnknownKey {
				t.Errorf("kid-%d: %v, want unknown_key", i, err)
			}
		})
	}
	wg.Wait()
	if n := iss.Fetches(); n != 2 {
		t.Errorf("200 tokens with made-up kids fetched the key set %d times in all, want still 2", n)
	}
	// Once minRefetch has passed, a burst of unknown kids still costs one
	// fetch: concurrent refreshes wait for the one under way.
	clk.Advance(31 * time.Second)
	for i := range 50 {
		wg.Go(func() { v.Verify(context.Background(), token(fmt.Sprintf("burst-%d", i))) })
	}
	wg.Wait()
	if n := iss.Fetches(); n != 3 {
		t.Errorf("a burst of made-up kids after minRefetch fetched the key set %d times in all, want 3", n)
	}
}

// TestKeyRotation: after the issuer rotates its key, a token under the new
// kid is accepted (one refetch), the old kid is refused, and further calls
// fetch nothing.
func TestKeyRotation(t *testing.T) {
	iss := oauthtest.New(t, oauthtest.Options{})
	v, clk := newVerifier(t, iss)
	old := iss.Token(t, iss.Claims(clk.Now(), "alice", audience, "vector-backups:read"))
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	iss.Rotate(t)
	clk.Advance(time.Minute)
	rotated := iss.Token(t, iss.Claims(clk.Now(), "alice", audience, "vector-backups:read"))
	for range 100 {
		if _, err := v.Verify(context.Background(), rotated); err != nil {
			t.Fatalf("a token under the rotated key: %v", err)
		}
	}
	if n := iss.Fetches(); n != 2 {
		t.Errorf("the key set was fetched %d times, want 2 (start, rotation)", n)
	}
	if _, err := v.Verify(context.Background(), old); oauth.ReasonOf(err) != oauth.UnknownKey {
		t.Errorf("a token under the withdrawn key: %v, want unknown_key", err)
	}
	// Keys an hour old are refetched once before use, so a withdrawn key
	// does not stay trusted for ever.
	clk.Advance(2 * time.Hour)
	for range 10 {
		if _, err := v.Verify(context.Background(), iss.Token(t, iss.Claims(clk.Now(), "alice", audience))); err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.Fetches(); n != 3 {
		t.Errorf("after two hours the key set was fetched %d times in all, want 3", n)
	}
}

func TestDiscovery(t *testing.T) {
	ctx := context.Background()
	for _, o := range []oauthtest.Options{{Path: "/realms/ops"}, {RFC8414Only: true}, {Path: "/tenant/a", RFC8414Only: true}} {
		iss := oauthtest.New(t, o)
		v, err := oauth.New(ctx, oauth.Config{Issuer: iss.URL, Audience: audience})
		if err != nil {
			t.Errorf("%+v: %v", o, err)
			continue
		}
		if _, err := v.Verify(ctx, iss.Token(t, iss.Claims(time.Now(), "a", audience))); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}

	liar := oauthtest.New(t, oauthtest.Options{MetadataIssuer: "https://evil.example.com"})
	slash := oauthtest.New(t, oauthtest.Options{})
	dead := oauthtest.New(t, oauthtest.Options{})
	dead.Close()
	for _, tc := range []struct {
		name, issuer string
		want         []string
	}{
		{"metadata naming another issuer", liar.URL, []string{"names the issuer", "evil.example.com"}},
		{"a trailing slash the issuer does not write", slash.URL + "/", []string{"names the issuer", "trailing slash"}},
		{"an issuer that does not answer", dead.URL, []string{"cannot read the metadata", "reachable"}},
		{"http off loopback", "http://login.example.com", []string{"must be https://"}},
		{"not a URL", "login.example.com", []string{"want the issuer's URL"}},
		{"with a query", "https://login.example.com/?a=b", []string{"no query"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oauth.New(ctx, oauth.Config{Issuer: tc.issuer, Audience: audience})
			if err == nil {
				t.Fatal("New accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// BenchmarkVerify is the cost of authorizing one call: one RS256 token
// verified against cached keys, claims checked, the caller made.
func BenchmarkVerify(b *testing.B) {
	iss := oauthtest.New(b, oauthtest.Options{})
	v, clk := newVerifier(b, iss)
	token := iss.Token(b, iss.Claims(clk.Now(), "alice", audience, "vector-backups:read", "vector-backups:write"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
	if n := iss.Fetches(); n != 1 {
		b.Errorf("the key set was fetched %d times", n)
	}
}
