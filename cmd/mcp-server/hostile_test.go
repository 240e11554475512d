//go:build linux

package main

// These tests run the operator commands on sets whose names, keys, headers
// and documents hold control characters, as a hostile backup file could:
// on a terminal nothing of them may act (clear the screen, set the
// clipboard, reorder the text, start a line), and the commands the CLI
// prints must parse back to exactly the names.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// cliHostileNames are collection names with a screen clear and a fake
// plan, a clipboard write (OSC 52), a CR LF and a line that reads as the
// plan's, a right-to-left override, a line separator and a C1 CSI.
var cliHostileNames = []string{
	"sql",
	"clear\x1b[2J\x1b[HRestore of set 1 will: nothing",
	"clip\x1b]52;c;ZWNobyBldmls\x07",
	"two\r\nNothing else changes; no rows are deleted.",
	"rtl\u202eedoc.exe",
	"sep\u2028x",
	"c1\u009b2J",
}

// cliHostileEscaped is how the CLI must show each of them.
var cliHostileEscaped = []string{
	"sql",
	`clear\x1b[2J\x1b[HRestore of set 1 will: nothing`,
	`clip\x1b]52;c;ZWNobyBldmls\x07`,
	`two\r\nNothing else changes; no rows are deleted.`,
	`rtl\u202eedoc.exe`,
	`sep\u2028x`,
	`c1\u009b2J`,
}

const (
	cliHostileFolder  = "task_evil\x1b]52;c;aGk=\x07\r\nNothing else changes"
	cliHostileShown   = `task_evil\x1b]52;c;aGk=\x07\r\nNothing else changes/vector_bak`
	cliHostileTS      = "20250730_120000"
	cliHostileID      = "id\x1b]52;c;aWQ=\x07\u202e"
	cliHostileIDShown = `id\x1b]52;c;aWQ=\x07\u202e`
)

// rawData are sequences of the hostile data that must never reach the
// terminal raw.
var rawData = []string{"\x1b[2J", "\x1b[H", "\x1b]52", "\x07", "\u202e", "\u2028", "\u009b"}

// wantShownAsData fails when out holds any of the data's sequences raw, or
// a line the data would have started, or lacks one of the escaped forms.
func wantShownAsData(t *testing.T, what, out string, escaped ...string) {
	t.Helper()
	for _, raw := range rawData {
		if strings.Contains(out, raw) {
			t.Errorf("%s: the terminal got %q raw:\n%q", what, raw, out)
		}
	}
	// On a terminal every line ends CR LF; the data's own CR LF is the one
	// that would start a line with its text.
	for _, line := range regexp.MustCompile(`\r?\n`).Split(out, -1) {
		if strings.HasPrefix(strings.TrimSpace(line), "Nothing else changes") {
			t.Errorf("%s: a line the data wrote: %q", what, line)
		}
	}
	for _, e := range escaped {
		if !strings.Contains(out, e) {
			t.Errorf("%s: lacks %s:\n%s", what, e, out)
		}
	}
}

// hostileCLI is a database and a project with the hostile set in a task
// folder with a hostile name, its embedding's documents hostile too, and
// the same set with a hostile column name in its header.
func hostileCLI(t *testing.T) (*cli, string) {
	t.Helper()
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: httpDim})
	c := &cli{db: p.DB, p: p}
	d := sample.Generate(21, cliHostileNames, 2, httpDim)
	d.Embeddings[0].ID = cliHostileID
	for i := range d.Embeddings {
		doc := "doc\x1b[2J\r\nNothing else changes\u202e"
		d.Embeddings[i].Document = &doc
	}
	c.p.Write(t, d, cliHostileFolder+"/vector_bak", cliHostileTS)
	c.p.Write(t, d, "task_header/vector_bak", cliHostileTS)
	emb := filepath.Join(c.p.Backups, "task_header/vector_bak/langchain_pg_embedding_"+cliHostileTS+".csv")
	b, err := os.ReadFile(emb)
	if err != nil {
		t.Fatal(err)
	}
	header := "id,collection_id,embedding,document,cmetadata\r\n"
	if !strings.HasPrefix(string(b), header) {
		t.Fatalf("unexpected header in %s", b[:60])
	}
	b = append([]byte("id,collection_id,embedding,document,\"cm\x1b[2J\r\nNothing else changes\"\r\n"), b[len(header):]...)
	if err := os.WriteFile(emb, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return c, "./data_pipeline/training_data/" + cliHostileFolder + "/vector_bak"
}

// TestCLIHostileNames runs list, inspect, restore and their errors on a
// pseudo-terminal over the hostile set: every name, key, folder and column
// is shown escaped, and a restore's question comes after the real plan.
func TestCLIHostileNames(t *testing.T) {
	c, path := hostileCLI(t)

	out, code := c.onTerminal(t, []string{"list"}, "", "")
	if code != 0 {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	wantShownAsData(t, "list", out, cliHostileShown)
	if strings.Contains(out, "\x1b") {
		t.Errorf("list wrote an escape sequence: %q", out)
	}

	c.want(t, 0, nil, nil, "restore", "--backup-path", path, "--timestamp", cliHostileTS) // into empty tables: nothing to approve
	pgtest.Exec(t, c.db, "DELETE FROM langchain_pg_embedding WHERE id = '"+cliHostileID+"'")

	out, code = c.onTerminal(t, []string{"inspect", "--backup-path", path, "--timestamp", cliHostileTS, "--truncate-before-restore", "--diff"}, "", "")
	if code != 0 {
		t.Fatalf("inspect: exit %d\n%s", code, out)
	}
	wantShownAsData(t, "inspect", out, append(cliHostileEscaped, cliHostileShown, "e.g. deleted since (a restore adds them back): "+cliHostileIDShown)...)
	if strings.Contains(out, "\x1b") {
		t.Errorf("inspect wrote an escape sequence: %q", out)
	}

	out, code = c.onTerminal(t, []string{"inspect", "--backup-path", "./data_pipeline/training_data/task_header/vector_bak", "--timestamp", cliHostileTS}, "", "")
	if code != 1 {
		t.Errorf("inspect of a set with a hostile column: exit %d\n%s", code, out)
	}
	wantShownAsData(t, "inspect, hostile column", out, `cm\x1b[2J\r\nNothing else changes`)

	// Errors carry the caller's text: a path, a flag.
	out, code = c.onTerminal(t, []string{"inspect", "--backup-path", "./data_pipeline/training_data/nope\x1b]52;c;aGk=\x07\u202e", "--timestamp", "latest"}, "", "")
	if code != exitNotFound {
		t.Errorf("inspect of a missing folder: exit %d\n%s", code, out)
	}
	wantShownAsData(t, "error", out, `nope\x1b]52;c;aGk=\x07\u202e`)
	out, code = c.onTerminal(t, []string{"list", "--\x1b[2Jx"}, "", "")
	if code != exitUsage {
		t.Errorf("unknown flag: exit %d\n%s", code, out)
	}
	wantShownAsData(t, "flag error", out, `\x1b[2Jx`)

	before := pgtest.Dump(t, c.db)
	out, code = c.onTerminal(t, []string{"restore", "--backup-path", path, "--timestamp", cliHostileTS, "--truncate-before-restore"}, "[y/N]", "n\n")
	if code != exitRefused {
		t.Errorf("declined restore: exit %d\n%s", code, out)
	}
	plan := []string{"- langchain_pg_embedding: delete 13 rows, write 14 rows"}
	for _, e := range cliHostileEscaped[1:] {
		plan = append(plan, `  - collection "`+strings.ReplaceAll(e, `"`, `\"`)+`": `)
	}
	wantShownAsData(t, "restore question", out, plan...)
	question := strings.Index(out, "Approve this restore? [y/N]")
	if question < 0 {
		t.Fatalf("no question:\n%s", out)
	}
	for _, p := range plan {
		if i := strings.Index(out, p); i < 0 || i > question {
			t.Errorf("%q is not shown before the question:\n%s", p, out)
		}
	}
	if pgtest.Dump(t, c.db) != before {
		t.Fatal("a declined restore changed the tables")
	}

	stdout, stderr, code := c.run(t, "restore", "--backup-path", path, "--timestamp", cliHostileTS, "--truncate-before-restore", "--yes")
	if code != 0 {
		t.Fatalf("restore --yes: exit %d\n%s%s", code, stdout, stderr)
	}
	wantShownAsData(t, "restore", stdout+stderr, cliHostileShown, "To undo:")

	stdout, _, code = c.run(t, "inspect", "--backup-path", path, "--timestamp", cliHostileTS, "--json")
	if code != 0 {
		t.Fatalf("inspect --json: exit %d", code)
	}
	wantShownAsData(t, "inspect --json", stdout)
	got := map[string]bool{}
	for _, col := range jsonOut(t, stdout)["collections"].([]any) {
		got[col.(map[string]any)["name"].(string)] = true
	}
	for _, name := range cliHostileNames {
		if !got[name] {
			t.Errorf("inspect --json lacks the collection %q exactly: %v", name, got)
		}
	}
}

// TestCLIDryRun: a dry run's readable output says first that nothing was
// changed, and words its table as what a restore would do.
func TestCLIDryRun(t *testing.T) {
	c := newCLI(t)
	c.want(t, 0, nil, nil, "restore", "--backup-path", cliTask, "--timestamp", cliTaskTS)
	before := pgtest.Dump(t, c.db)
	stdout, _ := c.want(t, 0, []string{"WOULD DELETE", "WOULD RESTORE", "would do this"}, nil,
		"restore", "--backup-path", cliGlobal, "--timestamp", cliGlbTS, "--truncate-before-restore", "--dry-run")
	if !strings.HasPrefix(stdout, "Dry run: nothing was changed.\n") || strings.Contains(stdout, "Restored") || strings.Contains(stdout, "To undo") {
		t.Errorf("dry run output:\n%s", stdout)
	}
	if !regexp.MustCompile(`langchain_pg_embedding +20 +20 `).MatchString(stdout) {
		t.Errorf("the dry run does not say 20 embeddings would be deleted and 20 restored:\n%s", stdout)
	}
	if pgtest.Dump(t, c.db) != before {
		t.Fatal("a dry run changed the tables")
	}
}

// TestCLIUndoOddNames restores collections whose names hold a comma, a
// quote, a leading quote and control characters (given by repeating
// --collections and quoting as the flag reads), then runs the undo command
// it printed through bash, as a person pastes it: it puts back exactly the
// rows the restore replaced.
func TestCLIUndoOddNames(t *testing.T) {
	names := []string{"a,b", `q"uote`, "sql", "two\r\nx\x1b[2J", `"lead`}
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: httpDim})
	c := &cli{db: p.DB, p: p}
	c.a = sample.Generate(31, names, 3, httpDim)
	c.b = c.a.Later(32)
	c.p.Write(t, c.a, "task_20250721_213627/vector_bak", cliTaskTS)
	c.p.Write(t, c.b, "vector_bak", cliGlbTS)
	c.want(t, 0, nil, nil, "restore", "--backup-path", cliTask, "--timestamp", cliTaskTS)
	before := pgtest.Dump(t, c.db)

	stdout, _ := c.want(t, 0, []string{"Restored set " + cliGlbTS, "To undo:"}, nil, "restore", "--backup-path", cliGlobal, "--timestamp", cliGlbTS,
		"--collections", `"a,b"`, "--collections", `q"uote,"""lead"`, "--collections", "two\r\nx\x1b[2J", "--yes")
	if pgtest.Dump(t, c.db) == before {
		t.Fatal("the restore changed nothing")
	}
	if strings.Contains(stdout, "\x1b") || strings.Contains(stdout, "\r") {
		t.Errorf("raw control characters in the output: %q", stdout)
	}
	undo := regexp.MustCompile(`(?m)^  (mcp-server restore .*)$`).FindStringSubmatch(stdout)
	if undo == nil {
		t.Fatalf("no undo command in:\n%s", stdout)
	}
	for _, want := range []string{`--collections '"a,b"'`, `--collections 'q"uote'`, `--collections $'two\r\nx\x1b[2J'`, `--collections '"""lead"'`} {
		if !strings.Contains(undo[1], want) {
			t.Errorf("the undo lacks %s: %s", want, undo[1])
		}
	}
	if strings.Contains(undo[1], "--collections sql") {
		t.Errorf("the undo restores a collection the restore did not touch: %s", undo[1])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", undo[1])
	cmd.Env = serverEnv(c.db, c.p.Root, "PATH="+filepath.Dir(serverBinary(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Restored set") {
		t.Fatalf("the printed undo failed: %v\n%s", err, out)
	}
	if pgtest.Dump(t, c.db) != before {
		t.Error("the printed undo did not put back exactly the rows the restore replaced")
	}
}
