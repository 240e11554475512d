// Package compare says what changed between a backup set and the live
// tables: embedding by embedding, matched by key, per collection. It
// changes nothing: the live rows are read in the caller's (read-only)
// transaction.
//
// Rows are compared by value, not by text: metadata as JSON values (the old
// pipeline's Python dict text equals the same values stored as JSON),
// vectors as float4 values (any text that rounds to the same float4s is
// equal), documents as text with NULL apart from empty text, and the
// collection by name. Memory holds the live rows' keys and hashes, about
// 150 bytes per live embedding (7 MB at 50,000); the backup file streams.
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
	"github.com/vectorops/pgvector-backup-mcp/restore"
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

// Embeddings compares set's embedding file with the live embedding table
// (described by live) in tx.
func Embeddings(ctx context.Context, tx pgx.Tx, set catalog.Set, live *restore.Live) (*Diff, error) {
	t := live.Tables[layout.EmbeddingTable]
	if t == nil {
		return nil, apierr.New(apierr.SchemaMismatch, "table %s does not exist in the target database, so there is nothing to compare with", layout.EmbeddingTable).
			With("table", layout.EmbeddingTable)
	}
	if len(t.PrimaryKey) != 1 {
		return nil, apierr.New(apierr.SchemaMismatch, "table %s has no single-column primary key, so its rows cannot be matched with the backup's", layout.EmbeddingTable).
			With("table", layout.EmbeddingTable)
	}
	c := &comparer{seed: maphash.MakeSeed(), key: t.PrimaryKey[0], byName: map[string]*Counts{}}
	rows, err := c.readLive(ctx, tx, live)
	if err != nil {
		return nil, err
	}
	if err := c.readBackup(ctx, set, rows); err != nil {
		return nil, err
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

type comparer struct {
	seed    maphash.Seed
	key     string
	totals  Counts
	byName  map[string]*Counts
	scratch []byte
}

// readLive reads every live embedding's key, collection name and values'
// hashes.
func (c *comparer) readLive(ctx context.Context, tx pgx.Tx, live *restore.Live) (map[string]*liveRow, error) {
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
			vector:     c.vector(v[4]),
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the live embeddings: %w", err)
	}
	return out, nil
}

// readBackup streams the set's embedding file, matching each row with the
// live one of its key.
func (c *comparer) readBackup(ctx context.Context, set catalog.Set, live map[string]*liveRow) error {
	names, err := restore.BackupCollections(set.Path(layout.CollectionTable))
	if err != nil {
		return err
	}
	r, err := backupfile.Open(set.Path(layout.EmbeddingTable), backupfile.AllText)
	if err != nil {
		return err
	}
	defer r.Close()
	header := r.Header()
	keyCol := slices.Index(header, c.key)
	if keyCol < 0 {
		return apierr.New(apierr.SchemaMismatch, "%s has no %s column, the live table's key, so its rows cannot be matched", r.Name(), c.key).
			With("file", r.Name()).With("column", c.key)
	}
	collCol, docCol := slices.Index(header, "collection_id"), slices.Index(header, "document")
	metaCol, vecCol := slices.Index(header, "cmetadata"), slices.Index(header, "embedding")
	for {
		if r.Records()%1024 == 0 && ctx.Err() != nil {
			return apierr.Wrap(apierr.Cancelled, ctx.Err(), "the comparison was cancelled")
		}
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		var bad *backupfile.RowError
		if errors.As(err, &bad) {
			continue // inspect's report names it
		}
		if err != nil {
			return err
		}
		field := func(i int) []byte {
			if i < 0 || rec[i].IsNull() {
				return nil
			}
			return rec[i].Value
		}
		collection := names[string(field(collCol))]
		b := liveRow{collection: collection, document: c.hashNullable(nullable(rec, docCol))}
		if b.metadata, err = c.metadata(field(metaCol)); err != nil {
			continue // not JSON: a bad row inspect's report names
		}
		if v := field(vecCol); v != nil {
			enc, _, reason := backupfile.AppendVector(c.scratch[:0], v)
			if reason != "" {
				continue
			}
			c.scratch = enc
			b.vector = c.vector(enc)
		}
		c.match(string(rec[keyCol].Value), b, live)
	}
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

// nullable is field i, nil for NULL (a missing column is NULL too).
func nullable(rec []csvstream.Field, i int) []byte {
	if i < 0 || rec[i].IsNull() {
		return nil
	}
	if len(rec[i].Value) == 0 {
		return []byte{} // empty text, not NULL
	}
	return rec[i].Value
}

// hashNullable hashes text, keeping NULL (nil) apart from empty text.
func (c *comparer) hashNullable(v []byte) uint64 {
	if v == nil {
		return 0
	}
	return maphash.Bytes(c.seed, v) | 1
}

// vector hashes a vector's binary form (vector_send's) as float4 values:
// -0 and 0 are the same value.
func (c *comparer) vector(v []byte) uint64 {
	if v == nil {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.Write(v[:min(len(v), 4)])
	for i := 4; i+4 <= len(v); i += 4 {
		bits := binary.BigEndian.Uint32(v[i:])
		if bits == 0x80000000 {
			bits = 0
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], bits)
		h.Write(b[:])
	}
	return h.Sum64() | 1
}

// metadata hashes JSON (or the old pipeline's Python dict text) as a JSON
// value: key order, spacing and the spelling of numbers do not count.
func (c *comparer) metadata(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	text, _, err := legacyjson.AppendConvert(nil, v)
	if err != nil {
		return 0, err
	}
	canon, err := canonical(text)
	if err != nil {
		return 0, err
	}
	return maphash.Bytes(c.seed, canon) | 1, nil
}
