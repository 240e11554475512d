package service

import (
	"fmt"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// describePlan says what the restore will do, for the person approving it:
// the text of CONFIRMATION_REQUIRED that a model shows its user, and the
// question put to the person directly. Its lines are this program's; every
// name in them that came from the caller, the database or a backup file is
// quoted (display.Quote), so that no collection name can start a line of the
// plan or end its quotes ("sql\nNothing else changes").
func describePlan(call *restoreCall, p *schemas.RestorePlan) string {
	head := fmt.Sprintf("Restore of set %s from %s into %s (%s mode) will:", call.req.Set.Timestamp,
		display.Quote(call.args.BackupPath), display.Quote(call.db.Name), p.Mode)
	return head + "\n" + strings.Join(PlanLines(p, call.req.Online, display.Quote), "\n")
}

func quoteAll(names []string, quote func(string) string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quote(n)
	}
	return out
}

// PlanLines words a restore plan for a person, a line per table, collection
// and consequence: the one wording every front end shows. quote presents
// each collection name (display.Quote for models, display.Escape for a
// terminal); online says whether the restore keeps the old rows readable.
func PlanLines(p *schemas.RestorePlan, online bool, quote func(string) string) []string {
	var lines []string
	for _, t := range p.Tables {
		lines = append(lines, fmt.Sprintf("- %s: delete %s, write %s", t, Count(p.Delete[t], "row"), Count(p.Insert[t], "row")))
	}
	for _, c := range p.Collections {
		if c.DeleteEmbeddings > 0 || c.InsertEmbeddings > 0 {
			lines = append(lines, fmt.Sprintf("  - collection %s: %d embeddings deleted, %d written", quote(c.Name), c.DeleteEmbeddings, c.InsertEmbeddings))
		}
	}
	if p.OnConflict == "update" {
		lines = append(lines, "- live rows whose key is in the backup are overwritten")
	}
	if len(p.Indexes) > 0 {
		lines = append(lines, "- vector indexes dropped before the load and built again after it: "+strings.Join(quoteAll(p.Indexes, quote), ", "))
	}
	if online && p.Mode != "append" {
		lines = append(lines, "Online: the application keeps reading the old rows until the restore commits; its writes wait. Vector indexes stay in place and take every row one by one, which on a large table with an HNSW index costs many times a truncating restore.")
	}
	if p.Snapshot {
		lines = append(lines, "The replaced rows are saved first as a new backup set in global_vector_bak/, so the restore can be undone.")
	} else {
		lines = append(lines, "No snapshot is taken (snapshot=false): the replaced rows cannot be recovered by this server.")
	}
	return lines
}
