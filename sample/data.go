package sample

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// Dataset is the content of the two tables.
type Dataset struct {
	Dim         int
	Collections []Collection
	Embeddings  []Embedding
}

// Collection is one langchain_pg_collection row.
type Collection struct {
	UUID     string
	Name     string
	Metadata Value // nil for NULL
}

// Embedding is one langchain_pg_embedding row. ID is the row's key: id in
// langchain_postgres, uuid in langchain_community (where CustomID is id).
type Embedding struct {
	ID           string
	CollectionID string
	Vector       []float32
	Document     *string // nil for NULL
	Metadata     Value   // nil for NULL
}

// Value is a metadata value: string, bool, int, float64, nil, []Value, or
// Dict. Dict keeps key order so the Python repr is deterministic.
type Value any

// Dict is an ordered dict.
type Dict []KV

// KV is one dict entry.
type KV struct {
	Key   string
	Value Value
}

// Generate makes a dataset: collections with the given names (vanna's are
// sql, ddl, documentation, error_sql), perCollection embeddings each, and
// vectors of dim dimensions. The same seed makes the same data. Documents and
// metadata hold what breaks naive CSV and JSON handling: commas, quotes, CR
// and LF, non-ASCII text, backslashes, NULLs.
func Generate(seed uint64, names []string, perCollection, dim int) *Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := &Dataset{Dim: dim}
	for ci, name := range names {
		c := Collection{UUID: uuid(rng), Name: name}
		if ci%2 == 0 {
			c.Metadata = Dict{{"description", fmt.Sprintf("%s training data, 第%d组", name, ci)}, {"version", ci + 1}}
		}
		d.Collections = append(d.Collections, c)
		for i := 0; i < perCollection; i++ {
			d.Embeddings = append(d.Embeddings, embedding(rng, c, i, dim))
		}
	}
	return d
}

// Later is a backup taken some time after d: the same collections, other
// embeddings of the same number and dimension (so appending it to d's rows
// conflicts with nothing).
func (d *Dataset) Later(seed uint64) *Dataset {
	names := make([]string, len(d.Collections))
	for i, c := range d.Collections {
		names[i] = c.Name
	}
	next := Generate(seed, names, len(d.Embeddings)/max(1, len(d.Collections)), d.Dim)
	uuids := map[string]string{}
	for i, c := range next.Collections {
		uuids[c.UUID] = d.Collections[i].UUID
	}
	next.Collections = d.Collections
	for i := range next.Embeddings {
		next.Embeddings[i].CollectionID = uuids[next.Embeddings[i].CollectionID]
	}
	return next
}

func embedding(rng *rand.Rand, c Collection, i, dim int) Embedding {
	e := Embedding{ID: uuid(rng), CollectionID: c.UUID, Vector: make([]float32, dim)}
	for j := range e.Vector {
		e.Vector[j] = float32(rng.Float64()*2 - 1)
	}
	if i%7 != 3 { // some documents are NULL
		doc := documents[i%len(documents)] + fmt.Sprintf(" #%d", i)
		e.Document = &doc
	}
	if i%11 != 5 { // some metadata is NULL
		e.Metadata = Dict{
			{"source", c.Name},
			{"id", fmt.Sprintf("%s-%d", c.Name, i)},
			{"question", questions[i%len(questions)]},
			{"ok", i%2 == 0},
			{"score", []Value{0.5, 1e-05, float64(i) + 0.25}},
			{"missing", nil},
			{"nested", Dict{{"tags", []Value{"a", "b'c", `d"e`}}, {"n", i}}},
		}
	}
	return e
}

var documents = []string{
	"SELECT name, total FROM orders WHERE status = 'paid' ORDER BY total DESC",
	"CREATE TABLE \"users\" (\n  id serial PRIMARY KEY,\n  name text -- 用户名\n);",
	"Revenue, by region, includes \"gross\" and 'net' figures.\r\nSecond line after CRLF.",
	"中文文档：销售额按地区汇总。😀 emoji and tab\there",
	"Back\\slash and trailing comma,",
	"  leading and trailing spaces  ",
}

var questions = []string{
	"How many orders were paid last month?",
	"列出所有用户的姓名",
	"What's the \"top\" product, by revenue?",
	"Line one\nline two",
}

func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// JSON returns v as the JSON value PostgreSQL should hold, or nil for NULL.
func JSON(v Value) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(plain(v))
	if err != nil {
		panic(err) // Values are built from JSON-able parts
	}
	return b
}

// plain turns a Value into what encoding/json marshals.
func plain(v Value) any {
	switch v := v.(type) {
	case Dict:
		m := make(map[string]any, len(v))
		for _, kv := range v {
			m[kv.Key] = plain(kv.Value)
		}
		return m
	case []Value:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plain(x)
		}
		return out
	default:
		return v
	}
}
