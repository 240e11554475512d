//go:build linux

package main

// These tests run the operator commands of the built binary as a person
// (or a script) would: readable output and --json, every exit status, the
// question on a pseudo-terminal, progress on a terminal and in a pipe, and
// Ctrl-C in the middle of a large restore.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/testutil"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// cli is a project and database the commands run against.
type cli struct {
	db   string
	p    *pgtest.Project
	a, b *sample.Dataset
}

const (
	cliTask   = "./data_pipeline/training_data/task_20250721_213627/vector_bak"
	cliTaskTS = "20250721_215758"
	cliGlobal = "./data_pipeline/training_data/vector_bak"
	cliGlbTS  = "20250722_010318"
)

func newCLI(t *testing.T) *cli {
	t.Helper()
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: httpDim})
	c := &cli{db: p.DB, p: p}
	c.a = sample.Generate(1, []string{"sql", "ddl", "documentation", "error_sql"}, 5, httpDim)
	c.b = c.a.Later(2)
	c.p.Write(t, c.a, "task_20250721_213627/vector_bak", cliTaskTS)
	c.p.Write(t, c.b, "vector_bak", cliGlbTS)
	return c
}

// run runs the binary with args (stdin not a terminal) and returns stdout,
// stderr and the exit status.
func (c *cli) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runServer(t, runOptions{env: serverEnv(c.db, c.p.Root)}, args...)
}

// want runs and checks the exit status, and that stdout and stderr contain
// their strings.
func (c *cli) want(t *testing.T, code int, out, errOut []string, args ...string) (string, string) {
	t.Helper()
	stdout, stderr, got := c.run(t, args...)
	if got != code {
		t.Errorf("mcp-server %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, stdout, stderr)
	}
	for _, s := range out {
		if !strings.Contains(stdout, s) {
			t.Errorf("mcp-server %s: stdout lacks %q:\n%s", strings.Join(args, " "), s, stdout)
		}
	}
	for _, s := range errOut {
		if !strings.Contains(stderr, s) {
			t.Errorf("mcp-server %s: stderr lacks %q:\n%s", strings.Join(args, " "), s, stderr)
		}
	}
	return stdout, stderr
}

// jsonOut decodes stdout, which --json must leave holding one object.
func jsonOut(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimSpace(rest)) > 0 {
		t.Fatalf("stdout holds more than the JSON object: %q", rest)
	}
	return m
}

// TestCLI runs each command readable and with --json, and checks each exit
// status of the contract's table.
func TestCLI(t *testing.T) {
	c := newCLI(t)

	// list
	c.want(t, 0, []string{"TIMESTAMP", "FOLDER (--backup-path)", cliGlbTS, cliTask, "2 sets in 2 locations (1 set global, 1 in tasks)."}, nil, "list")
	stdout, stderr := c.want(t, 0, nil, nil, "list", "--json", "--limit", "1")
	if m := jsonOut(t, stdout); m["next_cursor"] == nil || m["summary"].(map[string]any)["total_backup_sets"] != 2.0 {
		t.Errorf("list --json: %v", m)
	}
	if stderr != "" {
		t.Errorf("list --json wrote to stderr: %s", stderr)
	}

	// inspect: 0 restorable, 1 not, 3 not found
	c.want(t, 0, []string{"restorable", "A restore (truncate mode) would:", "- langchain_pg_embedding: delete"}, nil, "inspect", "--backup-path", cliTask, "--timestamp", cliTaskTS, "--truncate-before-restore")
	stdout, _ = c.want(t, 0, nil, nil, "inspect", "--backup-path", cliTask, "--timestamp", "latest", "--json")
	if m := jsonOut(t, stdout); m["restorable"] != true || m["plan"] == nil {
		t.Errorf("inspect --json: %v", m)
	}
	other := pgtest.NewDatabase(t)
	pgtest.Exec(t, other, sample.Default.DDL(httpDim*2)) // another embedding model's dimension
	otherFlags := []string{"--database-url", other}
	c.want(t, 1, []string{"NOT restorable", "Problem:"}, nil, append([]string{"inspect", "--backup-path", cliTask, "--timestamp", cliTaskTS}, otherFlags...)...)
	c.want(t, 3, nil, []string{"RESOURCE_NOT_FOUND", "backup folder does not exist"}, "inspect", "--backup-path", "./data_pipeline/training_data/nope", "--timestamp", "latest")

	// usage: 2
	c.want(t, 2, nil, []string{"MISSING_REQUIRED_PARAMS", "backup_path", "(flag --backup-path)"}, "restore", "--timestamp", "latest")
	stdout, _ = c.want(t, 2, nil, nil, "restore", "--timestamp", "latest", "--json")
	if m := jsonOut(t, stdout); m["error_type"] != "MISSING_REQUIRED_PARAMS" || m["message"] == nil {
		t.Errorf("restore --json, missing argument: %v", m)
	}
	c.want(t, 2, nil, []string{"unknown flag: --truncate"}, "restore", "--backup-path", cliTask, "--timestamp", "latest", "--truncate")
	c.want(t, 2, nil, []string{"INVALID_PARAMS", "on_conflict", "(flag --on-conflict)"}, "restore", "--backup-path", cliTask, "--timestamp", "latest", "--on-conflict", "replace")
	c.want(t, 2, nil, []string{"invalid argument"}, "list", "--limit", "many")

	// not found: 3
	c.want(t, 3, nil, []string{"RESOURCE_NOT_FOUND", "no backup set 20250101_000000"}, "restore", "--backup-path", cliTask, "--timestamp", "20250101_000000")

	// refused: 4 (forbidden; a plan that needs approval, nobody to ask)
	c.want(t, 4, nil, []string{"FORBIDDEN", "db_connection"}, "restore", "--backup-path", cliTask, "--timestamp", "latest", "--db-connection", "postgresql://u:p@db.elsewhere/x")
	c.want(t, 0, []string{"Restored set " + cliTaskTS}, nil, "restore", "--backup-path", cliTask, "--timestamp", cliTaskTS) // empty tables: nothing to approve
	before := pgtest.Dump(t, c.db)
	stdout, _ = c.want(t, 4, []string{"(truncate mode) will:", "Restore of set " + cliGlbTS}, []string{"needs approval", "--yes"},
		"restore", "--backup-path", cliGlobal, "--timestamp", cliGlbTS, "--truncate-before-restore")
	if !regexp.MustCompile(`- langchain_pg_embedding: delete 20 rows, write 20 rows\n`).MatchString(stdout) {
		t.Errorf("the plan does not say 20 embeddings deleted and 20 written:\n%s", stdout)
	}
	if pgtest.Dump(t, c.db) != before {
		t.Fatal("a restore refused for lack of approval changed the tables")
	}
	stdout, _ = c.want(t, 4, nil, nil, "restore", "--backup-path", cliGlobal, "--timestamp", cliGlbTS, "--truncate-before-restore", "--json")
	if m := jsonOut(t, stdout); m["error_type"] != "CONFIRMATION_REQUIRED" || m["plan"] == nil {
		t.Errorf("restore --json without approval: %v", m)
	}

	// failed: 1 (the backup does not fit the tables)
	c.want(t, 1, nil, []string{"SCHEMA_MISMATCH", "dimensions"}, append([]string{"restore", "--backup-path", cliTask, "--timestamp", cliTaskTS, "--yes"}, otherFlags...)...)

	// done: 0, with the way back
	stdout, _ = c.want(t, 0, []string{"Restored set " + cliGlbTS, "DELETED", "To undo:"}, nil,
		"restore", "--backup-path", cliGlobal, "--timestamp", cliGlbTS, "--truncate-before-restore", "--yes")
	pgtest.Compare(t, c.db, c.b, sample.Default)
	undo := regexp.MustCompile(`(?m)^  mcp-server (restore .*)$`).FindStringSubmatch(stdout)
	if undo == nil {
		t.Fatalf("no undo command in:\n%s", stdout)
	}
	c.want(t, 0, []string{"Restored set"}, nil, strings.Fields(undo[1])...)
	if pgtest.Dump(t, c.db) != before {
		t.Error("the printed undo command did not put back the rows")
	}

	// --diff says what changed since a set; --online restores it without
	// blocking readers.
	c.want(t, 0, []string{"Since the backup (embeddings matched by id)", "ONLY IN BACKUP", "(all)", "e.g. "}, nil,
		"inspect", "--backup-path", cliGlobal, "--timestamp", cliGlbTS, "--diff")
	c.want(t, 0, []string{"Restored set " + cliGlbTS}, nil,
		"restore", "--backup-path", cliGlobal, "--timestamp", cliGlbTS, "--truncate-before-restore", "--online", "--yes", "--lock-timeout", "5s")
	pgtest.Compare(t, c.db, c.b, sample.Default)

	// backup, schemas, version
	stdout, _ = c.want(t, 0, nil, nil, "backup", "--json")
	if m := jsonOut(t, stdout); m["backup_performed"] != true || m["timestamp"] == nil {
		t.Errorf("backup --json: %v", m)
	}
	c.want(t, 0, []string{"Backed up", "To restore it: mcp-server restore --backup-path ./data_pipeline/training_data/global_vector_bak"}, nil, "backup")
	stdout, _ = c.want(t, 0, nil, nil, "schemas")
	schemasOut := jsonOut(t, stdout)
	for _, tool := range []string{"list_vector_backups", "inspect_vector_backup", "restore_vector_backup", "create_vector_backup"} {
		if s, ok := schemasOut[tool].(map[string]any); !ok || s["input"] == nil || s["output"] == nil {
			t.Errorf("schemas: %s missing", tool)
		}
	}
	c.want(t, 0, []string{"mcp-server "}, nil, "version")
	for _, command := range []string{"list", "inspect", "restore", "backup", "schemas", "version", "serve"} {
		c.want(t, 0, nil, []string{"Usage:", "Examples:", "mcp-server " + command}, command, "--help")
	}
}

// TestCLIAsksOnTerminal runs a replacing restore on a pseudo-terminal: the
// plan is shown with a question; "n" changes nothing (exit 4), "y" restores.
func TestCLIAsksOnTerminal(t *testing.T) {
	c := newCLI(t)
	c.want(t, 0, nil, nil, "restore", "--backup-path", cliTask, "--timestamp", cliTaskTS)
	before := pgtest.Dump(t, c.db)
	args := []string{"restore", "--backup-path", cliGlobal, "--timestamp", cliGlbTS, "--truncate-before-restore"}

	out, code := c.onTerminal(t, args, "[y/N]", "n\n")
	if code != exitRefused || !strings.Contains(out, "delete 20 rows, write 20 rows") || !strings.Contains(out, "Declined") {
		t.Errorf("answered no: exit %d\n%s", code, out)
	}
	if pgtest.Dump(t, c.db) != before {
		t.Fatal("a declined restore changed the tables")
	}
	out, code = c.onTerminal(t, args, "[y/N]", "y\n")
	if code != 0 || !strings.Contains(out, "Restored set "+cliGlbTS) {
		t.Errorf("answered yes: exit %d\n%s", code, out)
	}
	pgtest.Compare(t, c.db, c.b, sample.Default)
}

// onTerminal runs the binary on a pseudo-terminal (stdin, stdout and
// stderr), types answer once prompt appears (unless prompt is ""), and
// returns all it printed and its exit status.
func (c *cli) onTerminal(t *testing.T, args []string, prompt, answer string) (string, int) {
	t.Helper()
	cmd := exec.Command(serverBinary(t), args...)
	cmd.Env = serverEnv(c.db, c.p.Root, "TERM=xterm", "COLUMNS=120")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out testutil.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, tty); close(copied) }()
	if prompt != "" {
		if out.WaitFor(0, 30*time.Second, prompt) == "" {
			cmd.Process.Kill()
			t.Fatalf("no %q on the terminal:\n%s", prompt, out.String())
		}
		if _, err := tty.Write([]byte(answer)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the command did not end:\n%s", out.String())
	}
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(werr, &exit) {
		code = exit.ExitCode()
	}
	return out.String(), code
}

// bigCLI is newCLI with a set large enough for a restore to last: 30,000
// embeddings of 256 dimensions (about 90 MB), in global_vector_bak.
func bigCLI(t *testing.T) (*cli, *sample.Dataset) {
	t.Helper()
	c := newCLI(t)
	pgtest.Exec(t, c.db, "DROP TABLE langchain_pg_embedding, langchain_pg_collection; "+sample.Default.DDL(256))
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("coll_%03d", i)
	}
	big := sample.Generate(77, names, 300, 256)
	c.p.Write(t, big, "global_vector_bak", "20250801_000000")
	return c, big
}

// TestCLIProgress shows progress on stderr: a bar on a terminal, plain
// lines in a pipe; stdout stays the result alone.
func TestCLIProgress(t *testing.T) {
	c, big := bigCLI(t)
	args := []string{"restore", "--backup-path", "./data_pipeline/training_data/global_vector_bak", "--timestamp", "20250801_000000", "--truncate-before-restore", "--yes", "--snapshot=false"}
	out, code := c.onTerminal(t, args, "", "")
	if code != 0 {
		t.Fatalf("restore on a terminal: exit %d\n%s", code, out)
	}
	if !regexp.MustCompile(`\d+%\s*\|`).MatchString(out) || !strings.Contains(out, "MB/s") {
		t.Errorf("no progress bar on the terminal:\n%q", lastBytes(out, 2000))
	}
	pgtest.Compare(t, c.db, big, sample.Default)

	stdout, stderr, code := c.run(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("restore in a pipe: exit %d\n%s", code, stderr)
	}
	jsonOut(t, stdout)
	lines := regexp.MustCompile(`(?m)^restore: langchain_pg_embedding: \d+ rows sent; [\d.]+ MB of [\d.]+ MB \(\d+%\)`).FindAllString(stderr, -1)
	if len(lines) == 0 || !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, "(100%)") }) {
		t.Errorf("no plain progress lines on stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "\x1b[") {
		t.Errorf("terminal control characters in a pipe:\n%q", lastBytes(stderr, 500))
	}
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestCLICtrlC interrupts (SIGINT, as Ctrl-C does) a restore of the large
// set in the middle of its COPY: it says it rolled back, exits 130, and the
// tables are byte for byte as before.
func TestCLICtrlC(t *testing.T) {
	c, _ := bigCLI(t)
	small := sample.Generate(3, []string{"sql", "ddl"}, 10, 256)
	c.p.Write(t, small, "global_vector_bak", "20250701_000000")
	c.want(t, 0, nil, nil, "restore", "--backup-path", "./data_pipeline/training_data/global_vector_bak", "--timestamp", "20250701_000000")
	before := pgtest.Dump(t, c.db)

	w := newWatcher(t, c.db)
	cmd := exec.Command(serverBinary(t), "restore", "--backup-path", "./data_pipeline/training_data/global_vector_bak", "--timestamp", "20250801_000000",
		"--truncate-before-restore", "--yes")
	cmd.Env = serverEnv(c.db, c.p.Root)
	var stdout, stderr testutil.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for !slices.ContainsFunc(w.sessions(t), copying(1000, embeddingsCopy...)) {
		select {
		case err := <-done:
			t.Fatalf("the restore ended before its COPY was seen: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no COPY within 60 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the restore did not stop 60 s after Ctrl-C")
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitCancelled {
		t.Errorf("exit %v, want %d\n%s", err, exitCancelled, stderr.String())
	}
	if !strings.Contains(stderr.String(), "CANCELLED") || !saysRolledBack(stderr.String()) {
		t.Errorf("stderr does not say it was cancelled and rolled back:\n%s", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %s", stdout.String())
	}
	waitIdle(t, c.db)
	if pgtest.Dump(t, c.db) != before {
		t.Fatal("the interrupted restore changed the tables")
	}
}
