package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

func (a *app) listCommand() *cobra.Command {
	var op operation
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the backup sets, newest first",
		Long: `list shows the backup sets under the backup root, newest first across all
folders: the set's timestamp and date, whether it is a backup or the snapshot
a restore saved before replacing rows, its embedding file's size, its row
counts where a log or manifest gives them, and its folder (what restore takes
as --backup-path). Sets that cannot be restored are listed after the table.`,
		Example: `  mcp-server list
  mcp-server list --task-id task_20250721_213627
  mcp-server list --global-only --limit 5 --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var args schemas.ListArgs
			svc, out, err := a.prepare(&op, &args)
			if err != nil {
				return err
			}
			res, err := svc.List(cmd.Context(), args)
			if err != nil {
				return out.failure(err)
			}
			return out.result(res, func(w io.Writer) { printList(w, res) })
		},
	}
	op.bind(cmd, schemas.ListTool, schemas.ListArgs{})
	return cmd
}

// printList shows a page of sets. Folder names and reasons come from the
// backup root's files: escaped, as everything printed that came from
// outside.
func printList(w io.Writer, res *schemas.ListResult) {
	esc := display.Escape
	var rows []string
	for _, loc := range res.BackupLocations {
		for _, b := range loc.Backups {
			counts := "-"
			if n, ok := b.RowCounts[layout.EmbeddingTable]; ok {
				counts = strconv.FormatInt(n, 10)
			}
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", esc(b.Timestamp), esc(b.BackupDate), esc(b.Kind), esc(b.EmbeddingSize), counts, esc(loc.RelativePath)))
		}
	}
	// The page groups sets by folder; a person reads them newest first.
	slices.SortStableFunc(rows, func(a, b string) int { return strings.Compare(b[:15], a[:15]) })
	s := res.Summary
	if len(rows) > 0 {
		table(w, "TIMESTAMP\tDATE\tKIND\tEMBEDDINGS\tROWS\tFOLDER (--backup-path)", rows)
	}
	fmt.Fprintf(w, "%s in %s (%s global, %d in tasks).\n", service.Count(s.TotalBackupSets, "set"), service.Count(s.TotalLocations, "location"), service.Count(s.GlobalBackups, "set"), s.TaskBackups)
	if n := s.IncompleteSets; n > 0 {
		fmt.Fprintf(w, "%s cannot be restored:\n", service.Count(n, "incomplete set"))
		for _, inc := range res.Incomplete {
			fmt.Fprintf(w, "  %s %s: %s\n", esc(inc.RelativePath), esc(inc.Timestamp), esc(inc.Reason))
		}
		if more := n - len(res.Incomplete); more > 0 {
			fmt.Fprintf(w, "  and %d more\n", more)
		}
	}
	if res.NextCursor != "" {
		fmt.Fprintf(w, "More sets: run again with --cursor %s\n", shellQuote(res.NextCursor))
	}
}
