package tools

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// tools lists every tool in the order clients see them.
func (h *handlers) tools() []tool {
	return []tool{
		{
			name:  "list_vector_backups",
			title: "List vector backups",
			description: `List the backup sets of the vector training data (LangChain PGVector tables), newest first.
Use it first: to find what can be restored, or to check a backup was written. Changes nothing.
Each location's relative_path is what restore_vector_backup takes as backup_path, and each set's timestamp is its timestamp. Sets that cannot be restored (a file missing, or a half-written backup) are listed under incomplete.
Arguments (all optional): global_only (only the global locations), task_id (only that task folder), limit (sets per page, 1-1000, default 50), cursor (next_cursor of the previous page).
Example: {"task_id": "task_20250721_213627", "limit": 10}`,
			readOnly: true, destructive: false, idempotent: true,
			types:   toolTypes("list_vector_backups"),
			handler: typed(h, "list_vector_backups", h.list, summarizeList),
		},
		{
			name:  "inspect_vector_backup",
			title: "Inspect vector backup",
			description: `Read every row of a backup set and check it against the target database, without changing anything: what the files hold (rows, columns, legacy metadata to convert, rows a restore would refuse with file, line and reason, vector dimensions, collections), whether they match their manifest, whether they fit the live tables, and what a restore with the given options would delete and insert. Ends with restorable and problems.
Use it before restore_vector_backup to see what a restore would do and whether it can succeed. Read-only; takes no lock that blocks the application.
Arguments: backup_path and timestamp (required, as from list_vector_backups; timestamp may be latest); the restore options to plan for: tables, collections, truncate_before_restore, on_conflict; db_connection (only if the operator allowed it).
Example: {"backup_path": "./data_pipeline/training_data/global_vector_bak", "timestamp": "latest", "truncate_before_restore": true}`,
			readOnly: true, destructive: false, idempotent: true,
			types:   toolTypes("inspect_vector_backup"),
			handler: typed(h, "inspect_vector_backup", h.inspect, summarizeInspect),
		},
		{
			name:  "restore_vector_backup",
			title: "Restore vector backup",
			description: `Restore a backup set into the vector tables, in one transaction: it either completes or leaves the tables exactly as they were.
Use it to roll the training data back to a backup (truncate_before_restore=true replaces the tables' rows with the backup's), or to append a backup's rows (the default; a row whose key already exists fails the whole restore with CONFLICT).
Find backup_path and timestamp with list_vector_backups first; inspect_vector_backup or dry_run=true shows what a restore would do.
A restore that deletes or overwrites rows first answers CONFIRMATION_REQUIRED with the plan and a confirm_token (unless the user approves it directly): show the plan to the user and, if they approve, call again with the same arguments plus confirm_token. By default the replaced rows are saved first as a new backup set (snapshot), and the result says how to undo.
Arguments: backup_path (required, a relative_path from list_vector_backups), timestamp (required, YYYYMMDD_HHMMSS or latest), tables (subset of langchain_pg_collection, langchain_pg_embedding; default both), truncate_before_restore (default false), collections (replace only these collections by name), on_conflict (error, skip or update, for appends), dry_run, snapshot (default true), confirm_token, db_connection (other database, only if the operator allowed it; pg_conn is its legacy alias).
Example: {"backup_path": "./data_pipeline/training_data/task_20250721_213627/vector_bak", "timestamp": "20250721_215758", "truncate_before_restore": true}`,
			readOnly: false, destructive: true, idempotent: false,
			types:   toolTypes("restore_vector_backup"),
			handler: typed(h, "restore_vector_backup", h.restore, summarizeRestore),
		},
		{
			name:  "create_vector_backup",
			title: "Create vector backup",
			description: `Write a new backup set of the vector tables from the live database: both tables as of one instant, with a manifest (row counts, sizes, SHA-256) that restores verify. Never overwrites an existing set.
Use it before a retraining or any risky change, so it can be undone with restore_vector_backup. Deletes nothing.
Arguments (all optional): task_id (write into that existing task folder's vector_bak/; default global_vector_bak/), tables (default both), db_connection (other source database, only if the operator allowed it).
The result's backup_directory and timestamp are restore_vector_backup's backup_path and timestamp.
Example: {"task_id": "task_20250721_213627"}`,
			readOnly: false, destructive: false, idempotent: false,
			types:   toolTypes("create_vector_backup"),
			handler: typed(h, "create_vector_backup", h.create, summarizeCreate),
		},
	}
}

func (h *handlers) inspect(ctx context.Context, _ mcp.CallToolRequest, args schemas.InspectArgs) (*schemas.InspectResult, error) {
	return h.svc.Inspect(ctx, args)
}

func summarizeInspect(r *schemas.InspectResult) string {
	var b strings.Builder
	verdict := "restorable"
	if !r.Restorable {
		verdict = "NOT restorable"
	}
	fmt.Fprintf(&b, "Set %s in %s is %s (checksums: %s).", r.BackupInfo.Timestamp, r.BackupInfo.BackupPath, verdict, r.ChecksumStatus)
	for _, t := range layout.Tables {
		if f, ok := r.Files[t]; ok {
			fmt.Fprintf(&b, "\n- %s: %s (%s), %d with legacy metadata, %d bad", t, count(f.Rows, "row"), f.Size, f.LegacyJSONRows, f.BadRows)
		}
	}
	if p := r.Plan; p != nil {
		var steps []string
		for _, t := range p.Tables {
			steps = append(steps, fmt.Sprintf("delete %s and write %s of %s", count(p.Delete[t], "row"), count(p.Insert[t], "row"), t))
		}
		fmt.Fprintf(&b, "\nA %s restore would %s.", p.Mode, strings.Join(steps, "; "))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "\nProblem: %s", p)
	}
	return b.String()
}

// count says "1 row", "2 rows".
func count[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (h *handlers) create(ctx context.Context, _ mcp.CallToolRequest, args schemas.CreateArgs) (*schemas.CreateResult, error) {
	return h.svc.Create(ctx, args)
}

func summarizeCreate(r *schemas.CreateResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Backed up %s to backup_path=%s timestamp=%s in %.1fs.", r.Source, r.BackupDirectory, r.Timestamp, r.Duration)
	for _, t := range layout.Tables {
		if tr, ok := r.TablesBackedUp[t]; ok {
			fmt.Fprintf(&b, "\n- %s: %s, %s", t, count(tr.RowCount, "row"), tr.FileSize)
		}
	}
	return b.String()
}

func toolTypes(name string) schemas.Tool {
	for _, t := range schemas.Tools {
		if t.Name == name {
			return t
		}
	}
	panic("no schemas for tool " + name) // a programming error caught by any test
}

func (h *handlers) list(ctx context.Context, _ mcp.CallToolRequest, args schemas.ListArgs) (*schemas.ListResult, error) {
	return h.svc.List(ctx, args)
}

// summarizeList is the text a model reads: counts, then one line per set.
// summaryLines bounds the sets a summary names: the page's newest. The
// structured content holds the whole page.
const summaryLines = 10

func summarizeList(r *schemas.ListResult) string {
	var b strings.Builder
	s := r.Summary
	fmt.Fprintf(&b, "%s in %s (%s global, %s in tasks), newest first.", count(s.TotalBackupSets, "set"), count(s.TotalLocations, "location"),
		count(s.GlobalBackups, "set"), strconv.Itoa(s.TaskBackups))
	type line struct{ ts, text string }
	var lines []line
	for _, loc := range r.BackupLocations {
		for _, set := range loc.Backups {
			kind := ""
			if set.Kind == layout.KindSnapshot {
				kind = "pre-restore snapshot; "
			}
			lines = append(lines, line{set.Timestamp, fmt.Sprintf("\n- backup_path=%s timestamp=%s (%s%s; embeddings %s%s)",
				loc.RelativePath, set.Timestamp, kind, set.BackupDate, set.EmbeddingSize, rowCounts(set.RowCounts))})
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
		fmt.Fprintf(&b, "\n%s cannot be restored (see incomplete).", count(s.IncompleteSets, "incomplete set"))
	}
	if r.NextCursor != "" {
		fmt.Fprintf(&b, "\nMore sets remain: call again with cursor=%q.", r.NextCursor)
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
		parts[i] = strings.TrimPrefix(t, "langchain_pg_") + " " + count(counts[t], "row")
	}
	return "; " + strings.Join(parts, ", ")
}

func summarizeRestore(r *schemas.RestoreResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Restored set %s from %s into %s in %.1fs.", r.BackupInfo.Timestamp, r.BackupInfo.BackupPath, r.Target, r.Duration)
	for _, t := range layout.Tables {
		if tr, ok := r.TruncateResults[t]; ok {
			fmt.Fprintf(&b, "\n- %s: truncated %s", t, count(tr.RowsBefore, "row"))
		}
		if rr, ok := r.RestoreResults[t]; ok {
			fmt.Fprintf(&b, "\n- %s: %s restored", t, count(rr.RowsRestored, "row"))
			if rr.MetadataConverted > 0 {
				fmt.Fprintf(&b, " (%d with legacy metadata converted to JSON)", rr.MetadataConverted)
			}
		}
	}
	return b.String()
}
