package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/display"
)

// More exit statuses of the operations, as the contract's table gives them.
const (
	exitNotFound  = 3
	exitRefused   = 4
	exitCancelled = 130
)

// exitStatus ends a command whose outcome is already printed.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// statusOf is the exit status for an operation's error type.
func statusOf(t apierr.Type) int {
	switch t {
	case apierr.MissingRequiredParams, apierr.InvalidParams:
		return exitUsage
	case apierr.ResourceNotFound:
		return exitNotFound
	case apierr.Forbidden, apierr.ConfirmationRequired:
		return exitRefused
	case apierr.Cancelled:
		return exitCancelled
	}
	return exitFailed
}

// output is how an operation presents itself: for a person (tables and a
// summary on stdout), or with --json exactly the tool's structured content.
type output struct {
	stdout, stderr io.Writer
	json           bool
}

// result prints a result: as JSON, or through human.
func (o output) result(res any, human func(w io.Writer)) error {
	if o.json {
		return o.printJSON(res)
	}
	human(o.stdout)
	return nil
}

// failure prints an operation's error and returns its exit status: the
// tool's error object on stdout with --json, else a sentence on stderr.
func (o output) failure(err error) error {
	e := apierr.From(err)
	if o.json {
		obj := e.Fields()
		obj["message"] = e.Message
		if err := o.printJSON(obj); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.stderr, "%s: %s%s\n", e.Type, display.Escape(e.Message), display.Escape(flagHint(e)))
	}
	return exitStatus(statusOf(e.Type))
}

// flagHint names the flags behind the arguments an error names: the
// messages speak of arguments, as the tools do.
func flagHint(e *apierr.Error) string {
	var names []string
	if missing := e.Missing; len(missing) > 0 {
		names = slices.Clone(missing)
	} else if param := e.Param; param != "" && e.Type == apierr.InvalidParams {
		names = []string{param}
	}
	if len(names) == 0 {
		return ""
	}
	for i, n := range names {
		names[i] = "--" + strings.ReplaceAll(n, "_", "-")
	}
	return " (flag " + strings.Join(names, ", ") + ")"
}

// printJSON writes v as indented JSON. The control characters that
// encoding/json leaves in strings (DEL, C1, bidirectional) are written as
// \u escapes: the same values, shown as data on a terminal.
func (o output) printJSON(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := o.stdout.Write(display.EscapeJSON(buf.Bytes()))
	return err
}

// table writes aligned columns; rows are tab-separated, their fields
// escaped by the caller (display.Escape also keeps a tab in a name from
// adding a column).
func table(w io.Writer, header string, rows []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	tw.Flush()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
