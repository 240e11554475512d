package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// restoreTool restores a backup set, all or nothing, asking the person
// behind the client when it can (elicit.go).
func restoreTool(h *handlers) tool {
	return newTool(h, schemas.RestoreTool, about{
		title: "Restore vector backup",
		description: `Restore a backup set into the vector tables in one transaction: it either completes or leaves the tables exactly as they were.
truncate_before_restore=true rolls the tables back to the backup (their rows are replaced by the backup's); by default the backup's rows are appended, and a row whose key exists fails the whole restore with CONFLICT.
Find backup_path and timestamp with list_vector_backups; inspect_vector_backup or dry_run=true shows what a restore would do.
A restore that deletes or overwrites rows first answers CONFIRMATION_REQUIRED with the plan and a confirm_token (unless the user approves it directly): show the plan to the user and, if they approve, call again with the same arguments plus confirm_token. By default the replaced rows are saved first as a new backup set (snapshot), and the result says how to undo.
Example: {"backup_path": "./data_pipeline/training_data/task_20250721_213627/vector_bak", "timestamp": "20250721_215758", "truncate_before_restore": true}`,
		hints: hints{destructive: true},
	}, h.restoreAsking, summarizeRestore)
}

// restoreAsking runs a restore, asking the person when it can.
func (h *handlers) restoreAsking(ctx context.Context, req mcp.CallToolRequest, args schemas.RestoreArgs) (*schemas.RestoreResult, error) {
	opts := service.RestoreOptions{Progress: h.progress(ctx, req)}
	modern := isModern(ctx)
	if canElicit(ctx) && !modern {
		opts.Approver = h.approver
	}
	if modern && (req.Params.RequestState != "" || len(req.Params.InputResponses) > 0) {
		// The second round: the person answered the question of the first.
		if !approved(server.ElicitationResponse(req.Params.InputResponses, approveID)) {
			return nil, apierr.New(apierr.Cancelled, "the user declined the restore; nothing was changed")
		}
		args.ConfirmToken = req.Params.RequestState // checked as any token is
	}
	res, err := h.svc.Restore(ctx, args, opts)
	var ask *service.ApprovalRequired
	if modern && canElicit(ctx) && errors.As(err, &ask) {
		return nil, inputRequired{server.NewInputRequestBuilder(ask.Token).Elicit(approveID, approval(ask.Question)).ToolResult()}
	}
	return res, err
}

// summarizeRestore is the text a model reads: what the restore did, or for
// a dry run, first that nothing was changed and then what a restore would
// do. The folder and the database are quoted.
func summarizeRestore(r *schemas.RestoreResult) string {
	var b strings.Builder
	set, from, into := display.Escape(r.BackupInfo.Timestamp), display.Quote(r.BackupInfo.BackupPath), display.Quote(r.Target)
	truncated, restored, converted := "- %s: truncated %s", "- %s: %s restored", " (%d with legacy metadata converted to JSON)"
	if r.DryRun {
		fmt.Fprintf(&b, "Dry run: nothing was changed. A restore of set %s from %s into %s would do this (every row checked, in %.1fs):", set, from, into, r.Duration)
		truncated, restored, converted = "- %s: would truncate %s", "- %s: would restore %s", " (%d with legacy metadata to convert to JSON)"
	} else {
		fmt.Fprintf(&b, "Restored set %s from %s into %s in %.1fs.", set, from, into, r.Duration)
	}
	for _, t := range layout.Tables() {
		if tr, ok := r.TruncateResults[t]; ok {
			fmt.Fprintf(&b, "\n"+truncated, t, service.Count(tr.RowsBefore, "row"))
		}
		if rr, ok := r.RestoreResults[t]; ok {
			fmt.Fprintf(&b, "\n"+restored, t, service.Count(rr.RowsRestored, "row"))
			if rr.MetadataConverted > 0 {
				fmt.Fprintf(&b, converted, rr.MetadataConverted)
			}
		}
	}
	if snap := r.Snapshot; snap != nil {
		// The undo in the words a model acts on: the call to make, with
		// the arguments as JSON (quoted: nothing in them can start a line).
		undo, _ := json.Marshal(snap.Undo)
		fmt.Fprintf(&b, "\nThe replaced rows were saved first as set %s in %s. To undo this restore, call restore_vector_backup with %s",
			display.Escape(snap.Timestamp), display.Quote(snap.BackupPath), display.Escape(string(undo)))
		if snap.Undo.DBConnection != "" {
			b.WriteString(" (db_connection carries no password: add it if that database needs one)")
		}
		b.WriteString(".")
	} else if !r.DryRun && r.TruncatePerformed {
		b.WriteString("\nNo snapshot was taken: this server cannot undo this restore.")
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\nNote: %s", display.Escape(e))
	}
	return b.String()
}
