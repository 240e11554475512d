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

// inspectTool reads a set through and checks it against the target,
// changing nothing.
func inspectTool(h *handlers) tool {
	return newTool(h, schemas.InspectTool, about{
		title: "Inspect vector backup",
		description: `Read every row of a backup set and check it against the target database, changing nothing and taking no lock that blocks the application: what the files hold (rows, columns, legacy metadata to convert, rows a restore would refuse with file, line and reason, vector dimensions, collections), whether they match their manifest, whether they fit the live tables, and what a restore with the given options would delete and insert. Ends with restorable and problems.
Use it before restore_vector_backup to see what a restore would do and whether it can succeed.
With diff=true it also says what changed since the backup: the set's embeddings against the live ones, by key, per collection.`,
		hints: hints{readOnly: true, idempotent: true},
	}, func(ctx context.Context, _ mcp.CallToolRequest, args schemas.InspectArgs) (*schemas.InspectResult, error) {
		return h.svc.Inspect(ctx, args)
	}, summarizeInspect)
}

// summaryCollections bounds the collections an inspect summary names; the
// structured content has them all.
const summaryCollections = 10

// summarizeInspect is the text a model reads. Names from the set, the
// database or the caller are quoted, and problems (which may hold them)
// escaped, so that none can start a line of its own.
func summarizeInspect(r *schemas.InspectResult) string {
	var b strings.Builder
	verdict := "restorable"
	if !r.Restorable {
		verdict = "NOT restorable"
	}
	fmt.Fprintf(&b, "Set %s in %s is %s (checksums: %s).", display.Escape(r.BackupInfo.Timestamp), display.Quote(r.BackupInfo.BackupPath), verdict, display.Escape(r.ChecksumStatus))
	for _, t := range layout.Tables() {
		if f, ok := r.Files[t]; ok {
			fmt.Fprintf(&b, "\n- %s: %s (%s), %d with legacy metadata, %d bad", t, service.Count(f.Rows, "row"), f.Size, f.LegacyJSONRows, f.BadRows)
		}
	}
	if len(r.Collections) > 0 {
		var names []string
		for _, c := range r.Collections[:min(len(r.Collections), summaryCollections)] {
			names = append(names, fmt.Sprintf("%s (%s)", display.Quote(c.Name), service.Count(c.Embeddings, "embedding")))
		}
		if n := len(r.Collections) - summaryCollections; n > 0 {
			names = append(names, fmt.Sprintf("and %d more (see collections)", n))
		}
		fmt.Fprintf(&b, "\nCollections: %s.", strings.Join(names, ", "))
	}
	if p := r.Plan; p != nil {
		var steps []string
		for _, t := range p.Tables {
			steps = append(steps, fmt.Sprintf("delete %s and write %s of %s", service.Count(p.Delete[t], "row"), service.Count(p.Insert[t], "row"), t))
		}
		fmt.Fprintf(&b, "\nA %s restore would %s.", p.Mode, strings.Join(steps, "; "))
	}
	if d := r.Diff; d != nil {
		t := d.Totals
		fmt.Fprintf(&b, "\nSince the backup: %d embeddings only in the backup (deleted since), %d only in the database (added since), %d changed, %d identical.",
			t.OnlyInBackup, t.OnlyInDatabase, t.Changed, t.Identical)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "\nProblem: %s", display.Escape(p))
	}
	return b.String()
}
