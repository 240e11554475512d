package sample

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// WriteLegacy writes d as a backup set in dir exactly as the old Python
// pipeline did: csv.writer with CRLF row ends, a header of column names in
// table order, NULL (and empty text) as an empty unquoted field, vectors in
// pgvector's text form, and JSON columns as the Python repr of a dict. It
// also writes the folder's vector_backup_log.txt.
func (d *Dataset) WriteLegacy(dir, timestamp string, l Layout) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	collFile := "langchain_pg_collection_" + timestamp + ".csv"
	embFile := "langchain_pg_embedding_" + timestamp + ".csv"
	err := writeCSV(filepath.Join(dir, collFile), l.CollectionColumns(), len(d.Collections), func(i int, col string) string {
		return d.collectionField(i, col)
	})
	if err != nil {
		return err
	}
	err = writeCSV(filepath.Join(dir, embFile), l.EmbeddingColumns(), len(d.Embeddings), func(i int, col string) string {
		return d.embeddingField(i, col, l.Community)
	})
	if err != nil {
		return err
	}
	return d.writeLog(dir, timestamp, collFile, embFile)
}

func (d *Dataset) collectionField(i int, col string) string {
	c := d.Collections[i]
	switch col {
	case "uuid":
		return c.UUID
	case "name":
		return c.Name
	case "cmetadata":
		return PyRepr(c.Metadata)
	}
	panic("unknown collection column " + col)
}

func (d *Dataset) embeddingField(i int, col string, community bool) string {
	e := d.Embeddings[i]
	switch col {
	case "id", "custom_id":
		if community {
			return "custom-" + e.ID
		}
		return e.ID
	case "uuid":
		return e.ID
	case "collection_id":
		return e.CollectionID
	case "embedding":
		return VectorText(e.Vector)
	case "document":
		if e.Document == nil {
			return ""
		}
		return *e.Document
	case "cmetadata":
		return PyRepr(e.Metadata)
	}
	panic("unknown embedding column " + col)
}

func writeCSV(path string, cols []string, n int, field func(row int, col string) string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var row []byte
	row = AppendPythonRow(row[:0], cols, "\r\n")
	w.Write(row)
	rec := make([]string, len(cols))
	for i := 0; i < n; i++ {
		for j, c := range cols {
			rec[j] = field(i, c)
		}
		row = AppendPythonRow(row[:0], rec, "\r\n")
		w.Write(row)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AppendPythonRow appends one CSV row as Python's csv.writer
// (QUOTE_MINIMAL) writes it, ending it with eol (the old pipeline used CRLF).
func AppendPythonRow(b []byte, fields []string, eol string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if strings.ContainsAny(f, ",\"\r\n") {
			b = append(b, '"')
			b = append(b, strings.ReplaceAll(f, `"`, `""`)...)
			b = append(b, '"')
		} else {
			b = append(b, f...)
		}
	}
	return append(b, eol...)
}

func (d *Dataset) writeLog(dir, timestamp, collFile, embFile string) error {
	t, ok := layout.ParseTimestamp(timestamp)
	if !ok {
		return fmt.Errorf("sample: %q is no set timestamp", timestamp)
	}
	size := func(name string) string {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return "?"
		}
		return humanSize(st.Size())
	}
	log := fmt.Sprintf(`=== Vector Table Backup Log ===
Backup Time: %s
Task ID: sample
Duration: 0.15s

Tables Backup Status:
✓ langchain_pg_collection: %d rows -> %s (%s)
✓ langchain_pg_embedding: %d rows -> %s (%s)
`, t.Format("2006-01-02 15:04:05"), len(d.Collections), collFile, size(collFile), len(d.Embeddings), embFile, size(embFile))
	return os.WriteFile(filepath.Join(dir, "vector_backup_log.txt"), []byte(log), 0o644)
}

func humanSize(n int64) string {
	units := []string{"B", "KB", "MB", "GB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// VectorText formats v as pgvector prints it: shortest float4 text.
func VectorText(v []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

// PyRepr renders v as Python's repr does; "" for nil, which the old pipeline
// wrote for NULL.
func PyRepr(v Value) string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	pyRepr(&b, v)
	return b.String()
}

func pyRepr(b *strings.Builder, v Value) {
	switch v := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if v {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		b.WriteString(s)
	case string:
		pyString(b, v)
	case []Value:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyRepr(b, x)
		}
		b.WriteByte(']')
	case Dict:
		b.WriteByte('{')
		for i, kv := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyString(b, kv.Key)
			b.WriteString(": ")
			pyRepr(b, kv.Value)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("sample: no repr for %T", v))
	}
}

// pyString quotes s as Python's str.__repr__: single quotes unless s holds a
// single quote and no double quote; non-ASCII printable text kept as is.
func pyString(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}
