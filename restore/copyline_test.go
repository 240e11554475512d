package restore

import "testing"

// TestCopyLineOf: the COPY line is read from PostgreSQL's context whatever
// the server's lc_messages (the translations below are PostgreSQL 15's own,
// from its message catalogs), whatever digits the table's name holds, and
// under a trigger's context lines.
func TestCopyLineOf(t *testing.T) {
	const table = "langchain_pg_embedding"
	for _, c := range []struct {
		where, table string
		want         int64
	}{
		{"COPY langchain_pg_embedding, line 3, column embedding: \"[1,2]\"", table, 3},
		{"COPY langchain_pg_embedding, Zeile 17, Spalte embedding", table, 17},
		{"COPY langchain_pg_embedding, ligne 4, colonne cmetadata", table, 4},
		{"langchain_pg_embeddingのCOPY、行 1001、列 embedding", table, 1001},
		{"COPY restore_stage2, line 9", "restore_stage2", 9},
		{"PL/pgSQL function fault_pause() line 3 at PERFORM\nCOPY langchain_pg_embedding, line 250", table, 250},
	} {
		got, ok := copyLineOf(c.where, c.table)
		if !ok || got != c.want {
			t.Errorf("copyLineOf(%q) = %d, %v; want %d", c.where, got, ok, c.want)
		}
	}
	if _, ok := copyLineOf("SQL statement \"SELECT 1\"", table); ok {
		t.Error("a context without COPY gave a line")
	}
}
