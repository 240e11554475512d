package backupfile_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// embeddingColumns maps columns the way inspect and restore do for
// LangChain's embedding table with jsonb metadata.
func embeddingColumns(name string) (backupfile.Column, error) {
	switch name {
	case "cmetadata":
		return backupfile.Column{Kind: backupfile.JSONB}, nil
	case "embedding":
		return backupfile.Column{Kind: backupfile.Vector}, nil
	case "collection_id":
		return backupfile.Column{Kind: backupfile.UUID}, nil
	}
	return backupfile.Column{}, nil
}

const embeddingHeader = "id,collection_id,embedding,document,cmetadata\r\n"

// goodRow is a valid embedding row, ending in CRLF.
func goodRow(id string) string {
	return id + ",a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,\"[0.1,-0.2,0.3]\",doc," + `"{'source': 'x'}"` + "\r\n"
}

// openText writes content to a file and opens it.
func openText(t *testing.T, content string) store.Object {
	t.Helper()
	path := filepath.Join(t.TempDir(), "langchain_pg_embedding_20250721_215758.csv")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return object(t, f)
}

// object is an open file as a store.Object.
func object(t testing.TB, f *os.File) store.Object {
	t.Helper()
	obj, err := store.OpenFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// wantCorrupt checks that err is BACKUP_CORRUPT naming the line, with every
// one of inMsg in its message.
func wantCorrupt(t *testing.T, err error, line int, inMsg ...string) *apierr.Error {
	t.Helper()
	e, ok := apierr.As(err)
	if !ok || e.Type != apierr.BackupCorrupt {
		t.Fatalf("error %v (%T), want BACKUP_CORRUPT", err, err)
	}
	if e.Details["line"] != line {
		t.Errorf("line %v, want %d: %s", e.Details["line"], line, e.Message)
	}
	for _, s := range append(inMsg, "line "+strconv.Itoa(line)) {
		if !strings.Contains(e.Message, s) {
			t.Errorf("message %q does not mention %q", e.Message, s)
		}
	}
	var re *backupfile.RowError
	if errors.As(err, &re) {
		t.Errorf("%v is a *RowError, but the reader cannot go on past it", err)
	}
	return e
}

// TestRowWithExtraFields: a row with more fields than the header ends the
// file at its first extra field, and says so with its line, again on every
// later call (never io.EOF, which would pass a cut-short file as whole).
func TestRowWithExtraFields(t *testing.T) {
	f := openText(t, embeddingHeader+goodRow("1")+"2,\"a\r\nb\",x,y,z,extra,"+strings.Repeat("w", 1<<20)+"\r\n"+goodRow("3"))
	r, err := backupfile.Open(context.Background(), f, embeddingColumns)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	e := wantCorrupt(t, err, 3, "at least 6 fields", "header has 5")
	if e.Details["limit"] != 5 {
		t.Errorf("limit %v, want 5", e.Details["limit"])
	}
	if r.Offset() > 64<<10 {
		t.Errorf("read %d bytes, want to stop at the extra field, before its 1 MiB", r.Offset())
	}
	if _, again := r.Next(); apierr.MessageOf(again) != apierr.MessageOf(err) {
		t.Errorf("next call: %v, want the same error", again)
	}
	if got := r.Records(); got != 1 {
		t.Errorf("Records = %d, want 1", got)
	}
}

// TestRowWithFewerFields: a short row is a row error the reader goes on
// past, as before.
func TestRowWithFewerFields(t *testing.T) {
	f := openText(t, embeddingHeader+"1,x\r\n"+goodRow("2"))
	r, err := backupfile.Open(context.Background(), f, embeddingColumns)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	var re *backupfile.RowError
	if !errors.As(err, &re) || re.Line != 2 || !strings.Contains(re.Reason, "row has 2 fields, the header has 5") {
		t.Fatalf("error %v, want a row error for line 2", err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatalf("the row after: %v", err)
	}
}

func TestHeaderLimits(t *testing.T) {
	tests := []struct {
		name   string
		header string
		inMsg  []string
	}{
		{"too many columns", strings.Repeat("c,", 5000) + "c\r\n", []string{"too many fields", "more than 4096"}},
		{"a column name too long", "id,\"" + strings.Repeat("n", 200<<10) + "\"\r\n", []string{"over the 128 KiB limit"}},
		{"a header too long", strings.Repeat(strings.Repeat("n", 100)+",", 2000) + "id\r\n", []string{"over the 128 KiB limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backupfile.Open(context.Background(), openText(t, tt.header+goodRow("1")), backupfile.AllText)
			wantCorrupt(t, err, 1, tt.inMsg...)
		})
	}
}

// TestValueLimits: a JSON value or a vector over a bound is a row error
// naming its column and the limit; the reader goes on.
func TestValueLimits(t *testing.T) {
	var dict strings.Builder
	dict.WriteString(`"{`)
	for i := range 100_001 {
		dict.WriteString("'k" + strconv.Itoa(i) + "': 1, ")
	}
	dict.WriteString(`}"`)
	vector := `"[` + strings.Repeat("0,", 20000) + `0]"`
	rawControl := `"'` + strings.Repeat("\x01", 1000) + `'"`
	tests := []struct {
		name, row, column, reason string
	}{
		{"a dict of too many keys", "1,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,\"[1]\",d," + dict.String() + "\r\n",
			"cmetadata", "JSON value over a limit: more than 100000 keys and items"},
		{"a JSON form too long", "1,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,\"[1]\",d," + rawControl + "\r\n",
			"cmetadata", "JSON value over a limit: its JSON form would be longer than twice the value plus 64 bytes"},
		{"a vector of too many dimensions", "1,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11," + vector + ",d,{}\r\n",
			"embedding", "vector has more than pgvector's 16000 dimensions"},
	}
	for _, tt := range tests {
		for _, binary := range []bool{false, true} {
			t.Run(tt.name+"/binary="+strconv.FormatBool(binary), func(t *testing.T) {
				r, err := backupfile.Open(context.Background(), openText(t, embeddingHeader+tt.row+goodRow("2")), embeddingColumns)
				if err != nil {
					t.Fatal(err)
				}
				if binary {
					r.EncodeBinary()
				}
				_, err = r.Next()
				var re *backupfile.RowError
				if !errors.As(err, &re) || re.Line != 2 || re.Column != tt.column || re.Reason != tt.reason {
					t.Fatalf("error %v, want line 2, column %s: %s", err, tt.column, tt.reason)
				}
				e := wantCorrupt(t, r.Corrupt(err), 2, tt.column, tt.reason)
				if e.Details["column"] != tt.column {
					t.Errorf("column %v, want %s", e.Details["column"], tt.column)
				}
				if _, err := r.Next(); err != nil {
					t.Fatalf("the row after: %v", err)
				}
				if _, err := r.Next(); err != io.EOF {
					t.Fatalf("at the end: %v", err)
				}
			})
		}
	}
}
