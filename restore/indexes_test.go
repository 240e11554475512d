package restore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

const indexDim = 16

// vectorIndexDDL gives the embedding table the vector indexes production
// tables carry: HNSW with parameters, IVFFlat, an HNSW on a halfvec
// expression, a partial one, one with a comment, and one in another
// tablespace is not possible without a server folder, so the default
// tablespace stands for it.
const vectorIndexDDL = `
CREATE INDEX emb_hnsw ON langchain_pg_embedding USING hnsw (embedding vector_cosine_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX emb_ivf ON langchain_pg_embedding USING ivfflat (embedding vector_l2_ops) WITH (lists = 4);
CREATE INDEX "Emb Half" ON langchain_pg_embedding USING hnsw ((embedding::halfvec(16)) halfvec_ip_ops);
CREATE INDEX emb_partial ON langchain_pg_embedding USING hnsw (embedding vector_l2_ops) WHERE document IS NOT NULL;
COMMENT ON INDEX emb_hnsw IS 'the app''s main index';
`

// indexDefs is every index of the embedding table: name → definition, with
// its comment.
func indexDefs(t *testing.T, db string) map[string]string {
	t.Helper()
	out := map[string]string{}
	rows := queryRows(t, db, `
		SELECT i.relname, pg_get_indexdef(i.oid) || ' -- ' || coalesce(obj_description(i.oid, 'pg_class'), '')
			|| ' valid=' || x.indisvalid
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		WHERE x.indrelid = 'langchain_pg_embedding'::regclass`)
	for _, r := range rows {
		out[r[0]] = r[1]
	}
	return out
}

func newIndexedEnv(t *testing.T) (*featEnv, *sample.Dataset) {
	t.Helper()
	e := newFeatEnv(t, sample.Default, indexDim)
	names := []string{"sql", "ddl", "documentation"}
	e.load(t, sample.Generate(1, names, 40, indexDim))
	pgtest.Exec(t, e.db, vectorIndexDDL)
	return e, sample.Generate(2, names, 60, indexDim)
}

// TestTruncateRebuildsVectorIndexes: a truncating restore drops the table's
// pgvector indexes, loads, and builds them again: afterwards every index is
// there with its definition byte for byte (name, method, operator class,
// parameters, expression, predicate, comment), valid, and the plan named
// them first.
func TestTruncateRebuildsVectorIndexes(t *testing.T) {
	e, data := newIndexedEnv(t)
	before := indexDefs(t, e.db)
	if len(before) < 6 {
		t.Fatalf("set-up: indexes %v", before)
	}
	set := e.legacy(t, data, "task_idx")

	plan, _ := e.plan(t, restore.Request{Set: set, Truncate: true})
	want := []string{`"Emb Half"`, "emb_hnsw", "emb_ivf", "emb_partial"}
	if got := slices.Sorted(slices.Values(plan.Indexes)); !slices.Equal(got, want) {
		t.Errorf("plan rebuilds %v, want %v", got, want)
	}

	var phases []string
	res := e.mustRun(t, restore.Request{Set: set, Truncate: true,
		IndexMemory:   "64MB",
		IndexProgress: func(index, phase string, done, total int64) { phases = append(phases, index+": "+phase) },
	})
	if got := slices.Sorted(slices.Values(res.Indexes)); !slices.Equal(got, want) {
		t.Errorf("restore rebuilt %v, want %v", got, want)
	}
	after := indexDefs(t, e.db)
	for name, def := range before {
		if after[name] != def {
			t.Errorf("index %s after the restore:\n got %s\nwant %s", name, after[name], def)
		}
	}
	if len(after) != len(before) {
		t.Errorf("indexes after %v, before %v", after, before)
	}
	if len(phases) < len(want) {
		t.Errorf("progress reported %v, want a phase per index", phases)
	}
	if n := queryInt(t, e.db, "SELECT count(*) FROM langchain_pg_embedding"); n != int64(len(data.Embeddings)) {
		t.Errorf("%d embeddings, want %d", n, len(data.Embeddings))
	}
	// The rebuilt HNSW index answers a nearest-neighbour query.
	conn := pgtest.Connect(t, e.db)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "EXPLAIN SELECT id FROM langchain_pg_embedding ORDER BY embedding <=> (SELECT embedding FROM langchain_pg_embedding LIMIT 1) LIMIT 3")
	if err != nil {
		t.Fatal(err)
	}
	text, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !strings.Contains(strings.Join(text, "\n"), "emb_hnsw") {
		t.Errorf("the rebuilt index is not used (%v):\n%s", err, strings.Join(text, "\n"))
	}
}

// TestIndexRebuildFailuresLeaveEverything: a bad row in the load, a cancel
// while an index builds, and a build refused by the server each roll the
// restore back: the rows and every index definition are as they were.
func TestIndexRebuildFailuresLeaveEverything(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *featEnv, req restore.Request) error
		want apierr.Type
	}{
		{
			name: "bad row",
			run: func(t *testing.T, e *featEnv, req restore.Request) error {
				replaceInLastRows(t, req.Set.Path(layout.EmbeddingTable), "[", "[oops,")
				_, err := e.run(t, req)
				return err
			},
			want: apierr.BackupCorrupt,
		},
		{
			name: "cancel during the build",
			run: func(t *testing.T, e *featEnv, req restore.Request) error {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req.IndexProgress = func(index, phase string, done, total int64) {
					if index == "emb_ivf" {
						cancel()
					}
				}
				_, err := restore.Run(ctx, pgtest.Connect(t, e.db), req)
				return err
			},
			want: apierr.Cancelled,
		},
		{
			name: "build fails",
			run: func(t *testing.T, e *featEnv, req restore.Request) error {
				// A component beyond half precision's range loads as a
				// vector, then fails the halfvec expression index's build.
				path := req.Set.Path(layout.EmbeddingTable)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				vectors := regexp.MustCompile(`"\[-?[0-9][^,\]]*,`).FindAllIndex(b, -1)
				if len(vectors) == 0 {
					t.Fatal("no vector in the file")
				}
				last := vectors[len(vectors)-1]
				i, j := last[0]+2, last[1]-1
				b = slices.Concat(b[:i], []byte("1000000"), b[j:])
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				_, err = e.run(t, req)
				if err != nil && !strings.Contains(err.Error(), "Emb Half") {
					t.Errorf("the error does not name the index that failed: %v", err)
				}
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, data := newIndexedEnv(t)
			set := e.legacy(t, data, "task_idx")
			beforeDefs, beforeRows := indexDefs(t, e.db), e.dump(t)
			err := tt.run(t, e, restore.Request{Set: set, Truncate: true})
			if err == nil {
				t.Fatal("the restore succeeded")
			}
			if tt.want != "" && apierr.TypeOf(err) != tt.want {
				t.Errorf("error %v, want %s", err, tt.want)
			}
			if !errors.Is(err, context.Canceled) && tt.want == apierr.Cancelled {
				t.Logf("cancelled: %v", err)
			}
			if got := indexDefs(t, e.db); !mapsEqual(got, beforeDefs) {
				t.Errorf("indexes after a failed restore:\n got %v\nwant %v", got, beforeDefs)
			}
			if e.dump(t) != beforeRows {
				t.Error("a failed restore changed the rows")
			}
		})
	}
}

// TestOnlineKeepsVectorIndexes: an online restore leaves the indexes in
// place (readers use them) and its plan rebuilds none.
func TestOnlineKeepsVectorIndexes(t *testing.T) {
	e, data := newIndexedEnv(t)
	before := indexDefs(t, e.db)
	set := e.legacy(t, data, "task_idx")
	plan, _ := e.plan(t, restore.Request{Set: set, Truncate: true, Online: true})
	if len(plan.Indexes) != 0 {
		t.Errorf("an online plan rebuilds %v", plan.Indexes)
	}
	res := e.mustRun(t, restore.Request{Set: set, Truncate: true, Online: true})
	if len(res.Indexes) != 0 {
		t.Errorf("an online restore rebuilt %v", res.Indexes)
	}
	if got := indexDefs(t, e.db); !mapsEqual(got, before) {
		t.Errorf("indexes after an online restore:\n got %v\nwant %v", got, before)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// queryRows runs sql in db and returns its rows as text.
func queryRows(t *testing.T, db, sql string) [][]string {
	t.Helper()
	rows, err := pgtest.Connect(t, db).Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func queryInt(t *testing.T, db, sql string) int64 {
	t.Helper()
	var n int64
	if err := pgtest.Connect(t, db).QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func dbName(t *testing.T, db string) string {
	t.Helper()
	var name string
	if err := pgtest.Connect(t, db).QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}
