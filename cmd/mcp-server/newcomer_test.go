package main

// These tests run the built binary as a newcomer did trying the command line
// (issue 16): each thing that confused them, where they found it.

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// offlineCLI is a project with one legacy set, for commands that never reach
// a database (any attempt fails fast: noDatabase).
func offlineCLI(t *testing.T) *cli {
	t.Helper()
	c := &cli{db: noDatabase, p: newProject(t)}
	c.a = sample.Generate(1, []string{"sql", "ddl"}, 5, 8)
	c.p.Write(t, c.a, "vector_bak", cliGlbTS)
	return c
}

// runIn runs the binary in dir with exactly env, and returns stdout, stderr
// and the exit status.
func runIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runServer(t, runOptions{env: env, dir: dir}, args...)
}

// envWithout is the test process's environment without the variables that
// name a database or the server's folders.
func envWithout(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || strings.HasPrefix(name, "VECTOR_") || strings.HasPrefix(name, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// saidOnce checks that a failure reached the person once, as the command's
// own message: no log line repeats it, and no server path is shown.
func saidOnce(t *testing.T, c *cli, what, message, stdout, stderr string) {
	t.Helper()
	if n := strings.Count(stdout+stderr, message); n != 1 {
		t.Errorf("%s: %q printed %d times\nstdout:\n%s\nstderr:\n%s", what, message, n, stdout, stderr)
	}
	if strings.Contains(stderr, "level=") {
		t.Errorf("%s: a log line on stderr:\n%s", what, stderr)
	}
	if strings.Contains(stdout+stderr, c.p.Root) {
		t.Errorf("%s: the server's path %s is shown:\nstdout:\n%s\nstderr:\n%s", what, c.p.Root, stdout, stderr)
	}
}

// TestCLIFailureSaidOnceOffline (issue 16, 1): inspect without its database
// says so once, as a problem of its report; the warning the service logs is
// not printed too, unless --log-level asks for it.
func TestCLIFailureSaidOnceOffline(t *testing.T) {
	c := offlineCLI(t)
	args := []string{"inspect", "--backup-path", cliGlobal, "--timestamp", "latest"}
	stdout, stderr := c.want(t, 1, []string{"Problem: cannot connect to 127.0.0.1:1/none"}, nil, args...)
	saidOnce(t, c, "inspect", "cannot connect to 127.0.0.1:1/none", stdout, stderr)
	_, stderr = c.want(t, 1, nil, []string{"level=WARN"}, append(args, "--log-level", "warn")...)
	if strings.Contains(stderr, noDatabasePassword) {
		t.Errorf("the password is in the log:\n%s", stderr)
	}
}

// TestCLIFailureSaidOnce (issue 16, 1): a restore and a backup that fail say
// so once, in the command's message, with no log line naming the server's
// folders.
func TestCLIFailureSaidOnce(t *testing.T) {
	c := newCLI(t)
	other := pgtest.NewDatabase(t)
	pgtest.Exec(t, other, sample.Default.DDL(httpDim*2)) // another embedding model's dimension
	stdout, stderr := c.want(t, 1, nil, []string{"SCHEMA_MISMATCH"},
		"restore", "--backup-path", cliTask, "--timestamp", cliTaskTS, "--yes", "--database-url", other)
	saidOnce(t, c, "restore", "SCHEMA_MISMATCH", stdout, stderr)

	empty := pgtest.NewDatabase(t) // no tables to back up
	stdout, stderr, code := c.run(t, "backup", "--database-url", empty)
	if code == 0 {
		t.Fatalf("backup of a database without the tables: exit 0\n%s", stdout)
	}
	first, _, _ := strings.Cut(stderr, ":")
	saidOnce(t, c, "backup", first+":", stdout, stderr)
}

// TestCLIUnknownFlag (issue 16, 2): a mistyped flag points to the help of
// the command it was given to, and suggests the flag probably meant.
func TestCLIUnknownFlag(t *testing.T) {
	c := offlineCLI(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"restore", "--backup-path", cliGlobal, "--timestamp", "latest", "--truncate"},
			[]string{"unknown flag: --truncate\n", "Did you mean --truncate-before-restore?", "Run 'mcp-server restore --help' for usage."}},
		{[]string{"restore", "-truncate"}, []string{"Did you mean --truncate-before-restore?", "mcp-server restore --help"}},
		{[]string{"restore", "--backup_path", cliGlobal}, []string{"Did you mean --backup-path?"}},
		{[]string{"restore", "--dry-rn"}, []string{"Did you mean --dry-run?"}},
		{[]string{"inspect", "--timestmap", "latest"}, []string{"Did you mean --timestamp?", "Run 'mcp-server inspect --help'"}},
		{[]string{"list", "--task"}, []string{"Did you mean --task-id?", "Run 'mcp-server list --help'"}},
		// A flag of another command says where it belongs.
		{[]string{"list", "--lock-timeout", "5s"}, []string{"--lock-timeout is a flag of mcp-server, mcp-server restore and mcp-server serve, not of mcp-server list."}},
		{[]string{"--frobnicate"}, []string{"unknown flag: --frobnicate", "Run 'mcp-server --help' for usage."}},
	} {
		_, stderr := c.want(t, 2, nil, tc.want, tc.args...)
		if strings.Contains(stderr, "Run 'mcp-server --help'") && tc.args[0] != "--frobnicate" {
			t.Errorf("mcp-server %s: points to the root's help:\n%s", strings.Join(tc.args, " "), stderr)
		}
	}
	// A name too far from every flag suggests nothing rather than a guess.
	_, stderr := c.want(t, 2, nil, []string{"unknown flag: --colour"}, "list", "--colour")
	if strings.Contains(stderr, "Did you mean") {
		t.Errorf("a suggestion for --colour:\n%s", stderr)
	}
}

// configFlags are every configuration flag, to check that each command's
// help shows those it reads and no other.
var configFlags = []string{"database-url", "project-root", "backup-root", "allow-db-connection", "read-only", "confirm", "log-level",
	"lock-timeout", "keep-snapshots", "http", "auth-token", "allow-origin", "shutdown-grace"}

// helpFlags are the flags a command's --help lists.
func helpFlags(t *testing.T, args ...string) []string {
	t.Helper()
	stdout, stderr, code := runServer(t, runOptions{}, append(args, "--help")...)
	out := stdout + stderr
	if code != 0 {
		t.Fatalf("mcp-server %s --help: exit status %d\n%s", strings.Join(args, " "), code, out)
	}
	var flags []string
	for _, line := range strings.Split(out, "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			flags = append(flags, strings.TrimPrefix(m[1], "--"))
		}
	}
	if strings.Contains(string(out), "Global Flags") {
		t.Errorf("mcp-server %s --help lists global flags:\n%s", strings.Join(args, " "), out)
	}
	return flags
}

// TestCLIHelpShowsUsedFlags (issue 16, 3): each command's help lists the
// configuration flags it reads and no other; schemas and version none. The
// ways flags are written today keep working: before the command's name,
// with one dash, and the connection flags on every operation.
func TestCLIHelpShowsUsedFlags(t *testing.T) {
	operation := []string{"database-url", "project-root", "backup-root", "allow-db-connection", "log-level"}
	for _, tc := range []struct {
		command []string
		want    []string
	}{
		{nil, configFlags},
		{[]string{"serve"}, configFlags},
		{[]string{"list"}, []string{"project-root", "backup-root", "log-level"}},
		{[]string{"inspect"}, operation},
		{[]string{"backup"}, operation},
		{[]string{"restore"}, append(slices.Clone(operation), "confirm", "lock-timeout", "keep-snapshots")},
		{[]string{"schemas"}, nil},
		{[]string{"version"}, nil},
	} {
		got := helpFlags(t, tc.command...)
		for _, f := range configFlags {
			if shown, want := slices.Contains(got, f), slices.Contains(tc.want, f); shown != want {
				t.Errorf("mcp-server %s --help: --%s shown %v, want %v", strings.Join(tc.command, " "), f, shown, want)
			}
		}
		if len(tc.want) == 0 && !slices.Equal(got, []string{"help"}) {
			t.Errorf("mcp-server %s --help: flags %v, want only --help", strings.Join(tc.command, " "), got)
		}
	}

	c := offlineCLI(t)
	listed := "1 set in 1 location"
	for _, args := range [][]string{
		{"--project-root", c.p.Root, "list"}, // before the command's name, as an alias would put them
		{"-project-root", c.p.Root, "list"},  // one dash, as existing MCP host configurations write it
		{"list", "-project-root=" + c.p.Root, "-log-level", "debug"},
		{"--database-url", noDatabase, "--allow-db-connection", "db.internal/vectors", "list"}, // list reads no database, but takes them
	} {
		c.want(t, 0, []string{listed}, nil, args...)
	}
	// restore's own settings reach it: the call fails on its arguments,
	// not on the flags.
	c.want(t, 2, nil, []string{"MISSING_REQUIRED_PARAMS", "backup_path"},
		"restore", "--timestamp", "latest", "--lock-timeout", "5s", "-keep-snapshots", "3", "--confirm", "none", "--database-url", noDatabase)
	c.want(t, 2, nil, []string{"--keep-snapshots must be 0 (keep all) or more"}, "restore", "--keep-snapshots=-1")
	c.want(t, 0, []string{"mcp-server "}, nil, "version")
}

// TestCLIListMissingRoot (issue 16, 4): list where the backup folder does not
// exist says so, naming the folder as the person gave it, and how to point
// the server at the right one. The exit status stays 0 (the tool answers an
// empty list, and a fresh install has no backups); --json still prints the
// tool's result alone on stdout.
func TestCLIListMissingRoot(t *testing.T) {
	dir := t.TempDir() // no data_pipeline/ here
	if err := os.Mkdir(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := envWithout("DATABASE_URL=" + noDatabase)
	hints := []string{"--project-root", "VECTOR_PROJECT_ROOT", "--backup-root", "VECTOR_BACKUP_ROOT"}

	stdout, stderr, code := runIn(t, dir, env, "list")
	if code != 0 || stdout != "" {
		t.Errorf("list: exit %d, stdout %q", code, stdout)
	}
	for _, want := range append([]string{"The backup folder ./data_pipeline/training_data does not exist", "the current folder"}, hints...) {
		if !strings.Contains(stderr, want) {
			t.Errorf("list: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "0 sets") || strings.Contains(stderr, dir) {
		t.Errorf("list: stderr says 0 sets or the absolute folder:\n%s", stderr)
	}

	stdout, stderr, code = runIn(t, dir, env, "list", "--project-root", "app", "--json")
	if m := jsonOut(t, stdout); code != 0 || m["summary"].(map[string]any)["total_backup_sets"] != 0.0 {
		t.Errorf("list --json: exit %d, %v", code, m)
	}
	if !strings.Contains(stderr, "The backup folder ./app/data_pipeline/training_data does not exist") || !strings.Contains(stderr, "(here: app)") {
		t.Errorf("list --project-root app --json: stderr:\n%s", stderr)
	}

	_, stderr, _ = runIn(t, dir, append(env, "VECTOR_BACKUP_ROOT="+filepath.Join(dir, "backups")), "list")
	if !strings.Contains(stderr, "The backup folder "+filepath.Join(dir, "backups")+" does not exist") || !strings.Contains(stderr, "--backup-root") {
		t.Errorf("list with an absolute backup root: stderr:\n%s", stderr)
	}
}

// defaultServerAnswers reports whether a PostgreSQL listens where the driver
// looks when nothing names a database: then no connection fails there.
func defaultServerAnswers() bool {
	for _, sock := range []string{"/var/run/postgresql/.s.PGSQL.5432", "/private/tmp/.s.PGSQL.5432", "/tmp/.s.PGSQL.5432"} {
		if _, err := os.Stat(sock); err == nil {
			return true
		}
	}
	conn, err := net.DialTimeout("tcp", "localhost:5432", time.Second)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

// TestCLINoDatabaseGiven (issue 16, 5): with no --database-url, no
// DATABASE_URL and no PG* variable, a command that needs the database says
// that none was given and how to give one; with any of them, the usual
// "cannot connect".
func TestCLINoDatabaseGiven(t *testing.T) {
	if defaultServerAnswers() {
		t.Skip("a PostgreSQL answers at the driver's default: connecting there does not fail")
	}
	p := newProject(t)
	env := envWithout("VECTOR_PROJECT_ROOT=" + p.Root)
	_, stderr, code := runIn(t, p.Root, env, "backup")
	if code != 1 {
		t.Errorf("backup: exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{"DATABASE_ERROR: no database was given", "--database-url", "DATABASE_URL=postgres://user@host:5432/db", "PGHOST"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("backup: stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, named := range [][]string{{"PGHOST=/nonexistent"}, {"PGDATABASE=vectors"}, {"DATABASE_URL=" + noDatabase}} {
		_, stderr, _ := runIn(t, p.Root, append(slices.Clone(env), named...), "backup")
		if !regexp.MustCompile(`DATABASE_ERROR: cannot connect to `).MatchString(stderr) || strings.Contains(stderr, "no database was given") {
			t.Errorf("backup with %s: stderr:\n%s", named, stderr)
		}
	}
	_, stderr, _ = runIn(t, p.Root, env, "backup", "--database-url", noDatabase)
	if strings.Contains(stderr, "no database was given") {
		t.Errorf("backup --database-url: stderr:\n%s", stderr)
	}
}

// TestCLIListCounts (issue 16, 6): list shows each table's row count from
// the set's manifest (a set this server wrote has no log line) or else the
// folder's log, and its size, under headers that say so.
func TestCLIListCounts(t *testing.T) {
	c := newCLI(t)
	c.want(t, 0, []string{"Restored set " + cliTaskTS}, nil, "restore", "--backup-path", cliTask, "--timestamp", cliTaskTS) // empty tables: nothing to approve
	c.want(t, 0, []string{"Backed up"}, nil, "backup")
	stdout, _ := c.want(t, 0, []string{"TIMESTAMP", "COLLECTION ROWS", "EMBEDDING ROWS", "SIZE", "FOLDER (--backup-path)"}, nil, "list")
	if strings.Contains(stdout, "EMBEDDINGS") {
		t.Errorf("the old header:\n%s", stdout)
	}
	// The new set (manifest, no log line) and the two legacy sets (log
	// lines): every row has its counts, 4 collections and 20 embeddings.
	row := regexp.MustCompile(`(?m)^\d{8}_\d{6} +\S+ \S+ +backup +4 +20 +[\d.]+ [KM]?B +\./data_pipeline/training_data/(\S+)$`)
	var folders []string
	for _, m := range row.FindAllStringSubmatch(stdout, -1) {
		folders = append(folders, m[1])
	}
	slices.Sort(folders)
	if want := []string{"global_vector_bak", "task_20250721_213627/vector_bak", "vector_bak"}; !slices.Equal(folders, want) {
		t.Errorf("rows with both counts in %v, want %v:\n%s", folders, want, stdout)
	}
}
