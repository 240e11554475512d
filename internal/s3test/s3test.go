// Package s3test gives tests a fresh place in a real S3-compatible object
// store: the throwaway SeaweedFS store (`weed mini`) that scripts/test.sh
// starts beside PostgreSQL. Without that store a test is skipped on a
// developer's machine and fails in CI, so CI never passes a test that did
// not run (as internal/pgtest does for the database).
//
// scripts/test.sh exports
//
//	TEST_S3_ENDPOINT    http://127.0.0.1:PORT
//	TEST_S3_BUCKET      the one bucket (mcp-test)
//	TEST_S3_ACCESS_KEY  the store's random access key
//	TEST_S3_SECRET_KEY  and secret
//	TEST_S3_WEED_BIN    the weed binary, for StartStore's private stores
//	TEST_S3_DIR         the shared store's folder (weed.log is there)
//
// and also AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION with the
// same keys, which is where the AWS SDK (and so gocloud.dev/blob/s3blob)
// looks for credentials.
//
// This package uses the standard library only.
package s3test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Region is the region every URL of this package names; SeaweedFS accepts
// any, the AWS SDK needs one to sign requests.
const Region = "us-east-1"

// Endpoint returns the shared store's endpoint from TEST_S3_ENDPOINT
// (http://127.0.0.1:PORT). Without it the test is skipped, or fails when
// CI=true.
func Endpoint(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_S3_ENDPOINT")
}

// Bucket returns the shared store's bucket from TEST_S3_BUCKET.
func Bucket(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_S3_BUCKET")
}

// Credentials returns the shared store's access key and secret.
func Credentials(t testing.TB) (accessKey, secretKey string) {
	t.Helper()
	return need(t, "TEST_S3_ACCESS_KEY"), need(t, "TEST_S3_SECRET_KEY")
}

func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the tests through scripts/test.sh, which starts the S3 store", name)
		}
		t.Skipf("%s is not set; run scripts/test.sh to run the tests that need an S3 store", name)
	}
	return v
}

// NewPrefix returns the URL of a fresh, empty place in the shared store,
// unique to this call:
//
//	s3://BUCKET/PREFIX?region=us-east-1&endpoint=http://127.0.0.1:PORT&use_path_style=true
//
// PREFIX (no trailing slash) is made of the test's name, the time and a
// random number; nothing else uses it. The path is the project's own way of
// naming a prefix: gocloud.dev/blob ignores a URL's path and takes a prefix
// from a "prefix" query parameter instead; BlobURL converts.
//
// The AWS SDK reads the credentials from the environment: when
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are already the store's keys
// (scripts/test.sh exports them) NewPrefix leaves the environment alone and
// may be used from parallel tests; otherwise it sets them (and AWS_REGION)
// with t.Setenv for the rest of the test, which Go allows only in a test that
// is not parallel.
func NewPrefix(t testing.TB) string {
	t.Helper()
	endpoint, bucket := Endpoint(t), Bucket(t)
	ak, sk := Credentials(t)
	setCredentials(t, ak, sk)
	return prefixURL(bucket, uniquePrefix(t), endpoint)
}

// BlobURL turns a URL of NewPrefix's form into one gocloud.dev/blob's
// blob.OpenBucket understands: the path becomes a "prefix" parameter ending
// in a slash (s3://BUCKET?prefix=PREFIX/&region=...).
func BlobURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	prefix := strings.TrimPrefix(p.Path, "/")
	q := p.Query()
	if prefix != "" {
		q.Set("prefix", strings.TrimSuffix(prefix, "/")+"/")
	}
	p.Path, p.RawPath = "", ""
	p.RawQuery = q.Encode()
	return p.String(), nil
}

// setCredentials makes the environment carry ak and sk as the AWS
// credentials, touching it only when it does not already.
func setCredentials(t testing.TB, ak, sk string) {
	t.Helper()
	if os.Getenv("AWS_ACCESS_KEY_ID") == ak && os.Getenv("AWS_SECRET_ACCESS_KEY") == sk {
		return
	}
	t.Setenv("AWS_ACCESS_KEY_ID", ak)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sk)
	t.Setenv("AWS_SESSION_TOKEN", "")
	if os.Getenv("AWS_REGION") == "" {
		t.Setenv("AWS_REGION", Region)
	}
}

func prefixURL(bucket, prefix, endpoint string) string {
	// Not url.Values.Encode: it sorts the keys and escapes the endpoint; the
	// endpoint (http://127.0.0.1:PORT) needs no escaping in a query.
	return fmt.Sprintf("s3://%s/%s?region=%s&endpoint=%s&use_path_style=true", bucket, prefix, Region, endpoint)
}

var prefixSeq atomic.Uint64

// uniquePrefix names a fresh prefix after the test.
func uniquePrefix(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	return fmt.Sprintf("t/%s-%d-%d-%08x", name, time.Now().UnixNano(), prefixSeq.Add(1), rand.Uint32())
}

// NoCredentials fails the test when s (a result, an error, a log) shows the
// store's access key or secret, or any of extra; it shows only their first
// four characters.
func NoCredentials(t testing.TB, what, s string, extra ...string) {
	t.Helper()
	ak, sk := Credentials(t)
	for _, c := range append([]string{ak, sk}, extra...) {
		if c != "" && strings.Contains(s, c) {
			t.Errorf("%s shows a credential (%.4s...)", what, c)
		}
	}
}
