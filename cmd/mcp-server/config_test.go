package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/target"
)

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
	mustPattern := func(s string) target.Pattern {
		p, err := target.ParsePattern(s)
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
				allow: []target.Pattern{
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
		{name: "read-only takes no separate value", args: []string{"--read-only", "true"}, wantErr: `unexpected argument "true"`},
		{name: "unexpected positional argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
		{name: "positional argument after flags", args: []string{"--read-only", "list", "extra"}, wantErr: `unexpected argument "list"`},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantErr: "flag provided but not defined: -no-such-flag"},
		{name: "flag missing its value", args: []string{"--database-url"}, wantErr: "flag needs an argument: -database-url"},
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
		{name: "log-level unknown", args: []string{"--log-level", "loud"}, wantErr: "invalid value"},
		{name: "help", args: []string{"-help"}, wantErr: flag.ErrHelp.Error()},
		{name: "help, long form", args: []string{"--help"}, wantErr: flag.ErrHelp.Error()},
		{name: "h", args: []string{"-h"}, wantErr: flag.ErrHelp.Error()},
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
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConfig(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
			if stderr.Len() != 0 {
				t.Errorf("a successful parse wrote to stderr: %s", stderr.String())
			}
		})
	}
}

// TestParseConfigHelp checks that -help prints the usage, naming every flag,
// on the writer given (stderr), and returns flag.ErrHelp so main exits 0.
func TestParseConfigHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseConfig([]string{"-help"}, env{}.lookup, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	usage := stderr.String()
	for _, want := range []string{"Usage: mcp-server", "-database-url", "-project-root", "-backup-root", "-allow-db-connection", "-read-only", "-log-level"} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
}

// TestParseConfigErrorsGoToStderr checks that flag errors are explained on the
// writer given, never on the process's stdout (which carries the protocol).
func TestParseConfigErrorsGoToStderr(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseConfig([]string{"--bogus"}, env{}.lookup, &stderr); err == nil {
		t.Fatal("no error for an unknown flag")
	}
	if !strings.Contains(stderr.String(), "flag provided but not defined: -bogus") {
		t.Errorf("stderr lacks the flag error:\n%s", stderr.String())
	}
}
