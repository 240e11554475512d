package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/compare"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// badRowSamples is how many bad rows inspect describes; the rest are counted.
const badRowSamples = 5

// Inspect reads a set fully and checks it against the target database,
// changing nothing. An unreachable database is a problem in the report, not
// a failure: the files are still worth knowing about.
func (s *Service) Inspect(ctx context.Context, args schemas.InspectArgs) (*schemas.InspectResult, error) {
	files, db, err := s.resolve(ctx, args.BackupPath, args.Timestamp, args.DBConnection)
	if err != nil {
		return nil, err
	}
	defer files.Close()
	release, err := s.readSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	req := restore.Request{
		Set:           files.Set,
		Files:         files,
		Tables:        args.Tables,
		Truncate:      args.TruncateBeforeRestore,
		Collections:   args.Collections,
		OnConflict:    args.OnConflict,
		Database:      db.Name,
		Source:        sourceOf(db),
		OtherDatabase: args.AllowOtherDatabase,
		SnapshotDir:   s.Catalog.GlobalDir(),
	}
	conn, connErr := db.Connect(ctx)
	if connErr != nil {
		if apierr.TypeOf(connErr) == apierr.Cancelled {
			return nil, connErr
		}
		s.logger().WarnContext(ctx, "inspect without the target database", "target", db.Name, "err", connErr)
		conn = nil
	} else {
		defer conn.Close(context.WithoutCancel(ctx))
	}
	res, err := InspectSet(ctx, conn, req, args.Diff)
	if err != nil {
		return nil, err
	}
	res.BackupInfo.BackupPath = args.BackupPath
	if connErr != nil {
		// Connect's message names the database and the cause, never a password.
		res.Problems = append(res.Problems, apierr.MessageOf(connErr)+"; the set was read, but not checked against the target database")
	}
	return res, nil
}

// InspectSet reads every row of req.Set and, when conn is not nil, checks
// the set against the target and plans the restore req describes, and with
// diff compares the set's embeddings with the live ones, all in one
// read-only snapshot that blocks nobody (without a connection there is no
// plan, so the set is not restorable). Problems that would stop a restore
// are reported, not returned; the error is for a call that cannot be
// inspected at all.
func InspectSet(ctx context.Context, conn *pgx.Conn, req restore.Request, diff bool) (*schemas.InspectResult, error) {
	if req.Files == nil {
		files, err := req.Set.Open(ctx)
		if err != nil {
			return nil, err
		}
		defer files.Close()
		req.Files = files
	}
	tables, err := restore.Validate(ctx, req)
	if err != nil {
		return nil, err
	}
	if conn == nil {
		return inspectFiles(ctx, req.Files, tables, nil, nil, nil)
	}
	var res *schemas.InspectResult
	err = restore.ReadOnly(ctx, conn, func(tx pgx.Tx) error {
		live, err := livedb.Describe(ctx, tx)
		if err != nil {
			return err
		}
		// The plan reads the files through too: on the other core, while
		// the report reads them here. It is shown only if the files and
		// tables fit.
		type planned struct {
			plan *restore.Plan
			err  error
		}
		planCtx, stopPlan := context.WithCancel(ctx)
		defer stopPlan()
		done := make(chan planned, 1)
		go func() {
			p, _, err := restore.MakePlan(planCtx, tx, req, false)
			done <- planned{p, err}
		}()
		var diffFile *compare.File
		var diffErr error
		if diff {
			diffFile, diffErr = compare.NewFile(ctx, req.Files, live)
		}
		res, err = inspectFiles(ctx, req.Files, tables, live, targetReport(req.Database, live), diffFile)
		if err != nil || len(res.Problems) > 0 {
			stopPlan()
		}
		p := <-done // the transaction is the plan's until it returns
		if err != nil {
			return err
		}
		switch {
		case len(res.Problems) > 0:
		case p.err != nil:
			res.Problems = append(res.Problems, apierr.MessageOf(p.err))
		default:
			res.Plan = planOut(p.plan)
			res.Restorable = true
		}
		if diff {
			return diffInto(ctx, tx, diffFile, diffErr, live, res)
		}
		return nil
	})
	return res, err
}

// diffInto compares the set's embeddings, collected as the report read
// them, with the live ones into res: a comparison that cannot be made is a
// problem, not a failure.
func diffInto(ctx context.Context, tx pgx.Tx, f *compare.File, err error, live *livedb.Live, res *schemas.InspectResult) error {
	var d *compare.Diff
	if err == nil {
		d, err = compare.Embeddings(ctx, tx, f, live)
	}
	if apierr.TypeOf(err) == apierr.Cancelled {
		return err
	}
	if err != nil {
		res.Problems = append(res.Problems, "cannot compare with the live rows: "+apierr.MessageOf(err))
		res.Restorable = false
		return nil
	}
	res.Diff = diffOut(d)
	return nil
}

// inspectFiles reads each table's file through, and the set's collections.
// live and its report, when known, say how each column is read and what
// each file must fit; diff, when set, collects the embeddings as they are
// read.
func inspectFiles(ctx context.Context, set *catalog.Files, tables []string, live *livedb.Live, target *schemas.TargetReport, diff *compare.File) (*schemas.InspectResult, error) {
	res := &schemas.InspectResult{
		Target:         target,
		BackupInfo:     schemas.BackupInfo{Timestamp: set.Timestamp, BackupDate: set.BackupDate()},
		Files:          map[string]schemas.FileReport{},
		Collections:    []schemas.BackupCollection{},
		ChecksumStatus: "no_manifest",
		Problems:       []string{},
	}
	manifest := set.Manifest()
	if manifest != nil {
		res.ChecksumStatus = "verified"
	}
	perCollection := map[string]int64{}
	for _, name := range tables {
		var t *livedb.Table
		if live != nil {
			t = live.Tables[name]
		}
		var collect *compare.File
		if name == layout.EmbeddingTable {
			collect = diff
		}
		report, problems, mismatch := inspectFile(ctx, set.File(name), t, backupfile.Expect(set.Set, manifest, name), perCollection, collect)
		if err := ctx.Err(); err != nil {
			return nil, apierr.Wrap(apierr.Cancelled, err, "inspect cancelled")
		}
		res.Files[name] = report
		res.Problems = append(res.Problems, problems...)
		if mismatch {
			res.ChecksumStatus = "mismatch"
		}
		if target != nil {
			res.Problems = append(res.Problems, fit(name, report, t, target)...)
		}
	}
	names, err := backupfile.Collections(ctx, set.File(layout.CollectionTable))
	if err != nil {
		res.Problems = append(res.Problems, apierr.MessageOf(err))
	}
	for id, name := range names {
		res.Collections = append(res.Collections, schemas.BackupCollection{Name: name, UUID: id, Embeddings: perCollection[id]})
	}
	slices.SortFunc(res.Collections, func(a, b schemas.BackupCollection) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	return res, nil
}

// inspectFile reads a whole file, noting bad rows instead of stopping at the
// first, counting embeddings per collection uuid, and checking the file
// against expect at its end. Against a live table it reads the file as a
// restore would send it (binary, where the columns allow), so it refuses
// what the restore would. diff, when set, collects the good records.
func inspectFile(ctx context.Context, f store.Object, t *livedb.Table, expect *backupfile.Expectation, perCollection map[string]int64, diff *compare.File) (rep schemas.FileReport, problems []string, mismatch bool) {
	rep = schemas.FileReport{File: path.Base(f.Key()), Header: []string{}, BadRowSamples: []schemas.BadRow{}}
	r, err := backupfile.Open(ctx, f, inspectColumns(t))
	if err != nil {
		return rep, []string{apierr.MessageOf(err)}, false
	}
	defer r.Close()
	binary := t != nil && r.CanEncodeBinary()
	if binary {
		r.EncodeBinary()
	}
	if diff != nil {
		jsonb := t != nil && t.Columns["cmetadata"].Kind == backupfile.JSONB
		if err := diff.Begin(r.Name(), r.Header(), binary, jsonb); err != nil {
			diff = nil // Embeddings reports it
		}
	}
	rep.Bytes, rep.Size, rep.Header = r.Size(), layout.HumanSize(r.Size()), r.Header()
	collCol := -1 // counted in the embedding file only
	if slices.Contains(r.Header(), "embedding") {
		collCol = slices.Index(r.Header(), "collection_id")
	}
	firstBad := ""
	for {
		if r.Records()%1024 == 0 && ctx.Err() != nil {
			return rep, nil, false
		}
		rec, err := r.Next()
		var bad *backupfile.RowError
		if errors.As(err, &bad) {
			if rep.BadRows == 0 {
				firstBad = bad.Where() // "record N" in a binary file
			}
			rep.BadRows++
			if len(rep.BadRowSamples) < badRowSamples {
				rep.BadRowSamples = append(rep.BadRowSamples, schemas.BadRow{File: rep.File, Line: bad.Line, Column: bad.Column, Reason: bad.Reason})
			}
			continue
		}
		if err == io.EOF {
			if err := expect.Check(r); err != nil {
				mismatch = true
				problems = append(problems, apierr.MessageOf(err))
			}
			break
		}
		if err != nil {
			problems = append(problems, apierr.MessageOf(err))
			break
		}
		if collCol >= 0 && !r.Raw()[collCol].IsNull() {
			perCollection[string(r.Raw()[collCol].Value)]++
		}
		if diff != nil {
			diff.Add(r.Raw(), rec)
		}
	}
	rep.Rows, rep.LegacyJSONRows, rep.SHA256 = r.Records(), r.Converted(), r.Sum()
	if lo, hi := r.Dimensions(); hi > 0 {
		rep.VectorDimensions = &schemas.DimRange{Min: lo, Max: hi}
	}
	if rep.BadRows > 0 {
		first := rep.BadRowSamples[0]
		problems = append(problems, fmt.Sprintf("%s has %d row(s) a restore would refuse; the first is %s: %s", rep.File, rep.BadRows, firstBad, first.Reason))
	}
	return rep, problems, mismatch
}

// inspectColumns reads each column as the live table t would (any
// dimension: they are compared once, at the end), and a column t lacks (or
// every column, when t is unknown) by LangChain's names, so the file can
// still be read through.
func inspectColumns(t *livedb.Table) backupfile.Columns {
	return func(name string) (backupfile.Column, error) {
		if t != nil {
			if c, ok := t.Columns[name]; ok {
				return backupfile.Column{Kind: c.Kind}, nil
			}
		}
		switch name {
		case "cmetadata":
			return backupfile.Column{Kind: backupfile.JSON}, nil
		case "embedding":
			return backupfile.Column{Kind: backupfile.Vector}, nil
		}
		return backupfile.Column{}, nil
	}
}

// targetReport describes the live tables for the report.
func targetReport(database string, live *livedb.Live) *schemas.TargetReport {
	rep := &schemas.TargetReport{Database: database, Tables: map[string]schemas.TableReport{}, Collections: []schemas.LiveCollection{}}
	for _, name := range layout.Tables() {
		t := live.Tables[name]
		if t == nil {
			rep.Tables[name] = schemas.TableReport{Columns: []string{}, MissingColumns: []string{}}
			continue
		}
		tr := schemas.TableReport{Exists: true, Rows: live.Rows[name], Columns: t.Order, MissingColumns: []string{}}
		if v, ok := t.Vector(); ok {
			tr.VectorType, tr.VectorDimension = v.Type, v.Dimension
		}
		rep.Tables[name] = tr
	}
	for _, c := range live.Collections {
		rep.Collections = append(rep.Collections, schemas.LiveCollection{Name: c.Name, Embeddings: c.Embeddings})
	}
	return rep
}

// fit checks a file against its live table, noting the columns it lacks in
// the target's report.
func fit(name string, rep schemas.FileReport, t *livedb.Table, target *schemas.TargetReport) []string {
	if t == nil {
		return []string{fmt.Sprintf("table %s does not exist in the target database", name)}
	}
	tr := target.Tables[name]
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

// resolve finds the set a call names and the database it may use, and
// opens the set's files: before anything connects or locks, and once, so
// that every later read of the call sees the files it found. The caller
// closes them.
func (s *Service) resolve(ctx context.Context, backupPath, timestamp, dbConnection string) (*catalog.Files, *dbaccess.Database, error) {
	dir, err := s.Catalog.Resolve(ctx, backupPath)
	if err != nil {
		return nil, nil, err
	}
	set, err := s.Catalog.FindSet(ctx, dir, timestamp)
	if err != nil {
		return nil, nil, err
	}
	db, err := s.Policy.Resolve(dbConnection)
	if err != nil {
		return nil, nil, err
	}
	s.hooks.run(s.hooks.beforeOpen, set)
	files, err := set.Open(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.hooks.run(s.hooks.afterOpen, set)
	return files, db, nil
}
