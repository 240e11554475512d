package restore

import (
	"context"
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
	sources, err := r.openSources()
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	if err != nil {
		return nil, nil, err
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

	// Read every row, counting the backup's embeddings per collection.
	perCollection := map[string]int64{} // backup collection uuid → embeddings
	for _, s := range sources {
		r.current = s
		if s.table.Name == schemas.EmbeddingTable {
			col := slices.Index(s.header, "collection_id")
			s.tap = func(rec []csvstream.Field) {
				if col >= 0 {
					perCollection[string(rec[col].Value)]++
				}
			}
		}
		if _, err := io.Copy(io.Discard, s); err != nil {
			return nil, nil, err
		}
		rows, _, _ := s.counts()
		plan.Insert[s.table.Name] = rows
		binding.Files[s.table.Name] = s.sum()
	}
	r.current = nil

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
	switch s.mode {
	case modeTruncate:
		return countRows(ctx, q, table)
	case modeCollections:
		if table == schemas.CollectionTable && !slices.Contains(s.tables, table) {
			return 0, nil
		}
		var n int64
		err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" "+collectionWhere(table), s.names).Scan(&n)
		return n, err
	}
	return 0, nil
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
	slices.SortFunc(out, func(a, b schemas.CollectionPlan) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}
