package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/restore"
)

// parseConfig parses args exactly as the binary does (its root command,
// flags and environment), but runs nothing: it returns the configuration the
// command would have run with.
func parseConfig(args []string, getenv func(string) (string, bool), stderr io.Writer) (config, error) {
	a := &app{stdout: io.Discard, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	var stub func(*cobra.Command)
	stub = func(c *cobra.Command) {
		if c.RunE != nil {
			c.RunE = func(*cobra.Command, []string) error { return nil }
		}
		for _, sub := range c.Commands() {
			stub(sub)
		}
	}
	stub(root)
	root.SetArgs(longFlagsWithOneDash(root, args))
	root.SetOut(stderr)
	root.SetErr(stderr)
	err := root.Execute()
	return a.cfg, err
}

// env is a fake environment for parseConfig: only the variables it holds are
// set (an entry with an empty value is set but empty).
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

func TestParseConfig(t *testing.T) {
	fullEnv := env{
		"DATABASE_URL":        "postgres://env@envhost/envdb",
		"VECTOR_PROJECT_ROOT": "/env/project",
		"VECTOR_BACKUP_ROOT":  "env/backups",
	}
	mustPattern := func(s string) dbaccess.Pattern {
		p, err := dbaccess.ParsePattern(s)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", s, err)
		}
		return p
	}
	defaults := config{projectRoot: ".", backupRoot: "data_pipeline/training_data", logLevel: slog.LevelInfo}

	tests := []struct {
		name    string
		args    []string
		env     env
		want    config
		wantErr string // substring of the error; "" means success
	}{
		{
			name: "defaults",
			want: defaults,
		},
		{
			name: "confirmations off for pipelines",
			args: []string{"--confirm", "none"},
			want: config{projectRoot: ".", backupRoot: "data_pipeline/training_data", confirm: "none"},
		},
		{
			name:    "unknown confirm mode",
			args:    []string{"--confirm=ask"},
			wantErr: "--confirm must be token or none",
		},
		{
			name:    "confirm key not hex",
			env:     env{"MCP_CONFIRM_KEY": "zz"},
			wantErr: "MCP_CONFIRM_KEY",
		},
		{
			name: "defaults when the variables are set but empty",
			env:  env{"DATABASE_URL": "", "VECTOR_PROJECT_ROOT": "", "VECTOR_BACKUP_ROOT": ""},
			want: defaults,
		},
		{
			name: "environment beats defaults",
			env:  fullEnv,
			want: config{
				databaseURL: "postgres://env@envhost/envdb",
				projectRoot: "/env/project",
				backupRoot:  "env/backups",
			},
		},
		{
			name: "flags beat environment",
			args: []string{
				"--database-url", "postgres://flag@flaghost/flagdb",
				"--project-root=/flag/project",
				"-backup-root", "/flag/backups",
			},
			env: fullEnv,
			want: config{
				databaseURL: "postgres://flag@flaghost/flagdb",
				projectRoot: "/flag/project",
				backupRoot:  "/flag/backups",
			},
		},
		{
			name: "each setting falls back on its own",
			args: []string{"--backup-root", "flag/backups"},
			env:  env{"DATABASE_URL": "postgres://env@envhost/envdb"},
			want: config{
				databaseURL: "postgres://env@envhost/envdb",
				projectRoot: ".",
				backupRoot:  "flag/backups",
			},
		},
		{
			name: "unrelated PG variables do not become the database URL",
			env:  env{"PGHOST": "pghost", "PGDATABASE": "pgdb"},
			want: defaults, // empty databaseURL: libpq's PG* variables apply when connecting
		},
		{
			name: "repeatable allow-db-connection",
			args: []string{
				"--allow-db-connection", "db.internal:5432/vectors",
				"--allow-db-connection=*.staging/*",
				"--allow-db-connection", "[::1]:6543/test_?",
			},
			want: config{
				projectRoot: ".", backupRoot: "data_pipeline/training_data",
				allow: []dbaccess.Pattern{
					mustPattern("db.internal:5432/vectors"),
					mustPattern("*.staging/*"),
					mustPattern("[::1]:6543/test_?"),
				},
			},
		},
		{name: "allow pattern without database", args: []string{"--allow-db-connection", "db.internal"}, wantErr: "host[:port]/database"},
		{name: "allow pattern with empty database", args: []string{"--allow-db-connection", "db.internal/"}, wantErr: "host[:port]/database"},
		{name: "allow pattern with empty host", args: []string{"--allow-db-connection", "/vectors"}, wantErr: "host[:port]/database"},
		{name: "allow pattern with bad glob", args: []string{"--allow-db-connection", "db[/vectors"}, wantErr: "syntax error in pattern"},
		{
			name:    "a bad allow pattern fails even after good ones",
			args:    []string{"--allow-db-connection", "ok/db", "--allow-db-connection", "x/["},
			wantErr: "syntax error in pattern",
		},
		{
			name: "read-only",
			args: []string{"--read-only"},
			want: config{projectRoot: ".", backupRoot: "data_pipeline/training_data", readOnly: true},
		},
		{
			name: "read-only=false",
			args: []string{"--read-only=false"},
			want: defaults,
		},
		{name: "read-only takes no separate value", args: []string{"--read-only", "true"}, wantErr: `unknown command or argument "true"`},
		{name: "unexpected positional argument", args: []string{"bogus"}, wantErr: `unknown command or argument "bogus"; commands: audit, backup, inspect, list, restore, schemas, serve, version`},
		{name: "positional argument after flags", args: []string{"--read-only", "nothing", "extra"}, wantErr: `unknown command or argument "nothing"`},
		{name: "argument after a command", args: []string{"serve", "extra"}, wantErr: `unexpected argument "extra"`},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantErr: "unknown flag: --no-such-flag"},
		{name: "unknown flag with one dash", args: []string{"-no-such-flag"}, wantErr: "unknown shorthand flag: 'n' in -no-such-flag"},
		{name: "flag missing its value", args: []string{"--database-url"}, wantErr: "flag needs an argument: --database-url"},
		{
			name: "single-dash long flags, as Go's flag package took them",
			args: []string{"-read-only", "-log-level=debug", "-database-url", "postgres://x@h/db"},
			want: config{databaseURL: "postgres://x@h/db", projectRoot: ".", backupRoot: "data_pipeline/training_data", readOnly: true, logLevel: slog.LevelDebug},
		},
		{
			name: "the flags after serve",
			args: []string{"serve", "--http", ":8084", "--allow-origin", "https://console.example.com", "--shutdown-grace", "5s"},
			env:  env{"MCP_AUTH_TOKEN": "t0ken"},
			want: config{
				projectRoot: ".", backupRoot: "data_pipeline/training_data",
				http: ":8084", authToken: "t0ken", allowOrigins: []string{"https://console.example.com"}, shutdownGrace: 5 * time.Second,
			},
		},
		{name: "auth token flag beats the environment", args: []string{"--auth-token", "flag"}, env: env{"MCP_AUTH_TOKEN": "env"},
			want: config{projectRoot: ".", backupRoot: "data_pipeline/training_data", authToken: "flag"}},
		{name: "negative grace", args: []string{"--shutdown-grace=-1s"}, wantErr: "--shutdown-grace must not be negative"},
		{name: "keep-snapshots", args: []string{"--keep-snapshots", "3"}, want: config{projectRoot: ".", backupRoot: "data_pipeline/training_data", keepSnaps: 3}},
		{name: "negative keep-snapshots", args: []string{"--keep-snapshots=-1"}, wantErr: "--keep-snapshots must be 0"},
		{
			name: "log-level debug",
			args: []string{"--log-level", "debug"},
			want: config{projectRoot: ".", backupRoot: "data_pipeline/training_data", logLevel: slog.LevelDebug},
		},
		{
			name: "log-level is case-insensitive",
			args: []string{"--log-level=WARN"},
			want: config{projectRoot: ".", backupRoot: "data_pipeline/training_data", logLevel: slog.LevelWarn},
		},
		{
			name: "log-level error",
			args: []string{"-log-level", "error"},
			want: config{projectRoot: ".", backupRoot: "data_pipeline/training_data", logLevel: slog.LevelError},
		},
		{name: "log-level unknown", args: []string{"--log-level", "loud"}, wantErr: "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			e := tt.env
			if e == nil {
				e = env{}
			}
			got, err := parseConfig(tt.args, e.lookup, &stderr)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseConfig(%q) = %+v, want an error containing %q", tt.args, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q): %v (stderr: %s)", tt.args, err, stderr.String())
			}
			if tt.want.confirm == "" {
				tt.want.confirm = "token" // the default, unless a case names another
			}
			if tt.want.shutdownGrace == 0 {
				tt.want.shutdownGrace = defaultShutdownGrace
			}
			if tt.want.keepSnaps == 0 {
				tt.want.keepSnaps = defaultKeepSnapshots
			}
			if tt.want.lockWait == 0 {
				tt.want.lockWait = restore.DefaultLockWait
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConfig(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
			if stderr.Len() != 0 {
				t.Errorf("a successful parse wrote to stderr: %s", stderr.String())
			}
		})
	}
}

// TestParseConfigHelp checks that -help, --help and -h print the usage,
// naming every flag, on the writer given (stderr), and run nothing.
func TestParseConfigHelp(t *testing.T) {
	for _, args := range [][]string{{"-help"}, {"--help"}, {"-h"}, {"serve", "--help"}} {
		var stderr bytes.Buffer
		if _, err := parseConfig(args, env{}.lookup, &stderr); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		usage := stderr.String()
		for _, want := range []string{"Usage:", "mcp-server", "--database-url", "--project-root", "--backup-root", "--allow-db-connection",
			"--read-only", "--log-level", "--http", "--auth-token", "--allow-origin", "Examples:"} {
			if !strings.Contains(usage, want) {
				t.Errorf("%q: usage lacks %q:\n%s", args, want, usage)
			}
		}
	}
}

// TestParseConfigErrorsGoToStderr checks that flag errors are explained on
// stderr, never on stdout (which carries the protocol), with the usage exit
// status.
func TestParseConfigErrorsGoToStderr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--bogus"}, strings.NewReader(""), &stdout, &stderr, env{}.lookup)
	if code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "unknown flag: --bogus") || !strings.Contains(stderr.String(), "--help") {
		t.Errorf("stderr lacks the flag error and the hint:\n%s", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout is not empty: %q", stdout.String())
	}
}
