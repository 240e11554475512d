package backupfile_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// binObject is a binary COPY file in memory with its manifest entry, as
// catalog.Files hands files to backupfile.Open.
type binObject struct {
	name  string
	data  []byte
	entry layout.FileEntry
}

func (o *binObject) Key() string             { return "global_vector_bak/" + o.name }
func (o *binObject) Size() int64             { return int64(len(o.data)) }
func (o *binObject) ModTime() time.Time      { return time.Time{} }
func (o *binObject) Identity() string        { return "mem" }
func (o *binObject) Close() error            { return nil }
func (o *binObject) Entry() layout.FileEntry { return o.entry }
func (o *binObject) NewReader(_ context.Context, off int64) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.data[off:])), nil
}

// The embedding table's columns as a snapshot's manifest records them.
var (
	binColumns = []string{"id", "collection_id", "embedding", "document", "cmetadata"}
	binTypes   = []string{"character varying", "uuid", "vector(3)", "character varying", "jsonb"}
)

const binName = "langchain_pg_embedding_20250721_215758.pgcopy"

// copyFile frames rows (nil: NULL) as COPY TO (FORMAT binary) does.
func copyFile(rows ...[][]byte) []byte {
	b := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	for _, row := range rows {
		b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
		for _, f := range row {
			if f == nil {
				b = binary.BigEndian.AppendUint32(b, math.MaxUint32)
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
			b = append(b, f...)
		}
	}
	return binary.BigEndian.AppendUint16(b, math.MaxUint16)
}

// vecBytes is vector_send's form of xs.
func vecBytes(xs ...float32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(xs)))
	b = append(b, 0, 0)
	for _, x := range xs {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func uuidBytes(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func jsonbBytes(s string) []byte { return append([]byte{1}, s...) }

func binFile(data []byte) *binObject {
	sum := sha256.Sum256(data)
	return &binObject{name: binName, data: data, entry: layout.FileEntry{
		File: binName, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		Columns: binColumns, Types: binTypes, Format: layout.FormatPGCopy,
	}}
}

func binKinds(name string) (backupfile.Column, error) {
	switch name {
	case "collection_id":
		return backupfile.Column{Kind: backupfile.UUID}, nil
	case "embedding":
		return backupfile.Column{Kind: backupfile.Vector, Dimension: 3}, nil
	case "cmetadata":
		return backupfile.Column{Kind: backupfile.JSONB}, nil
	}
	return backupfile.Column{}, nil
}

const binUUID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// edgeRows hold what the text form must keep: NULL apart from empty text,
// quotes, CR, LF and commas, unicode, and float4's edges.
func edgeRows() [][][]byte {
	return [][][]byte{
		{[]byte("a,\"b\"\r\n"), uuidBytes(binUUID), vecBytes(1, 2.5, -3), []byte("SELECT 1;\n-- 中文 \"quoted\", yes\r\n"), jsonbBytes(`{"k": "v", "n": null}`)},
		{[]byte(""), nil, nil, nil, nil},
		{[]byte("edges"), uuidBytes(binUUID), vecBytes(math.Float32frombits(1), float32(math.Copysign(0, -1)), math.MaxFloat32), []byte(""), jsonbBytes(`[]`)},
	}
}

// TestBinaryTextForm reads a binary file in text form: every field as
// PostgreSQL's output functions print it, NULL as NULL, empty text as
// empty text, so a binary snapshot reads as its CSV twin would.
func TestBinaryTextForm(t *testing.T) {
	f := binFile(copyFile(edgeRows()...))
	r, err := backupfile.Open(context.Background(), f, binKinds)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := strings.Join(r.Header(), ","); got != strings.Join(binColumns, ",") {
		t.Errorf("header %s, want the manifest's columns", got)
	}
	if r.Format() != layout.FormatPGCopy {
		t.Errorf("format %q", r.Format())
	}
	want := [][]*string{
		{ptr("a,\"b\"\r\n"), ptr(binUUID), ptr("[1,2.5,-3]"), ptr("SELECT 1;\n-- 中文 \"quoted\", yes\r\n"), ptr(`{"k": "v", "n": null}`)},
		{ptr(""), nil, nil, nil, nil},
		{ptr("edges"), ptr(binUUID), ptr("[1e-45,-0,3.4028235e+38]"), ptr(""), ptr(`[]`)},
	}
	for i, w := range want {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		checkFields(t, i+1, "Next", rec, w)
		checkFields(t, i+1, "Raw", r.Raw(), w)
		if r.Line() != i+1 {
			t.Errorf("record %d: Line %d", i+1, r.Line())
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the rows: %v, want EOF", err)
	}
	// The vector's text reads back to the same float4 bits.
	got, _, reason := backupfile.AppendVector(nil, []byte("[1e-45,-0,3.4028235e+38]"))
	if reason != "" || !bytes.Equal(got, vecBytes(math.Float32frombits(1), float32(math.Copysign(0, -1)), math.MaxFloat32)) {
		t.Errorf("the text form does not read back to its bits: %x %s", got, reason)
	}
	exp := &backupfile.Expectation{Rows: 3, Bytes: f.entry.Bytes, SHA256: f.entry.SHA256, From: "manifest"}
	if err := exp.Check(r); err != nil {
		t.Errorf("the intact file fails its manifest: %v", err)
	}
	exp.SHA256 = strings.Repeat("0", 64)
	if err := exp.Check(r); err == nil {
		t.Error("a wrong SHA-256 passes")
	}
}

func ptr(s string) *string { return &s }

func checkFields(t *testing.T, n int, what string, rec []csvstream.Field, want []*string) {
	t.Helper()
	for j, w := range want {
		switch {
		case w == nil && !rec[j].IsNull():
			t.Errorf("record %d %s field %s: %q, want NULL", n, what, binColumns[j], rec[j].Value)
		case w != nil && rec[j].IsNull():
			t.Errorf("record %d %s field %s: NULL, want %q", n, what, binColumns[j], *w)
		case w != nil && string(rec[j].Value) != *w:
			t.Errorf("record %d %s field %s: %q, want %q", n, what, binColumns[j], rec[j].Value, *w)
		}
	}
}

// TestBinaryPassThrough reads a binary file for binary COPY: a field whose
// source type is the column's kind goes as it is; others go through their
// text form and the column's encoding.
func TestBinaryPassThrough(t *testing.T) {
	rows := edgeRows()
	r, err := backupfile.Open(context.Background(), binFile(copyFile(rows...)), binKinds)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.CanEncodeBinary() {
		t.Fatal("cannot encode binary")
	}
	r.EncodeBinary()
	for i, row := range rows {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		for j, f := range row {
			if f == nil != rec[j].IsNull() || f != nil && !bytes.Equal(rec[j].Value, f) {
				t.Errorf("record %d field %s: %x, want %x as it is", i+1, binColumns[j], rec[j].Value, f)
			}
		}
		if r.Raw()[1].IsNull() == false && string(r.Raw()[1].Value) != binUUID {
			t.Errorf("record %d: Raw's uuid %q, want its text", i+1, r.Raw()[1].Value)
		}
	}

	// Into a table whose cmetadata is json and collection_id text: through
	// the text form.
	r, err = backupfile.Open(context.Background(), binFile(copyFile(rows[0])), func(name string) (backupfile.Column, error) {
		switch name {
		case "cmetadata":
			return backupfile.Column{Kind: backupfile.JSON}, nil
		case "embedding":
			return backupfile.Column{Kind: backupfile.Vector}, nil
		}
		return backupfile.Column{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.EncodeBinary()
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if string(rec[1].Value) != binUUID || string(rec[4].Value) != `{"k": "v", "n": null}` || !bytes.Equal(rec[2].Value, rows[0][2]) {
		t.Errorf("converted fields: %q %q %x", rec[1].Value, rec[4].Value, rec[2].Value)
	}
}

// TestBinaryHostile feeds broken binary files: each is BACKUP_CORRUPT naming
// the file and the record (never a panic, never a line), and a field's
// problem is a row error the reader can go on past.
func TestBinaryHostile(t *testing.T) {
	good := edgeRows()[0]
	header := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	trailer := []byte{0xff, 0xff}
	field := func(n int32, data string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(n)), data...)
	}
	record := func(fields ...[]byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(len(fields)))
		for _, f := range fields {
			b = append(b, f...)
		}
		return b
	}
	goodRecord := copyFile(good)[len(header) : len(copyFile(good))-2]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	withField := func(i int, f []byte) []byte {
		row := append([][]byte(nil), good...)
		row[i] = f
		return copyFile(good, row)
	}
	tests := []struct {
		name   string
		data   []byte
		record int    // 0: the header
		row    bool   // a row error: the reader goes on
		inMsg  string // in the message
	}{
		{"empty", nil, 0, false, "header"},
		{"bad signature", cat([]byte("PGCOPY\n\xff\r\n\x01"), header[11:], trailer), 0, false, "signature"},
		{"CSV in its place", []byte("id,collection_id\nx,y\n"), 0, false, "header"},
		{"OIDs flag", cat(header[:11], []byte{0, 1, 0, 0}, header[15:], trailer), 0, false, "flags"},
		{"negative header extension", cat(header[:15], []byte{0xff, 0xff, 0xff, 0xfe}, trailer), 0, false, "extension"},
		{"huge header extension", cat(header[:15], []byte{0x7f, 0xff, 0xff, 0xff}, trailer), 0, false, "extension"},
		{"header extension past the end", cat(header[:15], []byte{0, 0, 0, 100}, trailer), 0, false, "extension"},
		{"field count differs", cat(header, goodRecord, record(field(1, "x")), trailer), 2, false, "1 fields"},
		{"negative length", cat(header, record(field(-2, ""), field(-1, ""), field(-1, ""), field(-1, ""), field(-1, "")), trailer), 1, false, "length -2"},
		{"huge length", cat(header, []byte{0, 5}, field(math.MaxInt32, "")), 1, false, "over the 16 MiB limit"},
		{"record over its limit", cat(header, []byte{0, 5}, field(16<<20, strings.Repeat("x", 16<<20)), field(16<<20, strings.Repeat("y", 16<<20)), field(1, "z")), 1, false, "over the 32 MiB limit"},
		{"field past the end", cat(header, []byte{0, 5}, field(1000, "abc")), 1, false, "cut short"},
		{"truncated tuple", cat(header, goodRecord, goodRecord[:len(goodRecord)-3]), 2, false, "cut short"},
		{"no trailer", cat(header, goodRecord), 2, false, "trailer"},
		{"bytes after the trailer", cat(header, goodRecord, trailer, []byte{0}), 1, false, "after the last record"},
		{"records after the trailer", cat(header, trailer, goodRecord, trailer), 0, false, "after the last record"},
		{"vector dimension disagrees with length", withField(2, vecBytes(1, 2, 3)[:12]), 2, true, "dimension field says 3"},
		{"vector of no dimension", withField(2, vecBytes()), 2, true, "dimensions"},
		{"vector with NaN", withField(2, vecBytes(1, float32(math.NaN()), 3)), 2, true, "finite"},
		{"vector of the wrong dimension", withField(2, vecBytes(1, 2)), 2, true, "2 dimensions"},
		{"invalid UTF-8 in text", withField(3, []byte("ok \xff\xfe")), 2, true, "UTF-8"},
		{"invalid UTF-8 in jsonb", withField(4, jsonbBytes("{\"a\": \"\xc3\"}")), 2, true, "UTF-8"},
		{"jsonb version 2", withField(4, append([]byte{2}, "{}"...)), 2, true, "version byte 1"},
		{"uuid of 15 bytes", withField(1, uuidBytes(binUUID)[:15]), 2, true, "not 16"},
	}
	for _, tt := range tests {
		for _, bin := range []bool{false, true} {
			t.Run(tt.name+"/binary="+strconv.FormatBool(bin), func(t *testing.T) {
				err := readAll(t, binFile(tt.data), bin, tt.row)
				e, ok := apierr.As(err)
				if !ok || e.Type != apierr.BackupCorrupt {
					t.Fatalf("error %v (%T), want BACKUP_CORRUPT", err, err)
				}
				if !strings.Contains(e.Message, binName) || !strings.Contains(e.Message, tt.inMsg) {
					t.Errorf("message %q does not name the file and say %q", e.Message, tt.inMsg)
				}
				if tt.record > 0 {
					if e.Details["record"] != tt.record && e.Details["record"] != int64(tt.record) {
						t.Errorf("record %v, want %d: %s", e.Details["record"], tt.record, e.Message)
					}
					if !strings.Contains(e.Message, "record "+strconv.Itoa(tt.record)) {
						t.Errorf("message %q does not say record %d", e.Message, tt.record)
					}
				}
				if _, ok := e.Details["line"]; ok || strings.Contains(e.Message, "line ") {
					t.Errorf("a binary file has no lines: %s %v", e.Message, e.Details)
				}
			})
		}
	}
}

// readAll reads f to its end: the first error that ends it, or (for a row
// error) the row error as a restore reports it after reading on to the end.
func readAll(t *testing.T, f *binObject, bin, wantRow bool) error {
	t.Helper()
	r, err := backupfile.Open(context.Background(), f, binKinds)
	if err != nil {
		return err
	}
	defer r.Close()
	if bin {
		r.EncodeBinary()
	}
	var first error
	for {
		_, err := r.Next()
		var re *backupfile.RowError
		switch {
		case err == io.EOF:
			if wantRow && first == nil {
				t.Error("no row error")
			}
			return first
		case errors.As(err, &re):
			if !wantRow {
				t.Errorf("row error %v, want the file refused", err)
			}
			if first == nil {
				first = r.Corrupt(err)
			}
		case err != nil:
			if wantRow {
				t.Errorf("error %v ends the file, want a row error", err)
			}
			return err
		}
	}
}

// TestBinaryNeedsItsManifest: a .pgcopy file is never read without the
// manifest entry that gives its types, nor with types it cannot decode.
func TestBinaryNeedsItsManifest(t *testing.T) {
	f := binFile(copyFile(edgeRows()...))
	bare := &bareObject{f}
	if _, err := backupfile.Open(context.Background(), bare, binKinds); !isCorrupt(err) {
		t.Errorf("without its entry: %v, want BACKUP_CORRUPT", err)
	}
	for name, change := range map[string]func(*layout.FileEntry){
		"unknown type": func(e *layout.FileEntry) {
			e.Types = []string{"character varying", "uuid", "vector(3)", "bytea", "jsonb"}
		},
		"types missing": func(e *layout.FileEntry) { e.Types = e.Types[:4] },
		"no columns":    func(e *layout.FileEntry) { e.Columns, e.Types = nil, nil },
		"column twice":  func(e *layout.FileEntry) { e.Columns = []string{"id", "id", "embedding", "document", "cmetadata"} },
		"empty name":    func(e *layout.FileEntry) { e.Columns = []string{"id", "", "embedding", "document", "cmetadata"} },
	} {
		g := binFile(f.data)
		change(&g.entry)
		if _, err := backupfile.Open(context.Background(), g, binKinds); !isCorrupt(err) {
			t.Errorf("%s: %v, want BACKUP_CORRUPT", name, err)
		}
	}
}

// bareObject hides its file's manifest entry.
type bareObject struct{ o *binObject }

func (b *bareObject) Key() string        { return b.o.Key() }
func (b *bareObject) Size() int64        { return b.o.Size() }
func (b *bareObject) ModTime() time.Time { return b.o.ModTime() }
func (b *bareObject) Identity() string   { return b.o.Identity() }
func (b *bareObject) Close() error       { return nil }
func (b *bareObject) NewReader(ctx context.Context, off int64) (io.ReadCloser, error) {
	return b.o.NewReader(ctx, off)
}

func isCorrupt(err error) bool {
	e, ok := apierr.As(err)
	return ok && e.Type == apierr.BackupCorrupt
}

// FuzzBinaryReader feeds the binary reader arbitrary bytes, in text and in
// binary mode: it ends with EOF, a row error or BACKUP_CORRUPT, never a
// panic, and never yields a field over the bounds on one.
func FuzzBinaryReader(f *testing.F) {
	f.Add(copyFile(edgeRows()...))
	f.Add(copyFile())
	f.Add(copyFile(edgeRows()[0])[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bin := range []bool{false, true} {
			r, err := backupfile.Open(context.Background(), binFile(data), binKinds)
			if err != nil {
				if !isCorrupt(err) {
					t.Fatalf("open: %v, want BACKUP_CORRUPT", err)
				}
				continue
			}
			if bin {
				r.EncodeBinary()
			}
			for {
				rec, err := r.Next()
				var re *backupfile.RowError
				if err == io.EOF {
					break
				}
				if errors.As(err, &re) {
					continue
				}
				if err != nil {
					if !isCorrupt(err) {
						t.Fatalf("next: %v, want BACKUP_CORRUPT", err)
					}
					break
				}
				for _, f := range rec {
					if len(f.Value) > 2*backupfile.MaxFieldBytes {
						t.Fatalf("a field of %d bytes", len(f.Value))
					}
				}
				_ = r.Raw()
			}
			r.Close()
		}
	})
}
