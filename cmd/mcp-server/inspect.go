package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

func (a *app) inspectCommand() *cobra.Command {
	var op operation
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Read a backup set and say what a restore of it would do",
		Long: `inspect reads every row of a set without changing anything: its files'
rows and sizes, rows with legacy metadata to convert, rows a restore would
refuse (with file, line and reason), vector dimensions, collections, and
whether the files match their manifest. Against the target database it says
whether the set fits the tables and what a restore with the given options
would delete and write. With --diff it also compares the set's embeddings
with the live ones by key, per collection: what changed since the backup.

Exit status 0: restorable; 1: not (the problems say why).`,
		Example: `  mcp-server inspect --backup-path ./data_pipeline/training_data/global_vector_bak --timestamp latest
  mcp-server inspect --backup-path ./data_pipeline/training_data/task_20250721_213627/vector_bak \
      --timestamp 20250721_215758 --truncate-before-restore
  # What changed since the newest global backup:
  mcp-server inspect --backup-path ./data_pipeline/training_data/global_vector_bak --timestamp latest --diff`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var args schemas.InspectArgs
			svc, out, err := a.prepare(&op, &args)
			if err != nil {
				return err
			}
			res, err := svc.Inspect(cmd.Context(), args)
			if err != nil {
				return out.failure(err)
			}
			if err := out.result(res, func(w io.Writer) { printInspect(w, res) }); err != nil {
				return err
			}
			if !res.Restorable {
				return exitStatus(exitFailed)
			}
			return nil
		},
	}
	op.bind(cmd, schemas.InspectTool, schemas.InspectArgs{})
	a.reads(cmd, flagDatabaseURL, flagAllowDB, flagProjectRoot, flagBackupRoot, flagLogLevel)
	return cmd
}

// printInspect shows what inspect found. File, collection, column and
// database names, keys, reasons and problems come from the backup files, the
// database or the caller: each is escaped, as everything printed that came
// from outside.
func printInspect(w io.Writer, res *schemas.InspectResult) {
	esc := display.Escape
	verdict := "restorable"
	if !res.Restorable {
		verdict = "NOT restorable"
	}
	fmt.Fprintf(w, "Set %s in %s (%s): %s; checksums: %s.\n\n", esc(res.BackupInfo.Timestamp), esc(res.BackupInfo.BackupPath), esc(res.BackupInfo.BackupDate), verdict, esc(res.ChecksumStatus))
	var rows []string
	for _, t := range layout.Tables() {
		f, ok := res.Files[t]
		if !ok {
			continue
		}
		dims := "-"
		if d := f.VectorDimensions; d != nil {
			dims = fmt.Sprint(d.Min)
			if d.Max != d.Min {
				dims = fmt.Sprintf("%d-%d", d.Min, d.Max)
			}
		}
		rows = append(rows, fmt.Sprintf("%s\t%d\t%s\t%d\t%d\t%s", esc(f.File), f.Rows, esc(f.Size), f.LegacyJSONRows, f.BadRows, dims))
	}
	table(w, "FILE\tROWS\tSIZE\tLEGACY JSON\tBAD\tDIMENSIONS", rows)
	for _, t := range layout.Tables() {
		for _, b := range res.Files[t].BadRowSamples {
			where := fmt.Sprintf("line %d", b.Line)
			if b.Column != "" {
				where += ", column " + esc(b.Column)
			}
			fmt.Fprintf(w, "  bad row: %s %s: %s\n", esc(b.File), where, esc(b.Reason))
		}
	}
	if len(res.Collections) > 0 {
		var parts []string
		for _, c := range res.Collections {
			parts = append(parts, fmt.Sprintf("%s (%d)", esc(c.Name), c.Embeddings))
		}
		fmt.Fprintf(w, "\nCollections in the set: %s.\n", strings.Join(parts, ", "))
	}
	if tgt := res.Target; tgt != nil {
		var parts []string
		for _, t := range layout.Tables() {
			tr := tgt.Tables[t]
			switch {
			case !tr.Exists:
				parts = append(parts, t+" missing")
			case tr.VectorType != "":
				parts = append(parts, fmt.Sprintf("%s %s (%s)", t, service.Count(tr.Rows, "row"), esc(tr.VectorType)))
			default:
				parts = append(parts, fmt.Sprintf("%s %s", t, service.Count(tr.Rows, "row")))
			}
		}
		fmt.Fprintf(w, "Target %s: %s.\n", esc(tgt.Database), strings.Join(parts, ", "))
	}
	if p := res.Plan; p != nil {
		fmt.Fprintf(w, "\nA restore (%s mode) would:\n%s\n", display.Escape(p.Mode),
			strings.Join(service.PlanLines(p, false, display.Escape), "\n"))
	}
	if d := res.Diff; d != nil {
		printDiff(w, d)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "Problem: %s\n", esc(p))
	}
}

// printDiff shows a comparison as a table per collection, then examples;
// collection names and keys escaped.
func printDiff(w io.Writer, d *schemas.Diff) {
	esc := display.Escape
	fmt.Fprintf(w, "\nSince the backup (embeddings matched by %s):\n", esc(d.Key))
	rows := make([]string, 0, len(d.Collections)+1)
	line := func(name string, c schemas.DiffCounts) string {
		return fmt.Sprintf("  %s\t%d\t%d\t%d\t%d", name, c.OnlyInBackup, c.OnlyInDatabase, c.Changed, c.Identical)
	}
	for _, c := range d.Collections {
		rows = append(rows, line(esc(c.Name), c.DiffCounts))
	}
	rows = append(rows, line("(all)", d.Totals))
	table(w, "  COLLECTION\tONLY IN BACKUP\tONLY IN DATABASE\tCHANGED\tIDENTICAL", rows)
	ex := d.Totals.Examples
	if len(ex.OnlyInBackup) > 0 {
		fmt.Fprintf(w, "  e.g. deleted since (a restore adds them back): %s\n", escapeAll(ex.OnlyInBackup))
	}
	if len(ex.OnlyInDatabase) > 0 {
		fmt.Fprintf(w, "  e.g. added since (a truncating restore deletes them): %s\n", escapeAll(ex.OnlyInDatabase))
	}
	for _, c := range ex.Changed {
		fmt.Fprintf(w, "  e.g. changed since: %s (%s)\n", esc(c.Key), escapeAll(c.Fields))
	}
}

// escapeAll escapes each of a list of names and joins them with commas.
func escapeAll(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = display.Escape(n)
	}
	return strings.Join(out, ", ")
}
