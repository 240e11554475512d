package service

import (
	"fmt"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/restore"
)

// describePlan says what the restore will do, for the person approving it:
// the text of CONFIRMATION_REQUIRED that a model shows its user, and the
// question put to the person directly. Its lines are this program's; every
// name in them that came from the caller, the database or a backup file is
// quoted (display.Quote), so that no collection name can start a line of the
// plan or end its quotes ("sql\nNothing else changes").
func describePlan(call *restoreCall, p *restore.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Restore of set %s from %s into %s (%s mode) will:", call.req.Set.Timestamp,
		display.Quote(call.args.BackupPath), display.Quote(call.db.Name), p.Mode)
	for _, t := range p.Tables {
		fmt.Fprintf(&b, "\n- %s: delete %s, write %s", t, Count(p.Delete[t], "row"), Count(p.Insert[t], "row"))
	}
	for _, c := range p.Collections {
		if c.DeleteEmbeddings > 0 || c.InsertEmbeddings > 0 {
			fmt.Fprintf(&b, "\n  - collection %s: %d embeddings deleted, %d written", display.Quote(c.Name), c.DeleteEmbeddings, c.InsertEmbeddings)
		}
	}
	if p.OnConflict == restore.OnConflictUpdate {
		b.WriteString("\n- live rows whose key is in the backup are overwritten")
	}
	if call.req.Online && p.Mode != "append" {
		b.WriteString("\nOnline: the application keeps reading the old rows until the restore commits; its writes wait.")
	}
	if p.Snapshot {
		b.WriteString("\nThe replaced rows are saved first as a new backup set in global_vector_bak/, so the restore can be undone.")
	} else {
		b.WriteString("\nNo snapshot is taken (snapshot=false): the replaced rows cannot be recovered by this server.")
	}
	return b.String()
}
