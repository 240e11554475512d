package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// The sets layOut writes, relative to the project root.
var sampleSets = []string{
	"data_pipeline/training_data/vector_bak/langchain_pg_embedding_20250722_010318.csv",
	"data_pipeline/training_data/global_vector_bak/langchain_pg_embedding_20250722_010318.csv",
	"data_pipeline/training_data/task_20250721_213627/vector_bak/langchain_pg_embedding_20250721_215758.csv",
	"data_pipeline/training_data/manual_20250722_101500/vector_bak/langchain_pg_embedding_20250722_101500.csv",
}

// someonesTables creates the LangChain tables in db with rows that are not
// mcp-demo's: what a real project's database holds.
func someonesTables(t *testing.T, db string) {
	t.Helper()
	pgtest.Exec(t, db, sample.Default.DDL(dim)+`
		INSERT INTO langchain_pg_collection (uuid, name) VALUES ('11111111-1111-4111-8111-111111111111', 'real');
		INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
		VALUES ('real-1', '11111111-1111-4111-8111-111111111111', '[1,2,3,4,5,6,7,8]', 'real work', '{"keep": true}');`)
}

func dbName(t *testing.T, db string) string {
	t.Helper()
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func mark(t *testing.T, db string) {
	t.Helper()
	pgtest.Exec(t, db, "COMMENT ON DATABASE "+pgx.Identifier{dbName(t, db)}.Sanitize()+
		" IS 'created by mcp-demo: sample data; mcp-demo may drop and recreate its LangChain tables'")
}

func embeddingIDs(t *testing.T, db string) string {
	t.Helper()
	var ids string
	err := pgtest.Connect(t, db).QueryRow(context.Background(),
		"SELECT coalesce(string_agg(id, ',' ORDER BY id), '') FROM langchain_pg_embedding").Scan(&ids)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A database mcp-demo did not make that holds the tables: the preparation
// refuses, names the database (never the password), and changes nothing,
// neither the rows nor the project folder.
func TestPrepareRefusesUnmarkedDatabaseWithTables(t *testing.T) {
	db := pgtest.NewDatabase(t)
	someonesTables(t, db)
	before := pgtest.Dump(t, db)

	// The test server trusts loopback, so a password in the URL is ignored
	// by the server, and must not reach the message either.
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "s3cret-pw")
	project := filepath.Join(t.TempDir(), "project")

	err = prepare(context.Background(), project, u.String())
	if err == nil {
		t.Fatal("prepare succeeded in a database without the mark that holds the tables")
	}
	msg := err.Error()
	t.Logf("refusal: %s", msg)
	for _, want := range []string{"refusing", `"` + dbName(t, db) + `"`, "langchain_pg_collection and langchain_pg_embedding", demoMark, "COMMENT ON DATABASE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Errorf("the refusal shows the password: %s", msg)
	}
	if after := pgtest.Dump(t, db); after != before {
		t.Errorf("the tables changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := os.Lstat(project); !os.IsNotExist(err) {
		t.Errorf("the project folder was written (%v)", err)
	}
}

// Only one of the two tables is enough to refuse.
func TestPrepareRefusesUnmarkedDatabaseWithOneTable(t *testing.T) {
	db := pgtest.NewDatabase(t)
	pgtest.Exec(t, db, "CREATE TABLE langchain_pg_collection (uuid uuid PRIMARY KEY, name varchar)")
	err := prepare(context.Background(), filepath.Join(t.TempDir(), "project"), db)
	if err == nil || !strings.Contains(err.Error(), "refusing to drop or change langchain_pg_collection in") {
		t.Fatalf("prepare: %v, want a refusal naming langchain_pg_collection", err)
	}
}

// With the mark, the preparation replaces the tables with its bad
// retraining and writes the sample project.
func TestPrepareReplacesTablesInMarkedDatabase(t *testing.T) {
	db := pgtest.NewDatabase(t)
	someonesTables(t, db)
	mark(t, db)
	project := filepath.Join(t.TempDir(), "project")

	if err := prepare(context.Background(), project, db); err != nil {
		t.Fatalf("prepare in a marked database: %v", err)
	}
	if got, want := embeddingIDs(t, db), "bad-1,bad-2,bad-3"; got != want {
		t.Errorf("embeddings after prepare: %s, want %s", got, want)
	}
	for _, f := range sampleSets {
		if _, err := os.Stat(filepath.Join(project, f)); err != nil {
			t.Errorf("sample set missing: %v", err)
		}
	}
	// Again, into a new project: the marked database is the demo's to reset.
	if err := prepare(context.Background(), filepath.Join(t.TempDir(), "project"), db); err != nil {
		t.Fatalf("prepare again in a marked database: %v", err)
	}
	if got, want := embeddingIDs(t, db), "bad-1,bad-2,bad-3"; got != want {
		t.Errorf("embeddings after a second prepare: %s, want %s", got, want)
	}
}

// A database without the mark and without the tables: nothing to destroy,
// so the tables are created; once they exist, the next run refuses.
func TestPrepareCreatesTablesInEmptyUnmarkedDatabase(t *testing.T) {
	db := pgtest.NewDatabase(t)
	if err := prepare(context.Background(), filepath.Join(t.TempDir(), "project"), db); err != nil {
		t.Fatalf("prepare in an empty database: %v", err)
	}
	if got, want := embeddingIDs(t, db), "bad-1,bad-2,bad-3"; got != want {
		t.Errorf("embeddings after prepare: %s, want %s", got, want)
	}
	before := pgtest.Dump(t, db)
	err := prepare(context.Background(), filepath.Join(t.TempDir(), "project"), db)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("second prepare in the unmarked database: %v, want a refusal", err)
	}
	if after := pgtest.Dump(t, db); after != before {
		t.Errorf("the refused run changed the tables")
	}
}

// A project folder that already has a backup root is never written over,
// and the database is left alone too.
func TestPrepareRefusesExistingBackupRoot(t *testing.T) {
	db := pgtest.NewDatabase(t)
	someonesTables(t, db)
	mark(t, db)
	before := pgtest.Dump(t, db)
	project := t.TempDir()
	own := filepath.Join(project, "data_pipeline", "training_data", "vector_bak", "langchain_pg_embedding_20250722_010318.csv")
	if err := os.MkdirAll(filepath.Dir(own), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, []byte("the project's own backup\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	err := prepare(context.Background(), project, db)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("prepare over an existing backup root: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(own); string(b) != "the project's own backup\n" {
		t.Errorf("the project's own backup was overwritten: %q", b)
	}
	if after := pgtest.Dump(t, db); after != before {
		t.Errorf("the tables changed although the project was refused")
	}
}

// The comment the scripts set must be the one the Go code looks for.
func TestScriptsMarkWithDemoMark(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "scripts", "pg.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "PG_DEMO_MARK='"+demoMark) {
		t.Errorf("scripts/pg.sh's PG_DEMO_MARK does not start with %q", demoMark)
	}
	for _, script := range []string{"demo.sh", "sample-db.sh"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "scripts", script))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "pg_create_demo_db ") {
			t.Errorf("scripts/%s does not create its database with pg_create_demo_db", script)
		}
	}
}
