package tools

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// listTool lists the backup sets, newest first.
func listTool(h *handlers) tool {
	return newTool(h, schemas.ListTool, about{
		title: "List vector backups",
		description: `List the backup sets of the vector training data (LangChain PGVector tables), newest first: use it first, to find what can be restored or to check a backup was written. Changes nothing.
A location's relative_path and a set's timestamp are what restore_vector_backup takes as backup_path and timestamp. Sets that cannot be restored (a file missing, or a half-written backup) are listed under incomplete.`,
		hints: hints{readOnly: true, idempotent: true},
	}, func(ctx context.Context, _ mcp.CallToolRequest, args schemas.ListArgs) (*schemas.ListResult, error) {
		return h.svc.List(ctx, args)
	}, summarizeList)
}

// summarizeList is the text a model reads: counts, then one line per set,
// its folder quoted (folder names come from the backup root). summaryLines
// bounds the sets a summary names: the page's newest. The structured
// content holds the whole page.
const summaryLines = 10

func summarizeList(r *schemas.ListResult) string {
	var b strings.Builder
	s := r.Summary
	fmt.Fprintf(&b, "%s in %s (%s global, %s in tasks), newest first.", service.Count(s.TotalBackupSets, "set"), service.Count(s.TotalLocations, "location"),
		service.Count(s.GlobalBackups, "set"), strconv.Itoa(s.TaskBackups))
	type line struct{ ts, text string }
	var lines []line
	for _, loc := range r.BackupLocations {
		for _, set := range loc.Backups {
			kind := ""
			if set.Kind == layout.KindSnapshot {
				kind = "pre-restore snapshot; "
			}
			lines = append(lines, line{set.Timestamp, fmt.Sprintf("\n- backup_path=%s timestamp=%s (%s%s; embeddings %s%s)",
				display.Quote(loc.RelativePath), display.Escape(set.Timestamp), kind, display.Escape(set.BackupDate), display.Escape(set.EmbeddingSize), rowCounts(set.RowCounts))})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return strings.Compare(b.ts, a.ts) })
	for _, l := range lines[:min(len(lines), summaryLines)] {
		b.WriteString(l.text)
	}
	if n := len(lines) - summaryLines; n > 0 {
		fmt.Fprintf(&b, "\n- and %d more on this page (see backup_locations)", n)
	}
	if s.IncompleteSets > 0 {
		fmt.Fprintf(&b, "\n%s cannot be restored (see incomplete).", service.Count(s.IncompleteSets, "incomplete set"))
	}
	if r.NextCursor != "" {
		fmt.Fprintf(&b, "\nMore sets remain: call again with cursor=%s.", display.Quote(r.NextCursor))
	}
	return b.String()
}

func rowCounts(counts map[string]int64) string {
	if len(counts) == 0 {
		return ""
	}
	tables := make([]string, 0, len(counts))
	for t := range counts {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = display.Escape(strings.TrimPrefix(t, "langchain_pg_")) + " " + service.Count(counts[t], "row") // names from a log
	}
	return "; " + strings.Join(parts, ", ")
}
