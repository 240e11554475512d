package tools

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// Each set's manifest and log are resources, under one template each:
// vector-backup://{location}/{timestamp}/manifest and .../log, where
// location is the set's folder name (global_vector_bak, vector_bak, or a
// task folder). resources/list names those of the newest sets.

const resourceScheme = "vector-backup://"

// listedSets is how many of the newest sets resources/list shows; the
// templates reach every set.
const listedSets = 50

// addResources registers the templates and their reader.
func (h *handlers) addResources(srv *server.MCPServer) {
	for _, doc := range []struct{ name, title, mime, description string }{
		{service.DocManifest, "Backup set manifest", "application/json",
			"What this server wrote into a set: its tables' row counts, file sizes and SHA-256, which inspect and restore verify. Sets the old pipeline wrote have none."},
		{service.DocLog, "Backup folder log", "text/plain",
			"The folder's vector_backup_log.txt, when it describes this set (each backup overwrites it)."},
	} {
		srv.AddResourceTemplate(mcp.NewResourceTemplate(resourceScheme+"{location}/{timestamp}/"+doc.name, "vector backup "+doc.name,
			mcp.WithTemplateTitle(doc.title), mcp.WithTemplateMIMEType(doc.mime), mcp.WithTemplateDescription(doc.description)),
			h.readDocument(doc.name))
	}
}

func (h *handlers) readDocument(doc string) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		if err := permitted(ctx, caller.Read, "reading a backup set's "+doc); err != nil {
			return nil, err
		}
		location, timestamp := uriVar(req, "location"), uriVar(req, "timestamp")
		b, mime, err := h.svc.Document(ctx, location, timestamp, doc)
		if err != nil {
			h.logger.Info("resource not read", "uri", req.Params.URI, "error_type", apierr.TypeOf(err), "err", err)
			return nil, documentError(doc, location, timestamp, err)
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: mime, Text: string(b)}}, nil
	}
}

// documentError says why a document cannot be read, from the error's type
// and the URI's own parts, never from the error's message: the catalog
// resolves a location to a folder of the server and names that folder,
// by its absolute path, when it is missing, not a folder, or leads out of
// the backup root. A client learns nothing of the server's paths; the
// operator's log has the whole error.
func documentError(doc, location, timestamp string, err error) error {
	what := fmt.Sprintf("the %s of set %s in location %s", doc, display.Quote(timestamp), display.Quote(location))
	switch apierr.TypeOf(err) {
	case apierr.ResourceNotFound:
		return fmt.Errorf("%s does not exist: there is no such location or set, or the set has no %s (sets the old pipeline wrote have no manifest; "+
			"a folder's log describes only its newest set); resources/list and list_vector_backups name the documents there are: %w", what, doc, server.ErrResourceNotFound)
	case apierr.InvalidParams, apierr.Forbidden:
		return fmt.Errorf("cannot read %s: the location must be a backup folder's name as list_vector_backups shows it "+
			"(global_vector_bak, vector_bak or a task folder such as task_20250721_213627), and the timestamp YYYYMMDD_HHMMSS or latest", what)
	case apierr.Cancelled:
		return fmt.Errorf("reading %s was cancelled", what)
	}
	return fmt.Errorf("cannot read %s (%s); list_vector_backups and inspect_vector_backup say what is wrong with the set", what, apierr.TypeOf(err))
}

// uriVar is a variable the template matched (mcp-go gives a list of
// values).
func uriVar(req mcp.ReadResourceRequest, name string) string {
	switch v := req.Params.Arguments[name].(type) {
	case string:
		return v
	case []string:
		if len(v) == 1 {
			return v[0]
		}
	}
	return ""
}

// listResources adds, to resources/list's first page, the documents of the
// newest sets, for a caller who may read them.
func (h *handlers) listResources(ctx context.Context, _ any, req *mcp.ListResourcesRequest, res *mcp.ListResourcesResult) {
	if req.Params.Cursor != "" || !caller.From(ctx).May(caller.Read) {
		return
	}
	list, err := h.svc.List(ctx, schemas.ListArgs{Limit: listedSets})
	if err != nil {
		h.logger.Warn("resources/list: cannot list the backups", "err", err)
		return
	}
	for _, loc := range list.BackupLocations {
		name := loc.TaskID
		if name == "" {
			name = path.Base(loc.RelativePath)
		}
		for _, b := range loc.Backups {
			uri := resourceScheme + uriPart(name) + "/" + uriPart(b.Timestamp) + "/"
			shown := display.Escape(name + "/" + b.Timestamp) // folder names come from the backup root
			if b.ManifestFile != "" {
				res.Resources = append(res.Resources, mcp.NewResource(uri+service.DocManifest, "manifest of "+shown,
					mcp.WithMIMEType("application/json")))
			}
			if b.HasLog {
				res.Resources = append(res.Resources, mcp.NewResource(uri+service.DocLog, "log of "+shown,
					mcp.WithMIMEType("text/plain")))
			}
		}
	}
}

// uriPart writes a folder name as the templates' simple {location}
// expansion does (RFC 6570): unreserved characters as they are, every other
// byte percent-encoded. The template matches it and decodes it back to the
// name, whatever the name holds.
func uriPart(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}
