package csvstream_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/csvstream"
)

// benchRows is enough rows (about 13 MB) that the input does not fit in cache
// and buffer reuse, not first-record setup, dominates.
const benchRows = 1000

// benchFile builds a backup as Python's csv.writer would: a pgvector table of
// id, collection id, 1536-dimension embedding, a ~500-byte document with a
// comma and a line break, and JSON metadata full of doubled quotes.
func benchFile(rows int) []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x",
			rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))
	}
	var vec []byte
	var buf []byte
	buf = csvstream.AppendRecord(buf, fields("id", "collection_id", "embedding", "document", "metadata"))
	buf = bytes.ReplaceAll(buf, []byte("\n"), []byte("\r\n"))
	collection := uuid()
	doc := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing. ", 5) + "\n" +
		strings.Repeat("Sed do eiusmod tempor incididunt ut labore et dolore. ", 4)
	for i := range rows {
		vec = append(vec[:0], '[')
		for d := range 1536 {
			if d > 0 {
				vec = append(vec, ',')
			}
			vec = strconv.AppendFloat(vec, rng.NormFloat64()*0.05, 'f', 6, 32)
		}
		vec = append(vec, ']')
		meta := fmt.Sprintf(`{"source": "docs/file-%d.pdf", "page": %d, "tags": ["a", "b"]}`, i, i%40)
		rec := []csvstream.Field{
			{Value: []byte(uuid())}, {Value: []byte(collection)}, {Value: vec},
			{Value: []byte(doc)}, {Value: []byte(meta)},
		}
		buf = csvstream.AppendRecord(buf, rec)
		buf = append(buf[:len(buf)-1], "\r\n"...) // csv.writer ends rows with CRLF
	}
	return buf
}

func BenchmarkReader(b *testing.B) {
	data := benchFile(benchRows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csvstream.NewReader(bytes.NewReader(data))
		n := 0
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchRows+1 {
			b.Fatalf("read %d records, want %d", n, benchRows+1)
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	data := benchFile(benchRows)
	var recs [][]csvstream.Field
	r := csvstream.NewReader(bytes.NewReader(data))
	for {
		fs, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		rec := make([]csvstream.Field, len(fs))
		for i, f := range fs {
			rec[i] = csvstream.Field{Value: bytes.Clone(f.Value), Quoted: f.Quoted}
		}
		recs = append(recs, rec)
	}
	// The writer uses LF row ends, so its output is slightly shorter.
	var out countWriter
	w := csvstream.NewWriter(&out)
	for _, rec := range recs {
		w.Write(rec)
	}
	w.Flush()
	b.SetBytes(out.n)
	b.ReportAllocs()
	for b.Loop() {
		w := csvstream.NewWriter(io.Discard)
		for _, rec := range recs {
			if err := w.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkReaderManyLines guards the worst case of the quoted-field scan:
// long quoted values made of many short lines.
func BenchmarkReaderManyLines(b *testing.B) {
	value := strings.Repeat("short line\n", 5000)
	var data []byte
	for i := range 200 {
		data = csvstream.AppendRecord(data, fields(strconv.Itoa(i), value))
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csvstream.NewReader(bytes.NewReader(data))
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
