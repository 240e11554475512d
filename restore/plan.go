package restore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
)

// Plan is what a restore would do.
type Plan struct {
	Mode        string   // modeTruncate, modeCollections or modeAppend
	Tables      []string // in restore order
	OnConflict  string
	Delete      map[string]int64 // live rows deleted, per table
	Insert      map[string]int64 // backup rows written, per table (before conflicts)
	Conflicts   map[string]int64 // append mode: backup rows whose key the target has
	Collections []CollectionPlan // per collection in scope, by name
	Snapshot    bool             // whether the replaced rows are saved first
	Indexes     []string         // vector indexes dropped before the load and built again after it
}

// CollectionPlan is one collection's embeddings deleted and written.
type CollectionPlan struct {
	Name             string
	DeleteEmbeddings int64
	InsertEmbeddings int64
}

// Destructive reports whether the plan deletes or may overwrite rows.
func (p *Plan) Destructive() bool {
	if p.OnConflict == OnConflictUpdate {
		return true
	}
	for _, n := range p.Delete {
		if n > 0 {
			return true
		}
	}
	return false
}

// MakePlan works out what Run would do with req, in tx (ReadOnly's): it
// reads every row of the files (a bad row fails the plan as it would fail
// the restore) and counts the live rows in scope. It returns the plan to
// show the person and, with bind, the binding their approval seals: the
// files' checksums and a fingerprint of the rows to be replaced (which
// reads each of them whole, so a plan only shown skips it).
func MakePlan(ctx context.Context, tx pgx.Tx, req Request, bind bool) (*Plan, *Binding, error) {
	done, err := req.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	j, err := prepare(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	plan, binding, err := j.plan(ctx, tx, bind)
	if err != nil {
		return nil, nil, restoreError(ctx, err)
	}
	return plan, binding, nil
}

func (j *job) plan(ctx context.Context, tx pgx.Tx, bind bool) (*Plan, *Binding, error) {
	if err := j.checkSource(ctx, tx); err != nil {
		return nil, nil, err
	}
	var err error
	if j.scope, err = j.resolveScope(ctx, tx); err != nil {
		return nil, nil, err
	}
	if j.req.Truncate {
		if _, err := j.checkTruncate(ctx, tx); err != nil {
			return nil, nil, err
		}
	}
	plan := &Plan{
		Mode:       j.scope.mode,
		Tables:     j.tables,
		OnConflict: j.req.OnConflict,
		Delete:     map[string]int64{},
		Insert:     map[string]int64{},
		Snapshot:   j.req.SnapshotDir != "" && j.scope.replaces(),
	}
	if j.rebuildsIndexes() {
		indexes, err := vectorIndexes(ctx, tx, j.tables)
		if err != nil {
			return nil, nil, err
		}
		for _, ix := range indexes {
			plan.Indexes = append(plan.Indexes, ix.Name)
		}
	}
	binding := &Binding{Files: map[string]string{}}
	perCollection, err := j.readThrough(ctx, tx, plan, binding)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range j.tables {
		if plan.Delete[t], err = j.scope.deleteCount(ctx, tx, t); err != nil {
			return nil, nil, err
		}
	}
	if plan.Collections, err = j.collectionPlan(ctx, tx, perCollection); err != nil {
		return nil, nil, err
	}
	if !bind {
		return plan, nil, nil
	}
	if binding.State, err = j.scope.fingerprint(ctx, tx); err != nil {
		return nil, nil, err
	}
	return plan, binding, nil
}

// readThrough reads every row of the files as the restore would, noting in
// the plan the rows each writes and, for an append, those whose key the
// target already has, and in the binding each file's checksum. It returns
// the backup's embeddings per collection uuid.
func (j *job) readThrough(ctx context.Context, tx pgx.Tx, plan *Plan, binding *Binding) (map[string]int64, error) {
	perCollection := map[string]int64{}
	conflicts := map[string]*conflictCounter{}
	streams, err := j.openStreams(ctx, tx, false, func(s *stream) {
		collCol := -1
		if s.table.Name == layout.EmbeddingTable {
			collCol = slices.Index(s.file.Header(), "collection_id")
		}
		var counter *conflictCounter
		if j.scope.mode == modeAppend {
			counter = newConflictCounter(tx, s)
			conflicts[s.table.Name] = counter
		}
		s.tap = func(rec []csvstream.Field) {
			if collCol >= 0 {
				perCollection[string(rec[collCol].Value)]++
			}
			counter.add(ctx, rec)
		}
	})
	defer closeStreams(streams)
	if err != nil {
		return nil, err
	}
	for _, s := range streams {
		if err := s.drain(ctx); err != nil {
			return nil, err
		}
		plan.Insert[s.table.Name] = s.sent()
		binding.Files[s.table.Name] = s.file.Sum()
	}
	if j.scope.mode != modeAppend {
		return perCollection, nil
	}
	plan.Conflicts = map[string]int64{}
	for table, c := range conflicts {
		if c == nil {
			continue // composite key: not counted
		}
		n, err := c.total(ctx)
		if err != nil {
			return nil, err
		}
		plan.Conflicts[table] = n
	}
	return perCollection, nil
}

// deleteCount is how many live rows of table the restore deletes.
func (s scope) deleteCount(ctx context.Context, q livedb.Querier, table string) (int64, error) {
	if s.mode == modeAppend {
		return 0, nil
	}
	return s.count(ctx, q, table)
}

// collectionPlan lists, per collection in scope, the live embeddings deleted
// and the backup embeddings written.
func (j *job) collectionPlan(ctx context.Context, q livedb.Querier, backupPerUUID map[string]int64) ([]CollectionPlan, error) {
	names := j.scope.backupNames
	if names == nil {
		var err error
		if names, err = backupfile.Collections(ctx, j.req.Files.File(layout.CollectionTable)); err != nil {
			return nil, err
		}
	}
	byName := map[string]*CollectionPlan{}
	get := func(name string) *CollectionPlan {
		if byName[name] == nil {
			byName[name] = &CollectionPlan{Name: name}
		}
		return byName[name]
	}
	for id, n := range backupPerUUID {
		name, ok := names[id]
		if !ok {
			name = "(unknown collection " + id + ")"
		}
		get(name).InsertEmbeddings += n
	}
	if j.scope.mode != modeAppend && slices.Contains(j.tables, layout.EmbeddingTable) {
		rows, err := q.Query(ctx, `
			SELECT c.name, count(e.*) FROM langchain_pg_collection c
			JOIN langchain_pg_embedding e ON e.collection_id = c.uuid
			GROUP BY c.name`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				return nil, err
			}
			if j.scope.mode == modeTruncate || slices.Contains(j.scope.names, name) {
				get(name).DeleteEmbeddings = n
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]CollectionPlan, 0, len(byName))
	for _, p := range byName {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b CollectionPlan) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// conflictBatch is how many keys one lookup checks: large enough to be
// quick, small enough to keep memory flat.
const conflictBatch = 5000

// conflictCounter counts the rows of a file whose primary key the target
// already has, looking keys up in batches as the file streams by. Tables
// with a composite key are not counted (nil counter).
type conflictCounter struct {
	q    livedb.Querier
	sql  string
	col  int
	keys []string
	n    int64
	err  error
}

func newConflictCounter(q livedb.Querier, s *stream) *conflictCounter {
	if len(s.table.PrimaryKey) != 1 {
		return nil
	}
	key := s.table.PrimaryKey[0]
	col := slices.Index(s.file.Header(), key)
	if col < 0 {
		return nil
	}
	id := pgx.Identifier{key}.Sanitize()
	return &conflictCounter{
		q: q, col: col,
		// Typed as the column, so the primary key's index serves the lookup.
		sql: fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = ANY($1::%s[])",
			pgx.Identifier{s.table.Name}.Sanitize(), id, s.table.Columns[key].Type),
	}
}

func (c *conflictCounter) add(ctx context.Context, rec []csvstream.Field) {
	if c == nil || c.err != nil {
		return
	}
	c.keys = append(c.keys, string(rec[c.col].Value))
	if len(c.keys) >= conflictBatch {
		c.flush(ctx)
	}
}

func (c *conflictCounter) flush(ctx context.Context) {
	if len(c.keys) == 0 || c.err != nil {
		return
	}
	var n int64
	if err := c.q.QueryRow(ctx, c.sql, c.keys).Scan(&n); err != nil {
		c.err = fmt.Errorf("look up existing keys: %w", err)
	}
	c.n += n
	c.keys = c.keys[:0]
}

func (c *conflictCounter) total(ctx context.Context) (int64, error) {
	c.flush(ctx)
	return c.n, c.err
}
