package restore

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// Plan works out what Run would do with req without changing anything: it
// reads every row of the files (a bad row fails the plan as it would fail the
// restore) and the live tables in one read-only snapshot, taking no lock that
// blocks the application. It returns the plan to show the user and the
// binding a confirmation token seals.
func Plan(ctx context.Context, conn *pgx.Conn, req Request) (*schemas.RestorePlan, *Binding, error) {
	r, err := newRun(req)
	if err != nil {
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, classify(ctx, err, nil)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	r.ctx, r.tx = ctx, tx
	plan, binding, err := r.plan()
	if err != nil {
		return nil, nil, classify(ctx, err, r.current)
	}
	return plan, binding, nil
}

func (r *run) plan() (*schemas.RestorePlan, *Binding, error) {
	var err error
	if r.scope, err = r.resolveScope(); err != nil {
		return nil, nil, err
	}
	if r.req.Truncate {
		if _, err := r.checkTruncate(); err != nil {
			return nil, nil, err
		}
	}
	plan := &schemas.RestorePlan{
		Mode:        r.scope.mode,
		Tables:      r.tables,
		OnConflict:  r.req.OnConflict,
		Delete:      map[string]int64{},
		Insert:      map[string]int64{},
		Collections: []schemas.CollectionPlan{},
		Snapshot:    r.req.Snapshot != nil && r.scope.replaces(),
	}
	binding := &Binding{Files: map[string]string{}}

	// Read every row, counting the backup's embeddings per collection and,
	// for an append, the rows whose key the target already has.
	perCollection := map[string]int64{} // backup collection uuid → embeddings
	conflicts := map[string]*conflictCounter{}
	sources, err := r.openSources(func(s *source) {
		collCol := -1
		if s.table.Name == schemas.EmbeddingTable {
			collCol = slices.Index(s.header, "collection_id")
		}
		var counter *conflictCounter
		if r.scope.mode == modeAppend {
			counter = newConflictCounter(r.ctx, r.tx, s)
			conflicts[s.table.Name] = counter
		}
		s.tap = func(rec []csvstream.Field) {
			if collCol >= 0 {
				perCollection[string(rec[collCol].Value)]++
			}
			counter.add(rec)
		}
	})
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	if err != nil {
		return nil, nil, err
	}
	for _, s := range sources {
		r.current = s
		if _, err := io.Copy(io.Discard, s); err != nil {
			return nil, nil, err
		}
		rows, _, _ := s.counts()
		plan.Insert[s.table.Name] = rows
		binding.Files[s.table.Name] = s.sum()
	}
	r.current = nil
	if r.scope.mode == modeAppend {
		plan.Conflicts = map[string]int64{}
		for table, c := range conflicts {
			if c == nil {
				continue // composite key: not counted
			}
			n, err := c.total()
			if err != nil {
				return nil, nil, err
			}
			plan.Conflicts[table] = n
		}
	}

	for _, t := range r.tables {
		if plan.Delete[t], err = r.scope.deleteCount(r.ctx, r.tx, t); err != nil {
			return nil, nil, err
		}
	}
	if plan.Collections, err = r.collectionPlan(perCollection); err != nil {
		return nil, nil, err
	}
	if binding.State, err = r.scope.fingerprint(r.ctx, r.tx); err != nil {
		return nil, nil, err
	}
	return plan, binding, nil
}

// deleteCount is how many live rows of table the restore deletes.
func (s scope) deleteCount(ctx context.Context, q querier, table string) (int64, error) {
	if s.mode == modeAppend {
		return 0, nil
	}
	return s.count(ctx, q, table)
}

// collectionPlan lists, per collection in scope, the live embeddings deleted
// and the backup embeddings written.
func (r *run) collectionPlan(backupPerUUID map[string]int64) ([]schemas.CollectionPlan, error) {
	names := r.scope.backupNames
	if names == nil {
		var err error
		if names, err = backupCollections(r.req.Set.CollectionPath()); err != nil {
			return nil, err
		}
	}
	byName := map[string]*schemas.CollectionPlan{}
	get := func(name string) *schemas.CollectionPlan {
		if byName[name] == nil {
			byName[name] = &schemas.CollectionPlan{Name: name}
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
	if r.scope.mode != modeAppend && slices.Contains(r.tables, schemas.EmbeddingTable) {
		rows, err := r.tx.Query(r.ctx, `
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
			if r.scope.mode == modeTruncate || slices.Contains(r.scope.names, name) {
				get(name).DeleteEmbeddings = n
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]schemas.CollectionPlan, 0, len(byName))
	for _, p := range byName {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b schemas.CollectionPlan) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// conflictBatch is how many keys one lookup checks: large enough to be
// quick, small enough to keep memory flat.
const conflictBatch = 5000

// conflictCounter counts the rows of a file whose primary key the target
// already has, looking keys up in batches as the file streams by. Tables
// with a composite key are not counted (nil counter).
type conflictCounter struct {
	ctx  context.Context
	q    querier
	sql  string
	col  int
	keys []string
	n    int64
	err  error
}

func newConflictCounter(ctx context.Context, q querier, s *source) *conflictCounter {
	if len(s.table.PrimaryKey) != 1 {
		return nil
	}
	key := s.table.PrimaryKey[0]
	col := slices.Index(s.header, key)
	if col < 0 {
		return nil
	}
	id := pgx.Identifier{key}.Sanitize()
	return &conflictCounter{
		ctx: ctx, q: q, col: col,
		// Typed as the column, so the primary key's index serves the lookup.
		sql: fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = ANY($1::%s[])",
			pgx.Identifier{s.table.Name}.Sanitize(), id, s.table.Columns[key].Type),
	}
}

func (c *conflictCounter) add(rec []csvstream.Field) {
	if c == nil || c.err != nil {
		return
	}
	c.keys = append(c.keys, string(rec[c.col].Value))
	if len(c.keys) >= conflictBatch {
		c.flush()
	}
}

func (c *conflictCounter) flush() {
	if len(c.keys) == 0 || c.err != nil {
		return
	}
	var n int64
	if err := c.q.QueryRow(c.ctx, c.sql, c.keys).Scan(&n); err != nil {
		c.err = fmt.Errorf("look up existing keys: %w", err)
	}
	c.n += n
	c.keys = c.keys[:0]
}

func (c *conflictCounter) total() (int64, error) {
	c.flush()
	return c.n, c.err
}
