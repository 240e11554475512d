package restore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
)

// The tests in this file restore while the server speaks another language:
// the line of a row PostgreSQL refuses is read from its error context, which
// lc_messages translates (copyLineOf). scripts/pg.sh compiles the locales
// below for the server it starts.

// lcLanguage is an lc_messages the tests restore under, with PostgreSQL 15's
// own wordings in it (from its message catalogs) that prove the server
// really speaks it.
type lcLanguage struct {
	locale  string
	divZero string // "division by zero"
	line    string // the word for "line" in a COPY error's context
}

var lcLanguages = []lcLanguage{
	{"de_DE.UTF-8", "Division durch Null", "Zeile"},
	{"fr_FR.UTF-8", "division par zéro", "ligne"},
}

// lcUnavailable fails the test in CI and skips it elsewhere: the server
// cannot speak lang (scripts/pg.sh could not compile its locale, or
// PostgreSQL's message catalogs are missing).
func lcUnavailable(t *testing.T, lang lcLanguage, why string) {
	t.Helper()
	msg := fmt.Sprintf("the test server cannot report errors in %s (%s): scripts/test.sh starts it through scripts/pg.sh, which compiles the locale with localedef (see its warning) and needs PostgreSQL's message catalogs (/usr/share/locale/*/LC_MESSAGES/postgres-15.mo)", lang.locale, why)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// divisionByZero is the message a session of conn gets for 1/0.
func divisionByZero(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var n int
	err := conn.QueryRow(context.Background(), "SELECT 1/0").Scan(&n)
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		t.Fatalf("SELECT 1/0: %v, want a division by zero", err)
	}
	return pg.Message
}

// speak makes lang the lc_messages of every new session of the database at
// dbURL (as the restore opens its own), and checks a new session speaks it.
// The test ends (failed in CI, skipped elsewhere) when the server cannot.
func speak(t *testing.T, dbURL string, lang lcLanguage) {
	t.Helper()
	ctx := context.Background()
	probe := pgtest.Connect(t, dbURL)
	if _, err := probe.Exec(ctx, "SELECT set_config('lc_messages', $1, false)", lang.locale); err != nil {
		lcUnavailable(t, lang, err.Error())
	}
	if got := divisionByZero(t, probe); got != lang.divZero {
		lcUnavailable(t, lang, fmt.Sprintf("SELECT 1/0 says %q, not %q", got, lang.divZero))
	}
	pgtest.Exec(t, dbURL, fmt.Sprintf(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %%I SET lc_messages = %%L', current_database(), '%s'); END $$`, lang.locale))

	conn := pgtest.Connect(t, dbURL)
	var lc string
	if err := conn.QueryRow(ctx, "SHOW lc_messages").Scan(&lc); err != nil {
		t.Fatal(err)
	}
	if lc != lang.locale {
		t.Fatalf("a new session has lc_messages %q, want the database's %q", lc, lang.locale)
	}
	if got := divisionByZero(t, conn); got != lang.divZero {
		t.Fatalf("a new session says %q for 1/0, want %q", got, lang.divZero)
	}
}

// TestLcMessagesCopyLine: a row the server refuses during COPY is reported
// by its line in the backup file while the server speaks German or French,
// in binary COPY (a table's check constraint), in text COPY (a domain's
// check, which makes the column's type one the restore sends as text) and
// through the staging table of on_conflict=skip; the tables are unchanged.
func TestLcMessagesCopyLine(t *testing.T) {
	const spoiled = "spoiled row"
	cases := []struct {
		name    string
		ddl     string
		req     restore.Request
		copying string // the table COPY fills, as the context names it
	}{
		{
			name:    "binary COPY",
			ddl:     "ALTER TABLE langchain_pg_embedding ADD CONSTRAINT lc_refuse CHECK (document <> '" + spoiled + "')",
			req:     restore.Request{Truncate: true},
			copying: "langchain_pg_embedding",
		},
		{
			name: "text COPY",
			ddl: "CREATE DOMAIN lc_document AS varchar CHECK (VALUE <> '" + spoiled + "');" +
				"ALTER TABLE langchain_pg_embedding ALTER COLUMN document TYPE lc_document",
			req:     restore.Request{Truncate: true},
			copying: "langchain_pg_embedding",
		},
		{
			name: "text COPY into the staging table",
			ddl: "CREATE DOMAIN lc_document AS varchar CHECK (VALUE <> '" + spoiled + "');" +
				"ALTER TABLE langchain_pg_embedding ALTER COLUMN document TYPE lc_document",
			req:     restore.Request{OnConflict: restore.OnConflictSkip},
			copying: "restore_stage",
		},
	}
	for _, lang := range lcLanguages {
		for _, c := range cases {
			t.Run(lang.locale+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				f := seededFixture(t)
				pgtest.Exec(t, f.db, c.ddl)

				// The row refused is the last but one: rows with line
				// breaks in their documents come before it, so its line in
				// the file is not its number.
				path := f.set.Path(layout.EmbeddingTable)
				recs := embRecords(f.data)
				i := len(recs) - 2
				recs[i][0], recs[i][3] = hostileMarker, spoiled
				writeFile(t, path, pyCSV(recs, "\r\n"))
				if markerLine(t, path) == i+1 {
					t.Fatalf("no multi-line document before the refused row (line %d): the test would not tell lines from records", i+1)
				}

				speak(t, f.db, lang)
				before := pgtest.Dump(t, f.db)
				_, err := f.restore(t, c.req)
				if err == nil {
					t.Fatal("the restore of a set with a refused row succeeded")
				}
				e, ok := apierr.As(err)
				if !ok || e.Type != apierr.BackupCorrupt {
					t.Fatalf("error %v (%T), want %s", err, err, apierr.BackupCorrupt)
				}
				// What copyLineOf read was the translation.
				var pg *pgconn.PgError
				if !errors.As(err, &pg) {
					t.Fatalf("the error %v does not carry PostgreSQL's", err)
				}
				if !strings.Contains(pg.Where, "COPY "+c.copying) || !strings.Contains(pg.Where, lang.line) || strings.Contains(pg.Where, " line ") {
					t.Errorf("PostgreSQL's context %q is not the %s COPY context for %s", pg.Where, lang.locale, c.copying)
				}
				if pg.Code != "23514" || strings.Contains(pg.Message, "violates") {
					t.Errorf("PostgreSQL's error %s %q: want a check violation in %s", pg.Code, pg.Message, lang.locale)
				}
				t.Logf("PostgreSQL: %s (%s); reported: %s", pg.Message, pg.Where, e.Message)
				wantLine(t, e, path)
				if e.Details["reason"] != pg.Message {
					t.Errorf("reason %v, want PostgreSQL's message %q", e.Details["reason"], pg.Message)
				}
				if after := pgtest.Dump(t, f.db); after != before {
					t.Error("tables changed by a failed restore")
				}
			})
		}
	}
}
