package service

import (
	"context"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// The documents of a set, which the MCP front end offers as resources.
const (
	DocManifest = "manifest" // what this server wrote: rows, sizes, SHA-256
	DocLog      = "log"      // the folder's backup log, when it describes the set
)

// maxDocument bounds what is read of a document: manifests and logs are a
// few hundred bytes.
const maxDocument = 1 << 20

// Document returns a document of the set named by its location (the
// folder name list gives: global_vector_bak, vector_bak or a task folder)
// and timestamp, and its MIME type.
func (s *Service) Document(ctx context.Context, location, timestamp, doc string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", apierr.Wrap(apierr.Cancelled, err, "cancelled")
	}
	dir, err := s.Catalog.LocationDir(ctx, location)
	if err != nil {
		return nil, "", err
	}
	set, err := s.Catalog.FindSet(ctx, dir, timestamp)
	if err != nil {
		return nil, "", err
	}
	var name, mime string
	switch doc {
	case DocManifest:
		if set.ManifestFile == "" {
			return nil, "", apierr.New(apierr.ResourceNotFound,
				"set %s in %s has no manifest: the old pipeline wrote it; its row counts are in the folder's log, if that describes it", timestamp, location)
		}
		name, mime = set.ManifestFile, "application/json"
	case DocLog:
		if set.LogFile == "" {
			return nil, "", apierr.New(apierr.ResourceNotFound,
				"the backup log of %s does not describe set %s (each backup overwrites it, and it describes the newest)", location, timestamp)
		}
		name, mime = set.LogFile, "text/plain"
	default:
		return nil, "", apierr.New(apierr.InvalidParams, "a set's documents are %s and %s, not %q", DocManifest, DocLog, doc)
	}
	b, err := set.ReadDocument(ctx, name, maxDocument)
	if err != nil {
		return nil, "", err
	}
	return b, mime, nil
}
