package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/audit"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/display"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// defaultAuditLimit is how many records audit shows without --limit.
const defaultAuditLimit = 20

func (a *app) auditCommand() *cobra.Command {
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail: the newest restores and backups, who ran them, and how they ended",
		Long: `audit shows the newest records of the audit trail, newest first. Every
restore and every backup that reached the database (committed, dry run, or
failed and rolled back) leaves one record, written before the call returned,
under ` + layout.AuditDir + `/YYYY/MM/DD/ in the backup root (a folder or a bucket): when,
who (an OAuth token's subject, static-token, or local for stdio and the
command line), the front end (mcp, rest, cli) and the tool or route, the set,
the target database without its password, the options, the outcome, the rows
and the snapshot written first. Records are never changed or removed by the
server; how long they are kept is the operator's choice.

Files of the trail that are no record are reported on stderr and skipped.`,
		Example: `  mcp-server audit
  mcp-server audit --limit 100 --json | jq 'select(.outcome != "committed")'
  mcp-server audit --backup-root 's3://backups/vectors?region=eu-west-1'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return usageError{error: fmt.Errorf("--limit must be 1 or more, got %d", limit), command: cmd.CommandPath()}
			}
			cat, err := catalog.New(a.cfg.projectRoot, a.cfg.backupRoot)
			if err != nil {
				return fmt.Errorf("cannot use the backup root: %w", err)
			}
			defer cat.Store.Close()
			recs, problems, err := audit.New(cat.Store).Newest(cmd.Context(), limit)
			if err != nil {
				return fmt.Errorf("cannot read the audit trail: %w", err)
			}
			for _, p := range problems {
				fmt.Fprintf(a.stderr, "skipped %s: %s\n", display.Escape(p.Key), display.Escape(p.Err.Error()))
			}
			if asJSON {
				return printAuditJSON(a.stdout, recs)
			}
			printAudit(a.stdout, recs)
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", defaultAuditLimit, "how many records to show, newest first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each record as written, one JSON object per line")
	a.reads(cmd, flagProjectRoot, flagBackupRoot, flagLogLevel)
	return cmd
}

// printAuditJSON writes one record per line. Control characters that
// encoding/json leaves in strings are written as \u escapes.
func printAuditJSON(w io.Writer, recs []audit.Record) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	_, err := w.Write(display.EscapeJSON(buf.Bytes()))
	return err
}

// printAudit shows records as a table. Every name in a record came from a
// caller, a token or the trail's files: escaped.
func printAudit(w io.Writer, recs []audit.Record) {
	esc := display.Escape
	if len(recs) == 0 {
		fmt.Fprintln(w, "The audit trail is empty: no restore or backup has been recorded in this backup root.")
		return
	}
	rows := make([]string, len(recs))
	for i, r := range recs {
		who := r.Who.Subject
		if r.Who.Client != "" {
			who += " (" + r.Who.Client + ")"
		}
		set := "-"
		if r.Set != nil {
			set = strings.TrimSpace(r.Set.Path + " " + r.Set.Timestamp)
		}
		outcome := r.Outcome
		if r.Options.DryRun && outcome != audit.OutcomeDryRun {
			outcome += " (dry run)"
		}
		rows[i] = strings.Join([]string{
			r.Time.UTC().Format(time.RFC3339), esc(who), esc(strings.TrimSpace(r.Front + " " + r.Operation)),
			esc(set), esc(r.Target), esc(outcome), rowCounts(r.Rows),
		}, "\t")
	}
	table(w, "TIME (UTC)\tWHO\tOPERATION\tSET\tTARGET\tOUTCOME\tROWS (COLLECTION/EMBEDDING)", rows)
	fmt.Fprintf(w, "%d newest %s shown; --json prints them whole (options, errors, snapshots).\n", len(recs), plural(len(recs), "record"))
}

// rowCounts is a record's rows of both tables, "-" for a table it has none
// of.
func rowCounts(rows map[string]int64) string {
	cells := make([]string, 0, 2)
	for _, t := range layout.Tables() {
		if n, ok := rows[t]; ok {
			cells = append(cells, strconv.FormatInt(n, 10))
		} else {
			cells = append(cells, "-")
		}
	}
	return strings.Join(cells, "/")
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
