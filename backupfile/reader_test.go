package backupfile_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// BenchmarkReader reads a legacy embedding file (Python dict metadata,
// 1,024-dimension vectors) record by record, as a text COPY and as a binary
// one takes it; allocations are per file.
func BenchmarkReader(b *testing.B) {
	dir := b.TempDir()
	data := sample.Generate(7, []string{"sql", "ddl"}, 500, 1024)
	if err := data.WriteLegacy(dir, "20250721_215758", sample.Default); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, layout.FileName(layout.EmbeddingTable, "20250721_215758"))
	columns := func(name string) (backupfile.Column, error) {
		switch name {
		case "cmetadata":
			return backupfile.Column{Kind: backupfile.JSONB}, nil
		case "embedding":
			return backupfile.Column{Kind: backupfile.Vector, Dimension: 1024}, nil
		case "collection_id":
			return backupfile.Column{Kind: backupfile.UUID}, nil
		}
		return backupfile.Column{}, nil
	}
	for _, binary := range []bool{false, true} {
		name := "text"
		if binary {
			name = "binary"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				r, err := backupfile.Open(context.Background(), object(b, f), columns)
				if err != nil {
					b.Fatal(err)
				}
				if binary {
					r.EncodeBinary()
				}
				for {
					if _, err := r.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(r.Size())
				f.Close()
			}
		})
	}
}
