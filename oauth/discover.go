package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// maxDocumentBytes bounds the metadata and key set documents: real ones
// are a few KiB.
const maxDocumentBytes = 1 << 20

// CheckIssuer checks an issuer URL as --oauth-issuer takes it: absolute,
// https:// (http:// only on a loopback address, for development), with no
// query or fragment (RFC 8414).
func CheckIssuer(issuer string) error {
	if issuer == "" {
		return fmt.Errorf("oauth: no issuer")
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("--oauth-issuer %q: want the issuer's URL, such as https://login.example.com/realms/ops", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--oauth-issuer %q: an issuer URL has no query, fragment or user; give it exactly as the issuer's tokens name it (iss)", issuer)
	}
	return checkTransport("--oauth-issuer", u)
}

// checkTransport refuses plain http:// beyond loopback: the keys that
// decide who may restore must not travel where they can be changed.
func checkTransport(what string, u *url.URL) error {
	if u.Scheme == "https" || u.Scheme == "http" && IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%s %q: must be https:// (http:// only on a loopback address, such as http://127.0.0.1:8080)", what, u.String())
}

// IsLoopbackHost reports whether host (without port) names the loopback
// interface: localhost, 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// metadata is what this server reads of the issuer's metadata.
type metadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// metadataURLs are where an issuer's metadata may be, in the order tried:
// OpenID Connect discovery (the well-known name appended to the issuer),
// then, for an issuer with a path, the same name inserted before the path,
// then RFC 8414's form (inserted before the path).
func metadataURLs(issuer string) []string {
	u, _ := url.Parse(issuer) // CheckIssuer parsed it
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	urls := []string{origin + path + "/.well-known/openid-configuration"}
	if path != "" {
		urls = append(urls, origin+"/.well-known/openid-configuration"+path)
	}
	return append(urls, origin+"/.well-known/oauth-authorization-server"+path)
}

// errNotThere is a metadata URL that answered 404: the next form is tried.
var errNotThere = errors.New("not found")

// discover reads the issuer's metadata from the first URL that has it, and
// checks it names this issuer and a key set this server may fetch.
func discover(ctx context.Context, client *http.Client, issuer string) (*metadata, error) {
	var tried []string
	for _, u := range metadataURLs(issuer) {
		meta, err := fetchMetadata(ctx, client, u)
		if errors.Is(err, errNotThere) {
			tried = append(tried, u)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("oauth: cannot read the metadata of the issuer %s at %s: %w; check --oauth-issuer and that the issuer is reachable from this server", issuer, u, err)
		}
		if meta.Issuer != issuer {
			return nil, fmt.Errorf("oauth: the metadata at %s names the issuer %q, not %q; set --oauth-issuer to exactly the issuer its tokens name (trailing slash included)", u, meta.Issuer, issuer)
		}
		if meta.JWKSURI == "" {
			return nil, fmt.Errorf("oauth: the metadata at %s has no jwks_uri: the issuer publishes no keys to check its tokens with", u)
		}
		ju, err := url.Parse(meta.JWKSURI)
		if err != nil || !ju.IsAbs() || ju.Host == "" {
			return nil, fmt.Errorf("oauth: the metadata at %s has jwks_uri %q, which is not an absolute URL", u, meta.JWKSURI)
		}
		if err := checkTransport("the issuer's jwks_uri", ju); err != nil {
			return nil, fmt.Errorf("oauth: %w", err)
		}
		return meta, nil
	}
	return nil, fmt.Errorf("oauth: the issuer %s publishes no metadata (tried %s); check --oauth-issuer: it must be the issuer itself, such as https://login.example.com/realms/ops",
		issuer, strings.Join(tried, ", "))
}

func fetchMetadata(ctx context.Context, client *http.Client, u string) (*metadata, error) {
	body, err := getDocument(ctx, client, u)
	if err != nil {
		return nil, err
	}
	var meta metadata
	if err := json.Unmarshal(body, &meta); err != nil {
		return nil, fmt.Errorf("not a JSON metadata document: %v", err)
	}
	return &meta, nil
}

// getDocument GETs a JSON document of at most maxDocumentBytes; a 404 is
// errNotThere.
func getDocument(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, errNotThere
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("the document is larger than %d bytes", maxDocumentBytes)
	}
	return body, nil
}
