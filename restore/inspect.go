package restore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// badRowSamples is how many bad rows inspect describes; the rest are counted.
const badRowSamples = 5

// Inspect reads every row of req.Set and, when conn is not nil, checks the
// set against the target and plans the restore req describes (without a
// connection there is no plan, so the set is not restorable; the caller says
// why). It changes
// nothing and takes no lock that blocks the application: one read-only
// snapshot. Problems that would stop a restore are reported, not returned;
// the error is for a call that cannot be inspected at all.
func Inspect(ctx context.Context, conn *pgx.Conn, req Request) (*schemas.InspectResult, error) {
	r, err := newRun(req)
	if err != nil {
		return nil, err
	}
	res := &schemas.InspectResult{
		BackupInfo:     schemas.BackupInfo{BackupPath: req.BackupPath, Timestamp: req.Set.Timestamp, BackupDate: req.Set.BackupDate()},
		Files:          map[string]schemas.FileReport{},
		Collections:    []schemas.BackupCollection{},
		ChecksumStatus: "no_manifest",
		Problems:       []string{},
	}
	live := map[string]*table{}
	if conn != nil {
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return nil, classify(ctx, err, nil)
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		r.ctx, r.tx = ctx, tx
		if res.Target, err = r.describeTarget(live); err != nil {
			return nil, classify(ctx, err, nil)
		}
	}
	if r.manifest != nil {
		res.ChecksumStatus = "verified"
	}

	perCollection := map[string]int64{}
	for _, name := range r.tables {
		report, problems, mismatch := inspectFile(ctx, r.setPath(name), live[name], r.expectation(name), perCollection)
		res.Files[name] = report
		res.Problems = append(res.Problems, problems...)
		if mismatch {
			res.ChecksumStatus = "mismatch"
		}
		if res.Target != nil {
			res.Problems = append(res.Problems, fit(name, report, live[name], res.Target)...)
		}
		if err := ctx.Err(); err != nil {
			return nil, apierr.Wrap(apierr.Cancelled, err, "inspect cancelled")
		}
	}
	names, err := backupCollections(req.Set.CollectionPath())
	if err != nil {
		res.Problems = append(res.Problems, apierr.MessageOf(err))
	}
	for id, name := range names {
		res.Collections = append(res.Collections, schemas.BackupCollection{Name: name, UUID: id, Embeddings: perCollection[id]})
	}
	slices.SortFunc(res.Collections, func(a, b schemas.BackupCollection) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})

	if conn != nil && len(res.Problems) == 0 {
		plan, _, err := r.plan()
		if err != nil {
			res.Problems = append(res.Problems, apierr.MessageOf(err))
		} else {
			res.Plan = plan
		}
	}
	res.Restorable = len(res.Problems) == 0 && res.Plan != nil
	return res, nil
}

func (r *run) setPath(table string) string {
	if table == schemas.EmbeddingTable {
		return r.req.Set.EmbeddingPath()
	}
	return r.req.Set.CollectionPath()
}

// describeTarget reads the live tables, filling live with those that exist.
func (r *run) describeTarget(live map[string]*table) (*schemas.TargetReport, error) {
	t := &schemas.TargetReport{Database: r.req.Target, Tables: map[string]schemas.TableReport{}, Collections: []schemas.LiveCollection{}}
	for _, name := range schemas.AllTables {
		tab, err := loadTable(r.ctx, r.tx, name)
		if e, ok := apierr.As(err); ok && e.Type == apierr.SchemaMismatch {
			t.Tables[name] = schemas.TableReport{Columns: []string{}, MissingColumns: []string{}}
			continue
		}
		if err != nil {
			return nil, err
		}
		live[name] = tab
		rows, err := countRows(r.ctx, r.tx, name)
		if err != nil {
			return nil, err
		}
		rep := schemas.TableReport{Exists: true, Rows: rows, Columns: tab.Order, MissingColumns: []string{}}
		for _, c := range tab.Columns {
			if c.Kind == kindVector {
				rep.VectorType, rep.VectorDimension = c.Type, c.Dimension
			}
		}
		t.Tables[name] = rep
	}
	if live[schemas.CollectionTable] == nil || live[schemas.EmbeddingTable] == nil {
		return t, nil
	}
	rows, err := r.tx.Query(r.ctx, `
		SELECT c.name, count(e.*) FROM langchain_pg_collection c
		LEFT JOIN langchain_pg_embedding e ON e.collection_id = c.uuid
		GROUP BY c.name ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("count embeddings per collection: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c schemas.LiveCollection
		if err := rows.Scan(&c.Name, &c.Embeddings); err != nil {
			return nil, err
		}
		t.Collections = append(t.Collections, c)
	}
	return t, rows.Err()
}

// inspectFile reads a whole file, noting bad rows instead of stopping at the
// first, and counting embeddings per collection uuid.
func inspectFile(ctx context.Context, path string, t *table, expect *FileExpectation, perCollection map[string]int64) (rep schemas.FileReport, problems []string, mismatch bool) {
	rep = schemas.FileReport{File: filepath.Base(path), Header: []string{}, BadRowSamples: []schemas.BadRow{}}
	// Dimensions are compared once at the end, so declare none here.
	kindOf := func(col string) (columnKind, int, error) {
		if t != nil {
			if c, ok := t.Columns[col]; ok {
				return c.Kind, 0, nil
			}
		}
		return guessKind(col), 0, nil
	}
	rr, err := openRows(path, kindOf)
	if err != nil {
		return rep, []string{apierr.MessageOf(err)}, false
	}
	defer rr.Close()
	rr.expect = expect
	rep.Bytes, rep.Size, rep.Header = rr.size, catalog.HumanSize(rr.size), rr.header
	collCol := -1 // counted in the embedding file only
	if slices.Contains(rr.header, "embedding") {
		collCol = slices.Index(rr.header, "collection_id")
	}
	for {
		if rr.records%1024 == 0 && ctx.Err() != nil {
			return rep, []string{"cancelled"}, false
		}
		rec, err := rr.next()
		if err == io.EOF {
			break
		}
		var re *rowError
		if errors.As(err, &re) {
			rep.BadRows++
			if len(rep.BadRowSamples) < badRowSamples {
				rep.BadRowSamples = append(rep.BadRowSamples, schemas.BadRow{File: rep.File, Line: re.Line, Column: re.Column, Reason: re.Reason})
			}
			continue
		}
		if err != nil {
			if e, ok := apierr.As(err); ok && e.Details["check"] != nil {
				mismatch = true
			}
			problems = append(problems, apierr.MessageOf(err))
			break
		}
		if collCol >= 0 && !rec[collCol].IsNull() {
			perCollection[string(rec[collCol].Value)]++
		}
	}
	rep.Rows, rep.LegacyJSONRows, rep.SHA256 = rr.records, rr.converted, rr.sum()
	if rr.maxDim > 0 {
		rep.VectorDimensions = &schemas.DimRange{Min: rr.minDim, Max: rr.maxDim}
	}
	if rep.BadRows > 0 {
		first := rep.BadRowSamples[0]
		problems = append(problems, fmt.Sprintf("%s has %d row(s) a restore would refuse; the first is line %d: %s", rep.File, rep.BadRows, first.Line, first.Reason))
	}
	return rep, problems, mismatch
}

// guessKind treats a column the target lacks by LangChain's names, so the
// file can still be read through.
func guessKind(col string) columnKind {
	switch col {
	case "cmetadata":
		return kindJSON
	case "embedding":
		return kindVector
	}
	return kindPlain
}

// fit checks a file against its live table.
func fit(name string, rep schemas.FileReport, t *table, target *schemas.TargetReport) []string {
	tr := target.Tables[name]
	if t == nil {
		return []string{fmt.Sprintf("table %s does not exist in the target database", name)}
	}
	var problems []string
	for _, col := range rep.Header {
		if _, ok := t.Columns[col]; !ok {
			tr.MissingColumns = append(tr.MissingColumns, col)
		}
	}
	if len(tr.MissingColumns) > 0 {
		problems = append(problems, fmt.Sprintf("table %s lacks the backup's column(s) %v", name, tr.MissingColumns))
	}
	if d := rep.VectorDimensions; d != nil && tr.VectorDimension > 0 && (d.Min != tr.VectorDimension || d.Max != tr.VectorDimension) {
		problems = append(problems, fmt.Sprintf("the backup's vectors have %d to %d dimensions, but %s's column is %s", d.Min, d.Max, name, tr.VectorType))
	}
	target.Tables[name] = tr
	return problems
}
