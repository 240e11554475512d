// Package compare says what changed between a backup set and the live
// tables: embedding by embedding, matched by key, per collection. It
// changes nothing: the live rows are read in the caller's (read-only)
// transaction.
//
// Rows are compared by value, not by text: metadata as JSON values (the old
// pipeline's Python dict text equals the same values stored as JSON),
// vectors as float4 values (any text that rounds to the same float4s is
// equal), documents as text with NULL apart from empty text, and the
// collection by name. Memory holds the keys and hashes of the file's
// embeddings and of the live ones, about 150 bytes per embedding on each
// side (15 MB at 50,000 each); the file itself streams.
package compare

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/legacyjson"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
)

// Examples is how many example keys are kept of each kind.
const Examples = 3

// Fields a changed embedding may differ in.
const (
	FieldDocument   = "document"
	FieldMetadata   = "metadata"
	FieldVector     = "vector"
	FieldCollection = "collection"
)

// Counts counts embeddings by kind, with a few example keys of each.
type Counts struct {
	OnlyInBackup   int64 // a restore would add them
	OnlyInDatabase int64 // a truncating restore would delete them
	Changed        int64 // same key, other values
	Identical      int64

	OnlyInBackupKeys   []string
	OnlyInDatabaseKeys []string
	ChangedKeys        []Change
	IdenticalKeys      []string
}

// Change is one changed embedding and what differs.
type Change struct {
	Key    string
	Fields []string
}

// Collection is one collection's counts, by name.
type Collection struct {
	Name string
	Counts
}

// Diff is the whole comparison.
type Diff struct {
	Key         string // the key column embeddings are matched by
	Totals      Counts
	Collections []Collection // by name
}

// liveRow is what is kept of one live embedding: hashes of its values.
type liveRow struct {
	collection string
	document   uint64
	metadata   uint64
	vector     uint64
	seen       bool
}

// File collects a set's embeddings for a comparison as another reader
// reads the file (inspect's report: the file is read once for both). Call
// Begin with the file's header, then Add for each good record.
type File struct {
	c        *comparer
	names    map[string]string // backup collection uuid → name
	binary   bool              // records come encoded for binary COPY
	jsonb    bool              // then metadata carries jsonb's version byte
	key      int
	coll     int
	doc      int
	meta     int
	vec      int
	rows     []backupRow
	scratch  []byte
	vecText  []byte
	begun    bool
	beginErr error
}

// NewFile starts collecting set's embeddings, matched by the live table's
// key.
func NewFile(ctx context.Context, set *catalog.Files, live *livedb.Live) (*File, error) {
	t := live.Tables[layout.EmbeddingTable]
	if t == nil {
		return nil, apierr.New(apierr.SchemaMismatch, "table %s does not exist in the target database, so there is nothing to compare with", layout.EmbeddingTable).
			With("table", layout.EmbeddingTable)
	}
	if len(t.PrimaryKey) != 1 {
		return nil, apierr.New(apierr.SchemaMismatch, "table %s has no single-column primary key, so its rows cannot be matched with the backup's", layout.EmbeddingTable).
			With("table", layout.EmbeddingTable)
	}
	names, err := backupfile.Collections(ctx, set.File(layout.CollectionTable))
	if err != nil {
		return nil, err
	}
	c := &comparer{seed: maphash.MakeSeed(), key: t.PrimaryKey[0], byName: map[string]*Counts{}}
	return &File{c: c, names: names}, nil
}

// Begin maps the file's header; an error (no key column) means the file
// cannot be compared. binary says the reader encodes records for binary
// COPY, and jsonb that the metadata column is jsonb (in binary form, after
// a version byte).
func (f *File) Begin(name string, header []string, binary, jsonb bool) error {
	f.begun, f.binary, f.jsonb = true, binary, jsonb
	f.key = slices.Index(header, f.c.key)
	if f.key < 0 {
		f.beginErr = apierr.New(apierr.SchemaMismatch, "%s has no %s column, the live table's key, so its rows cannot be matched", name, f.c.key).
			With("file", name).With("column", f.c.key)
		return f.beginErr
	}
	f.coll, f.doc = slices.Index(header, "collection_id"), slices.Index(header, "document")
	f.meta, f.vec = slices.Index(header, "cmetadata"), slices.Index(header, "embedding")
	return nil
}

// Add takes one good record: raw as the file has it, ready as the reader
// made it (metadata converted to JSON; in binary mode, vectors encoded).
func (f *File) Add(raw, ready []csvstream.Field) {
	if f.beginErr != nil {
		return
	}
	b := liveRow{collection: f.names[string(field(raw, f.coll))], document: f.c.hashNullable(field(raw, f.doc))}
	if m := field(ready, f.meta); m != nil {
		if f.binary && f.jsonb {
			m = m[1:]
		}
		var err error
		if b.metadata, err = f.c.metadata(m); err != nil {
			return // not JSON: a bad row the report names
		}
	}
	if v := field(ready, f.vec); v != nil {
		if !f.binary {
			var reason string
			if f.vecText, _, reason = backupfile.AppendVector(f.vecText[:0], v); reason != "" {
				return
			}
			v = f.vecText
		}
		b.vector = f.c.vector(&f.scratch, v)
	}
	f.rows = append(f.rows, backupRow{key: string(raw[f.key].Value), row: b})
}

// ReadFile collects set's embeddings by reading the file itself, for a
// caller that does not read it anyway.
func ReadFile(ctx context.Context, set *catalog.Files, live *livedb.Live) (*File, error) {
	f, err := NewFile(ctx, set, live)
	if err != nil {
		return nil, err
	}
	r, err := backupfile.Open(ctx, set.File(layout.EmbeddingTable), func(name string) (backupfile.Column, error) {
		if name == "cmetadata" {
			return backupfile.Column{Kind: backupfile.JSON}, nil
		}
		return backupfile.Column{}, nil
	})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := f.Begin(r.Name(), r.Header(), false, false); err != nil {
		return nil, err
	}
	for {
		if r.Records()%1024 == 0 && ctx.Err() != nil {
			return nil, apierr.Wrap(apierr.Cancelled, ctx.Err(), "the comparison was cancelled")
		}
		rec, err := r.Next()
		var bad *backupfile.RowError
		switch {
		case err == io.EOF:
			return f, nil
		case errors.As(err, &bad):
			continue
		case err != nil:
			return nil, err
		}
		f.Add(r.Raw(), rec)
	}
}

// Embeddings compares the collected file with the live embedding table
// (described by live) in tx.
func Embeddings(ctx context.Context, tx pgx.Tx, f *File, live *livedb.Live) (*Diff, error) {
	if !f.begun {
		return nil, apierr.New(apierr.BackupCorrupt, "the set's embedding file could not be read, so it cannot be compared")
	}
	if f.beginErr != nil {
		return nil, f.beginErr
	}
	c := f.c
	rows, err := c.readLive(ctx, tx, live)
	if err != nil {
		return nil, err
	}
	for _, b := range f.rows {
		c.match(b.key, b.row, rows)
	}
	for key, r := range rows {
		if !r.seen {
			c.count(r.collection, func(n *Counts) {
				n.OnlyInDatabase++
				n.OnlyInDatabaseKeys = example(n.OnlyInDatabaseKeys, key)
			})
		}
	}
	return c.result(), nil
}

// field is record field i: nil for NULL or a missing column, and never nil
// for empty text, which is not NULL.
func field(rec []csvstream.Field, i int) []byte {
	if i < 0 || rec[i].IsNull() {
		return nil
	}
	if len(rec[i].Value) == 0 {
		return []byte{}
	}
	return rec[i].Value
}

type comparer struct {
	seed   maphash.Seed
	key    string
	totals Counts
	byName map[string]*Counts
}

// backupRow is one embedding of the file: its key and values' hashes.
type backupRow struct {
	key string
	row liveRow
}

// readLive reads every live embedding's key, collection name and values'
// hashes.
func (c *comparer) readLive(ctx context.Context, tx pgx.Tx, live *livedb.Live) (map[string]*liveRow, error) {
	t := live.Tables[layout.EmbeddingTable]
	col := func(name, expr string) string {
		if _, ok := t.Columns[name]; ok {
			return expr
		}
		return "NULL"
	}
	collection := "NULL::text"
	if live.Tables[layout.CollectionTable] != nil && t.Columns["collection_id"].Name != "" {
		collection = "(SELECT c.name FROM langchain_pg_collection c WHERE c.uuid = e.collection_id LIMIT 1)"
	}
	sql := fmt.Sprintf("SELECT e.%s::text, %s, %s, %s, %s FROM langchain_pg_embedding e",
		pgx.Identifier{c.key}.Sanitize(), collection,
		col("document", "e.document::text"), col("cmetadata", "e.cmetadata::text"), col("embedding", "vector_send(e.embedding)"))
	rows, err := tx.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode, pgx.TextFormatCode, pgx.TextFormatCode, pgx.TextFormatCode, pgx.BinaryFormatCode})
	if err != nil {
		return nil, fmt.Errorf("read the live embeddings: %w", err)
	}
	defer rows.Close()
	out := map[string]*liveRow{}
	var scratch []byte
	for rows.Next() {
		v := rows.RawValues()
		meta, err := c.metadata(v[3])
		if err != nil {
			return nil, fmt.Errorf("live embedding %s: metadata: %w", v[0], err)
		}
		out[string(v[0])] = &liveRow{
			collection: string(v[1]),
			document:   c.hashNullable(v[2]),
			metadata:   meta,
			vector:     c.vector(&scratch, v[4]),
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the live embeddings: %w", err)
	}
	return out, nil
}

// match counts one backup row against the live row of its key.
func (c *comparer) match(key string, b liveRow, live map[string]*liveRow) {
	l, ok := live[key]
	if !ok {
		c.count(b.collection, func(n *Counts) {
			n.OnlyInBackup++
			n.OnlyInBackupKeys = example(n.OnlyInBackupKeys, key)
		})
		return
	}
	l.seen = true
	var fields []string
	if l.document != b.document {
		fields = append(fields, FieldDocument)
	}
	if l.metadata != b.metadata {
		fields = append(fields, FieldMetadata)
	}
	if l.vector != b.vector {
		fields = append(fields, FieldVector)
	}
	if l.collection != b.collection {
		fields = append(fields, FieldCollection)
	}
	c.count(b.collection, func(n *Counts) {
		if len(fields) == 0 {
			n.Identical++
			n.IdenticalKeys = example(n.IdenticalKeys, key)
			return
		}
		n.Changed++
		if len(n.ChangedKeys) < Examples {
			n.ChangedKeys = append(n.ChangedKeys, Change{Key: key, Fields: fields})
		}
	})
}

// count applies add to the totals and to collection's counts.
func (c *comparer) count(collection string, add func(*Counts)) {
	add(&c.totals)
	n := c.byName[collection]
	if n == nil {
		n = &Counts{}
		c.byName[collection] = n
	}
	add(n)
}

func (c *comparer) result() *Diff {
	d := &Diff{Key: c.key, Totals: c.totals, Collections: make([]Collection, 0, len(c.byName))}
	for name, n := range c.byName {
		d.Collections = append(d.Collections, Collection{Name: name, Counts: *n})
	}
	slices.SortFunc(d.Collections, func(a, b Collection) int { return cmp.Compare(a.Name, b.Name) })
	return d
}

func example(keys []string, key string) []string {
	if len(keys) < Examples {
		keys = append(keys, key)
	}
	return keys
}

// hashNullable hashes text, keeping NULL (nil) apart from empty text.
func (c *comparer) hashNullable(v []byte) uint64 {
	if v == nil {
		return 0
	}
	return maphash.Bytes(c.seed, v) | 1
}

// vector hashes a vector's binary form (vector_send's) as float4 values:
// -0 and 0 are the same value. scratch is a buffer to reuse.
func (c *comparer) vector(scratch *[]byte, v []byte) uint64 {
	if v == nil {
		return 0
	}
	b := append((*scratch)[:0], v...)
	*scratch = b
	for i := 4; i+4 <= len(b); i += 4 {
		if binary.BigEndian.Uint32(b[i:]) == 0x80000000 {
			binary.BigEndian.PutUint32(b[i:], 0)
		}
	}
	return maphash.Bytes(c.seed, b) | 1
}

// metadata hashes JSON (or the old pipeline's Python dict text) as a JSON
// value: key order, spacing and the spelling of numbers do not count.
func (c *comparer) metadata(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	text, _, err := legacyjson.AppendConvert(nil, v)
	var limit *legacyjson.LimitError
	if errors.As(err, &limit) {
		// Too big to build as a tree within the server's memory bound
		// (only a live row can be: backup rows over it are refused):
		// compared by its text instead.
		return maphash.Bytes(c.seed, v) &^ 1, nil
	}
	if err != nil {
		return 0, err
	}
	canon, err := canonical(text)
	if err != nil {
		return 0, err
	}
	return maphash.Bytes(c.seed, canon) | 1, nil
}
