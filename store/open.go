package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// urlLike matches a string that names a URL (a scheme, then "://"): such a
// string is never taken for a folder name.
var urlLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// IsURL reports whether root names a bucket (or any URL) rather than a
// folder.
func IsURL(root string) bool { return urlLike.MatchString(root) }

// schemes are the bucket URL schemes this build opens: S3 (and every
// S3-compatible store) always; gs:// and azblob:// when built with the gcs
// and azure tags (driver_gcs.go, driver_azure.go), since their SDKs double
// the binary and add some 24 MB to the memory every process starts with.
var schemes = []string{"s3", "file", "mem"}

// buildTags names the tag that adds a scheme this build lacks.
var buildTags = map[string]string{"gs": "gcs", "azblob": "azure"}

// Open opens a backup root: a bucket URL (s3://, gs://, azblob://, file://;
// mem:// for tests), or else a folder, folder(dir) resolving its path.
func Open(ctx context.Context, root string, folder func(string) (string, error)) (Store, error) {
	if !IsURL(root) {
		dir, err := folder(root)
		if err != nil {
			return nil, err
		}
		return NewFolder(dir), nil
	}
	scheme := strings.ToLower(root[:strings.Index(root, "://")])
	known := false
	for _, s := range schemes {
		known = known || s == scheme
	}
	if tag, ok := buildTags[scheme]; ok && !known {
		return nil, fmt.Errorf("backup root %s: this build of mcp-server does not include %s:// support; build it with `go build -tags %s ./cmd/mcp-server`", redactURL(root), scheme, tag)
	}
	if !known {
		return nil, fmt.Errorf("backup root %s: unknown scheme %q; give a folder, or a bucket URL starting s3://, gs://, azblob:// or file://", redactURL(root), scheme)
	}
	return OpenBucket(ctx, root)
}

// redactURL cuts a URL's query and user part, which may hold secrets.
func redactURL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			s = s[:i+3] + rest[at+1:]
		}
	}
	return s
}
