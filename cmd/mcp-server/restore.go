package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

func (a *app) restoreCommand() *cobra.Command {
	var op operation
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore a backup set into the tables, all or nothing",
		Long: `restore restores a set in one transaction: it completes, or leaves the
tables exactly as they were (also when it fails, or is cancelled with
Ctrl-C). --truncate-before-restore rolls the tables back to the set;
--collections replaces only those collections; otherwise rows are appended.
Unless --snapshot=false, the rows it replaces are first saved as a new set,
and the output says how to undo.

A restore that deletes or overwrites rows shows its plan and asks on a
terminal; --yes approves in advance. With neither, it prints the plan,
changes nothing and exits 4. Progress goes to stderr.`,
		Example: `  # Roll the tables back to a task's backup, asked on the terminal:
  mcp-server restore --backup-path ./data_pipeline/training_data/task_20250721_213627/vector_bak \
      --timestamp 20250721_215758 --truncate-before-restore

  # Unattended, only the sql collection:
  mcp-server restore --backup-path ./data_pipeline/training_data/global_vector_bak \
      --timestamp latest --collections sql --yes`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var args schemas.RestoreArgs
			svc, out, err := a.prepare(&op, &args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			prog := newProgress(a.stderr, "restore")
			opts := service.RestoreOptions{Progress: prog.report, Unattended: yes}
			ask := &terminalApprover{in: a.stdin, out: a.stderr}
			if !yes && isTerminal(a.stdin) && isTerminal(a.stderr) {
				opts.Approver = ask.approve
			}
			res, err := svc.Restore(ctx, args, opts)
			prog.finish()
			switch {
			case ask.declined:
				fmt.Fprintln(a.stderr, "Declined: nothing was changed.")
				return exitStatus(exitRefused)
			case apierr.TypeOf(err) == apierr.ConfirmationRequired && !op.json:
				var approval *service.ApprovalRequired
				if errors.As(err, &approval) {
					fmt.Fprintln(a.stdout, approval.Summary)
				}
				fmt.Fprintln(a.stderr, "Nothing was changed: this restore deletes or overwrites rows, so it needs approval. Run it on a terminal to be asked, or add --yes.")
				return exitStatus(exitRefused)
			case err != nil:
				return out.failure(err)
			}
			return out.result(res, func(w io.Writer) { printRestore(w, res) })
		},
	}
	op.bind(cmd, schemas.RestoreTool, schemas.RestoreArgs{}, "confirm_token", "pg_conn")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "approve a restore that deletes or overwrites rows without being asked")
	a.reads(cmd, flagDatabaseURL, flagAllowDB, flagProjectRoot, flagBackupRoot, flagLogLevel,
		flagConfirm, flagLockTimeout, flagKeepSnapshots, flagIndexMemory)
	return cmd
}

// terminalApprover asks the person at the terminal to approve a plan.
type terminalApprover struct {
	in       io.Reader
	out      io.Writer
	declined bool
}

// approve shows the plan, then the question. The plan's lines are the
// service's, with every name in them quoted; any other control character
// is escaped all the same, so that nothing in it can clear the screen or
// move the cursor before the question.
func (t *terminalApprover) approve(ctx context.Context, message string) (bool, error) {
	fmt.Fprintf(t.out, "%s [y/N] ", display.EscapeLines(strings.TrimRight(message, "\n")))
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(t.in).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answer:
		if a == "y" || a == "yes" {
			return true, nil
		}
		t.declined = true
		return false, nil
	case <-ctx.Done():
		fmt.Fprintln(t.out)
		return false, ctx.Err()
	}
}

// printRestore shows what a restore did, or for a dry run, first that
// nothing was changed and then what the restore would do. Paths, database
// and file names are escaped, as everything printed that came from outside.
func printRestore(w io.Writer, res *schemas.RestoreResult) {
	esc := display.Escape
	header := "TABLE\tDELETED\tRESTORED\tSKIPPED\tLEGACY JSON CONVERTED"
	if res.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was changed.")
		fmt.Fprintf(w, "A restore of set %s from %s into %s would do this (every row checked, in %.1fs):\n",
			esc(res.BackupInfo.Timestamp), esc(res.BackupInfo.BackupPath), esc(res.Target), res.Duration)
		header = "TABLE\tWOULD DELETE\tWOULD RESTORE\tWOULD SKIP\tLEGACY JSON TO CONVERT"
	} else {
		fmt.Fprintf(w, "Restored set %s from %s into %s in %.1fs.\n", esc(res.BackupInfo.Timestamp), esc(res.BackupInfo.BackupPath), esc(res.Target), res.Duration)
	}
	var rows []string
	for _, t := range layout.Tables() {
		rr, ok := res.RestoreResults[t]
		if !ok {
			continue
		}
		deleted := "-"
		if tr, ok := res.TruncateResults[t]; ok {
			deleted = fmt.Sprint(tr.RowsBefore)
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%d\t%d\t%d", t, deleted, rr.RowsRestored, rr.RowsSkipped, rr.MetadataConverted))
	}
	table(w, header, rows)
	if s := res.Snapshot; s != nil {
		fmt.Fprintf(w, "The replaced rows were saved first as set %s in %s. To undo:\n  %s\n", esc(s.Timestamp), esc(s.BackupPath), commandLine("restore", s.Undo)+" --yes")
		if len(s.Pruned) > 0 {
			fmt.Fprintf(w, "Older snapshot sets removed (--keep-snapshots): %s\n", escapeAll(s.Pruned))
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "Note: %s\n", esc(e))
	}
}
