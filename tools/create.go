package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// createTool writes a new backup set of the live tables.
func createTool(h *handlers) tool {
	return newTool(h, schemas.CreateTool, about{
		title: "Create vector backup",
		description: `Write a new backup set of the vector tables from the live database: both tables as of one instant, with a manifest (row counts, sizes, SHA-256) that restores verify. Never overwrites a set; deletes nothing.
Use it before a retraining or any risky change, so it can be undone with restore_vector_backup: the result's backup_directory and timestamp are its backup_path and timestamp.`,
		hints: hints{},
	}, func(ctx context.Context, _ mcp.CallToolRequest, args schemas.CreateArgs) (*schemas.CreateResult, error) {
		return h.svc.Create(ctx, args)
	}, summarizeCreate)
}

// summarizeCreate is the text a model reads; the database and the folder
// are quoted.
func summarizeCreate(r *schemas.CreateResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Backed up %s to backup_path=%s timestamp=%s in %.1fs.", display.Quote(r.Source), display.Quote(r.BackupDirectory), display.Escape(r.Timestamp), r.Duration)
	for _, t := range layout.Tables() {
		if tr, ok := r.TablesBackedUp[t]; ok {
			fmt.Fprintf(&b, "\n- %s: %s, %s", t, service.Count(tr.RowCount, "row"), display.Escape(tr.FileSize))
		}
	}
	return b.String()
}
