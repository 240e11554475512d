package layout

import (
	"slices"
	"strings"
	"testing"
)

// TestDataFileNames: a binary COPY file is named .pgcopy, never .csv, and
// every name of it (published, being written by this server or the
// pipeline) is a file of its set.
func TestDataFileNames(t *testing.T) {
	const ts = "20250721_215758"
	tests := []struct {
		name   string
		kind   FileKind
		format string
	}{
		{"langchain_pg_embedding_20250721_215758.pgcopy", EmbeddingFile, FormatPGCopy},
		{"langchain_pg_collection_20250721_215758.pgcopy", CollectionFile, FormatPGCopy},
		{"langchain_pg_embedding_20250721_215758.csv", EmbeddingFile, FormatCSV},
		{"langchain_pg_embedding_20250721_215758.pgcopy.mcp.tmp", TmpFile, FormatPGCopy},
		{"langchain_pg_embedding_20250721_215758.pgcopy.tmp", TmpFile, FormatPGCopy},
		{"langchain_pg_embedding_20250721_215758.csv.mcp.tmp", TmpFile, FormatCSV},
		{"langchain_pg_embedding_20250721_215758.pgcopy.zst", OtherFile, ""},
		{"langchain_pg_embedding_20250721_215758.copy", OtherFile, ""},
		{"langchain_pg_embedding_20250721_215758", OtherFile, ""},
		{"langchain_pg_embedding_20250721_2157.pgcopy", OtherFile, ""},
		{"langchain_pg_embedding_20250230_215758.pgcopy", OtherFile, ""},
	}
	for _, tt := range tests {
		kind, got := Kind(tt.name)
		if kind != tt.kind || (kind != OtherFile && got != ts) {
			t.Errorf("Kind(%s) = %v, %q; want %v", tt.name, kind, got, tt.kind)
		}
		if f := DataFormat(tt.name); f != tt.format {
			t.Errorf("DataFormat(%s) = %q, want %q", tt.name, f, tt.format)
		}
	}
	if !IsServerTmp("langchain_pg_embedding_20250721_215758.pgcopy.mcp.tmp") || IsServerTmp("langchain_pg_embedding_20250721_215758.pgcopy.tmp") {
		t.Error("IsServerTmp does not tell the server's binary leftovers from the pipeline's")
	}
	if name := DataFileName(EmbeddingTable, ts, FormatPGCopy); strings.HasSuffix(name, ".csv") || name != "langchain_pg_embedding_20250721_215758.pgcopy" {
		t.Errorf("binary file name %s", name)
	}
	names := SetFileNames(ts)
	for _, want := range []string{"langchain_pg_collection_20250721_215758.pgcopy", "langchain_pg_embedding_20250721_215758.csv.tmp", ManifestName(KindSnapshot, ts)} {
		if !slices.Contains(names, want) {
			t.Errorf("SetFileNames lacks %s: %v", want, names)
		}
	}
	log := "✓ langchain_pg_embedding: 7 rows -> langchain_pg_embedding_20250721_215758.pgcopy (1.0 KB)\n"
	if got := ParseLog(log); got[ts]["langchain_pg_embedding"] != 7 {
		t.Errorf("ParseLog of a binary set's log: %v", got)
	}
}

// TestManifestFormats: a manifest with a binary file must say version 2
// and give each column's type; a format or version this server does not
// know is refused, never read as CSV.
func TestManifestFormats(t *testing.T) {
	const binEntry = `{"file": "langchain_pg_embedding_20250721_215758.pgcopy", "rows": 1, "bytes": 30, "sha256": "x", "columns": ["id", "embedding"], "format": "pgcopy", "types": ["character varying", "vector(3)"]}`
	const csvEntry = `{"file": "langchain_pg_collection_20250721_215758.csv", "rows": 1, "bytes": 30, "sha256": "x", "columns": ["uuid"]}`
	manifest := func(version, emb string) string {
		return `{"format_version": ` + version + `, "kind": "snapshot", "timestamp": "20250721_215758", "tables": [], "files": {"langchain_pg_collection": ` + csvEntry + `, "langchain_pg_embedding": ` + emb + `}}`
	}
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"binary, version 2", manifest("2", binEntry), true},
		{"CSV, version 1", manifest("1", csvEntry), true},
		{"CSV, version 2", manifest("2", csvEntry), true},
		{"binary, version 1", manifest("1", binEntry), false},
		{"version 3", manifest("3", csvEntry), false},
		{"unknown format", manifest("2", strings.Replace(binEntry, `"format": "pgcopy"`, `"format": "pgcopy+zstd"`, 1)), false},
		{"named as CSV, said binary", manifest("2", strings.Replace(binEntry, ".pgcopy", ".csv", 1)), false},
		{"types missing", manifest("2", strings.Replace(binEntry, `, "vector(3)"`, "", 1)), false},
	}
	for _, tt := range tests {
		m, err := DecodeManifest(strings.NewReader(tt.text))
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
		if err == nil && tt.ok && m.Files[EmbeddingTable].FileFormat() == "" {
			t.Errorf("%s: no format", tt.name)
		}
	}
	files := map[string]FileEntry{CollectionTable: {}, EmbeddingTable: {Format: FormatPGCopy}}
	if VersionFor(files) != FormatVersionBinary || VersionFor(map[string]FileEntry{CollectionTable: {}}) != FormatVersion {
		t.Error("VersionFor")
	}
}
