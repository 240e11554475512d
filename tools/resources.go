package tools

import (
	"context"
	"fmt"
	"path"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
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
		location, timestamp := uriVar(req, "location"), uriVar(req, "timestamp")
		b, mime, err := h.svc.Document(ctx, location, timestamp, doc)
		if apierr.TypeOf(err) == apierr.ResourceNotFound {
			return nil, fmt.Errorf("%s: %w", apierr.MessageOf(err), server.ErrResourceNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("%s", apierr.MessageOf(err))
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: mime, Text: string(b)}}, nil
	}
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
// newest sets.
func (h *handlers) listResources(ctx context.Context, _ any, req *mcp.ListResourcesRequest, res *mcp.ListResourcesResult) {
	if req.Params.Cursor != "" {
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
			uri := resourceScheme + name + "/" + b.Timestamp + "/"
			if b.ManifestFile != "" {
				res.Resources = append(res.Resources, mcp.NewResource(uri+service.DocManifest, fmt.Sprintf("manifest of %s/%s", name, b.Timestamp),
					mcp.WithMIMEType("application/json")))
			}
			if b.HasLog {
				res.Resources = append(res.Resources, mcp.NewResource(uri+service.DocLog, fmt.Sprintf("log of %s/%s", name, b.Timestamp),
					mcp.WithMIMEType("text/plain")))
			}
		}
	}
}
