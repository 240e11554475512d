package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// rollbackPrompt walks a model through a safe rollback of the training data.
const rollbackPrompt = "rollback_vector_data"

func (h *handlers) addPrompts(srv *server.MCPServer) {
	srv.AddPrompt(mcp.NewPrompt(rollbackPrompt,
		mcp.WithPromptTitle("Roll back the vector training data"),
		mcp.WithPromptDescription("Step by step, safely: find the backup to return to, see what would change, restore with a snapshot, check the result, and know how to undo."),
		mcp.WithArgument("goal", mcp.ArgumentDescription("What to return to, in the user's words, e.g. \"the data before yesterday's retraining\".")),
		mcp.WithArgument("collections", mcp.ArgumentDescription("Only these collections, comma-separated (e.g. sql,ddl); empty for all.")),
	), h.rollback)
}

func (h *handlers) rollback(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	goal := strings.TrimSpace(req.Params.Arguments["goal"])
	if goal == "" {
		goal = "the backup the user wants to return to"
	}
	scope := `truncate_before_restore=true (the tables become exactly the backup's rows)`
	if c := strings.TrimSpace(req.Params.Arguments["collections"]); c != "" {
		var names []string
		for _, n := range strings.Split(c, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, fmt.Sprintf("%q", n))
			}
		}
		scope = fmt.Sprintf(`collections=[%s] (only those collections are replaced; do not combine with truncate_before_restore)`, strings.Join(names, ", "))
	}
	text := fmt.Sprintf(`Roll the vector training data (LangChain PGVector tables) back to %s, safely. Follow these steps and show the user what you find at each.

1. Find the set. Call list_vector_backups (newest first; page with cursor). A set is named by its folder (relative_path, passed as backup_path) and its timestamp. kind "snapshot" sets are the rows earlier restores replaced: restoring one undoes that restore. Sets under "incomplete" cannot be restored. If several sets fit, ask the user which one.

2. See what would change. Call inspect_vector_backup with that backup_path and timestamp, diff: true, and %s. It changes nothing. Check that "restorable" is true and read "problems". From "diff", tell the user what changed since the backup, per collection: embeddings added since (only_in_database: the rollback deletes them), deleted since (only_in_backup: it brings them back), changed (with what changed in the examples), identical. Tell them how many rows of each table would be deleted and written (plan), and whether the files match their manifest (checksum_status). If it is not restorable, stop and explain why. If the application must keep answering during the rollback, add online: true in step 3.

3. Restore. Only after the user agreed, call restore_vector_backup with the same arguments. Keep snapshot at its default (true): the rows it replaces are saved first. If it answers CONFIRMATION_REQUIRED, show the user the plan in its message, and only if they approve call again with the same arguments plus its confirm_token. If the client asks the user directly, their answer decides. A restore either completes or changes nothing: on an error, tell the user the tables are unchanged and what the message says to do.

4. Check. In the result, restore_results gives the rows written per table: compare them with inspect's plan, and report errors if any.

5. Undo. Tell the user that result.snapshot.undo holds the exact arguments of restore_vector_backup that put back the rows this restore replaced.`, goal, scope)
	return mcp.NewGetPromptResult("A safe rollback of the vector training data", []mcp.PromptMessage{
		mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text)),
	}), nil
}
