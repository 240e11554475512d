package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vectorops/pgvector-backup-mcp/caller"
	"github.com/vectorops/pgvector-backup-mcp/display"
)

// Exit statuses, as the contract's table gives them.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// app is what every command shares: the process's streams and environment,
// and the configuration the flags and environment give.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
	cfg            config
	logger         *slog.Logger
}

// usageError is a mistake in how the command was called: exit status 2.
type usageError struct {
	error
	command string // the command whose help explains the mistake ("mcp-server restore"); "" for mcp-server
	hint    string // what was probably meant, or ""
}

func (e usageError) Unwrap() error { return e.error }

// run is main without the process: testable, and every exit path returns.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(longFlagsWithOneDash(root, args))
	root.SetIn(stdin)
	// Help and usage go to stderr: on stdio, stdout carries the protocol.
	root.SetOut(stderr)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var usage usageError
	var status exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &status): // the command printed its outcome
		return int(status)
	case errors.As(err, &usage):
		// Flag names and values are the caller's text: escaped.
		fmt.Fprintf(stderr, "mcp-server: %s\n", display.Escape(err.Error()))
		if usage.hint != "" {
			fmt.Fprintln(stderr, display.Escape(usage.hint))
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmp.Or(usage.command, "mcp-server"))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "mcp-server: %s\n", display.Escape(err.Error())) // flag values, paths: the caller's text
		return exitFailed
	}
}

// rootCommand builds the command tree. Each command has the configuration
// flags it reads, and no others: the help of list does not offer --http.
func (a *app) rootCommand() *cobra.Command {
	a.cfg = defaultConfig()
	root := &cobra.Command{
		Use:   "mcp-server",
		Short: "See and roll back the vector training data of a text-to-SQL stack",
		Long: `mcp-server lists, inspects, restores and creates backups of the LangChain
PGVector tables (langchain_pg_collection, langchain_pg_embedding) in PostgreSQL.

Without a command it serves the MCP tools on stdio, for Claude Desktop, IDE
agents and other MCP hosts: stdout carries the protocol only, logs go to
stderr. With --http it serves them over HTTP instead (see serve).`,
		Example: `  # Claude Desktop and other MCP hosts start it like this:
  DATABASE_URL=postgres://user:pass@localhost:5432/vanna mcp-server --project-root /srv/text2sql

  # The old REST API and MCP over HTTP, on loopback:
  mcp-server serve --http :8084 --project-root /srv/text2sql`,
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          a.serve,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(flagError) // the subcommands' too
	a.reads(root, servingFlags()...)
	root.AddCommand(a.serveCommand(), a.listCommand(), a.inspectCommand(), a.restoreCommand(), a.backupCommand(),
		a.auditCommand(), a.schemasCommand(), a.versionCommand())
	return root
}

// reads gives cmd the configuration flags it reads (but no others), and
// has the configuration resolved before it runs.
func (a *app) reads(cmd *cobra.Command, flags ...string) {
	a.cfg.bindFlags(cmd.Flags(), flags...)
	cmd.PreRunE = a.configure
	if f := cmd.Flags().Lookup(flagLogLevel); f != nil && cmd.Annotations[operationAnnotation] != "" {
		f.Usage = "debug, info, warn or error (default error: the command's own output says what went wrong)"
	}
}

// configure resolves the configuration and sets up logging before a
// command that reads it runs.
func (a *app) configure(cmd *cobra.Command, _ []string) error {
	if err := a.cfg.resolve(a.getenv); err != nil {
		return usageError{error: err, command: cmd.CommandPath()}
	}
	level := a.cfg.logLevel
	if cmd.Annotations[operationAnnotation] != "" && !cmd.Flags().Changed(flagLogLevel) {
		// A person at a terminal reads the command's own output. It already
		// says what the service warns about during an operation (the error,
		// inspect's problems, restore's notes), in the caller's terms; the
		// warnings would say it a second time, with the server's paths. The
		// one warning it does not repeat (a snapshot left in place, not
		// provably this server's) asks nothing of the person. Only errors
		// are logged; --log-level shows the rest.
		level = slog.LevelError
	}
	a.logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	if tool := cmd.Annotations[operationAnnotation]; tool != "" {
		// For the audit trail: the command line's calls, named by their
		// tool (the caller is the local operator: caller.From's default).
		cmd.SetContext(caller.WithFront(cmd.Context(), caller.Front{Name: caller.FrontCLI, Operation: tool}))
	}
	return nil
}

// noArgs refuses positional arguments, naming the commands there are.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if len(names) == 0 {
		return usageError{error: fmt.Errorf("unexpected argument %q", args[0]), command: cmd.CommandPath()}
	}
	return usageError{error: fmt.Errorf("unknown command or argument %q; commands: %s", args[0], strings.Join(names, ", ")), command: cmd.CommandPath()}
}

// longFlagsWithOneDash rewrites -name to --name for the command's long
// flags: releases before this one parsed flags with Go's flag package, which
// takes both, and the configurations of existing MCP hosts must keep
// working.
func longFlagsWithOneDash(root *cobra.Command, args []string) []string {
	long := map[string]bool{"help": true}
	var collect func(c *cobra.Command)
	collect = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.PersistentFlags(), c.Flags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			collect(sub)
		}
	}
	collect(root)
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if len(arg) > 2 && arg[0] == '-' && arg[1] != '-' {
			if name, _, _ := strings.Cut(arg[1:], "="); long[name] {
				arg = "-" + arg
			}
		}
		out = append(out, arg)
	}
	return out
}
