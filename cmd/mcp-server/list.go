package main

import (
	"fmt"
	"io"
	"path/filepath"
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
a restore saved before replacing rows, its row counts where its manifest or
its folder's log gives them, its size (both files), and its folder (what
restore takes as --backup-path). Sets that cannot be restored are listed
after the table. When the backup folder does not exist, it says so (on
stderr; the exit status is still 0).`,
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
			if svc.BackupRootMissing() {
				// Not a failure: a fresh install has no backups, and the
				// tool answers an empty list too; but "0 sets" would hide
				// the likelier cause, a server run outside the project.
				fmt.Fprint(a.stderr, missingRoot(a.cfg))
				if !op.json {
					return nil
				}
			}
			return out.result(res, func(w io.Writer) { printList(w, res) })
		},
	}
	op.bind(cmd, schemas.ListTool, schemas.ListArgs{})
	a.reads(cmd, flagDatabaseURL, flagAllowDB, flagProjectRoot, flagBackupRoot, flagLogLevel)
	// list reads no database. It takes the connection flags every other
	// operation takes, so that one script line or alias carrying them works
	// for list too, but its help does not offer them.
	cmd.Flags().MarkHidden(flagDatabaseURL)
	cmd.Flags().MarkHidden(flagAllowDB)
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
			size := layout.HumanSize(b.CollectionBytes + b.EmbeddingBytes)
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", esc(b.Timestamp), esc(b.BackupDate), esc(b.Kind),
				rowsCell(b.RowCounts, layout.CollectionTable), rowsCell(b.RowCounts, layout.EmbeddingTable), size, esc(loc.RelativePath)))
		}
	}
	// The page groups sets by folder; a person reads them newest first.
	slices.SortStableFunc(rows, func(a, b string) int { return strings.Compare(b[:15], a[:15]) })
	s := res.Summary
	if len(rows) > 0 {
		table(w, "TIMESTAMP\tDATE\tKIND\tCOLLECTION ROWS\tEMBEDDING ROWS\tSIZE\tFOLDER (--backup-path)", rows)
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

// rowsCell is a table's row count as the set's manifest or log gives it, or
// "-" when neither does (a set of the old pipeline without its log line).
func rowsCell(counts map[string]int64, table string) string {
	if n, ok := counts[table]; ok {
		return strconv.FormatInt(n, 10)
	}
	return "-"
}

// missingRoot says that the backup folder does not exist, naming it as the
// person gave it (from where they are), and how to point the server at it.
func missingRoot(c config) string {
	esc := display.Escape
	msg := fmt.Sprintf("The backup folder %s does not exist, so there are no backups to list.\n", esc(shownPath(c.projectRoot, c.backupRoot)))
	const giveRoot = "--backup-root (or VECTOR_BACKUP_ROOT) the folder that holds vector_bak/ and the task folders.\n"
	if filepath.IsAbs(c.backupRoot) {
		return msg + "Give " + giveRoot
	}
	project := "the current folder"
	if c.projectRoot != "." {
		project = esc(c.projectRoot)
	}
	return msg + fmt.Sprintf("Backups are looked for in %s under the project root (here: %s).\n", esc(c.backupRoot), project) +
		"Run mcp-server in the project's folder, or give --project-root (or VECTOR_PROJECT_ROOT) the project's folder,\n" +
		"or " + giveRoot
}

// shownPath is the backup root as the person gave it: --backup-root under
// --project-root, both as written, so that it names the folder from where
// they are ("./data_pipeline/training_data", "/srv/app/data_pipeline/...").
func shownPath(projectRoot, backupRoot string) string {
	p := backupRoot
	if !filepath.IsAbs(p) {
		p = filepath.Join(projectRoot, p)
	}
	p = filepath.ToSlash(p)
	if !filepath.IsAbs(p) && p != ".." && !strings.HasPrefix(p, "../") {
		p = "./" + p
	}
	return p
}
