package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

func (a *app) backupCommand() *cobra.Command {
	var op operation
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write a new backup set of the live tables",
		Long: `backup writes both tables as of one instant into a new set, with a
manifest (row counts, sizes, SHA-256) that inspect and restore verify. It
never overwrites a set. Without --task-id the set goes into
global_vector_bak; with it, into that task folder's vector_bak.`,
		Example: `  mcp-server backup
  mcp-server backup --task-id task_20250721_213627 --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var args schemas.CreateArgs
			svc, out, err := a.prepare(&op, &args)
			if err != nil {
				return err
			}
			res, err := svc.Create(cmd.Context(), args)
			if err != nil {
				return out.failure(err)
			}
			return out.result(res, func(w io.Writer) { printBackup(w, res) })
		},
	}
	op.bind(cmd, schemas.CreateTool, schemas.CreateArgs{})
	a.reads(cmd, flagDatabaseURL, flagAllowDB, flagProjectRoot, flagBackupRoot, flagLogLevel)
	return cmd
}

// printBackup shows a new set; the database and folder names are escaped,
// as everything printed that came from outside.
func printBackup(w io.Writer, res *schemas.CreateResult) {
	esc := display.Escape
	fmt.Fprintf(w, "Backed up %s as set %s in %s (%.1fs).\n", esc(res.Source), esc(res.Timestamp), esc(res.BackupDirectory), res.Duration)
	var rows []string
	for _, t := range layout.Tables() {
		if tb, ok := res.TablesBackedUp[t]; ok {
			rows = append(rows, fmt.Sprintf("%s\t%d\t%s\t%s", t, tb.RowCount, esc(tb.FileSize), esc(tb.BackupFile)))
		}
	}
	table(w, "TABLE\tROWS\tSIZE\tFILE", rows)
	for _, e := range res.Errors {
		fmt.Fprintf(w, "Note: %s\n", esc(e))
	}
	fmt.Fprintf(w, "To restore it: mcp-server restore --backup-path %s --timestamp %s --truncate-before-restore\n", shellQuote(res.BackupDirectory), shellQuote(res.Timestamp))
}
