package service

import (
	"cmp"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/compare"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/restore"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

// restoreResult presents what the core did as the tools' result, naming
// folders as callers name them (relative to the project root) and building
// the arguments that undo the restore.
func (s *Service) restoreResult(call *restoreCall, r *restore.Result) *schemas.RestoreResult {
	set := call.req.Set
	res := &schemas.RestoreResult{
		RestorePerformed:  r.RestorePerformed,
		TruncatePerformed: r.TruncatePerformed,
		BackupInfo:        schemas.BackupInfo{BackupPath: call.args.BackupPath, Timestamp: set.Timestamp, BackupDate: set.BackupDate()},
		Target:            call.db.Name,
		TruncateResults:   map[string]schemas.TruncateResult{},
		RestoreResults:    map[string]schemas.TableRestoreResult{},
		Errors:            r.Errors,
		Duration:          (r.Duration + r.Analyze).Seconds(),
		Timestamp:         r.Finished.Format(time.RFC3339),
		DryRun:            r.DryRun,
		OnConflict:        cmp.Or(call.req.OnConflict, restore.OnConflictError),
		Collections:       r.Collections,
		IndexesRebuilt:    r.Indexes,
	}
	for table, t := range r.TruncateResults {
		res.TruncateResults[table] = schemas.TruncateResult{
			Success: true, RowsBefore: t.RowsBefore, RowsAfter: t.RowsAfter, Duration: t.Duration.Seconds(),
		}
	}
	for table, t := range r.RestoreResults {
		res.RestoreResults[table] = schemas.TableRestoreResult{
			Success:           true,
			SourceFile:        t.File,
			RowsRestored:      t.RowsRestored,
			FileSize:          layout.HumanSize(t.FileBytes),
			FileBytes:         t.FileBytes,
			Duration:          t.Duration.Seconds(),
			MetadataConverted: t.MetadataConverted,
			RowsSkipped:       t.RowsSkipped,
		}
	}
	if snap := r.Snapshot; snap != nil {
		path := s.Catalog.RelativePath(snap.Dir)
		res.Snapshot = &schemas.SnapshotInfo{
			BackupPath: path,
			Timestamp:  snap.Timestamp,
			Rows:       snap.Rows,
			Undo: schemas.RestoreArgs{
				BackupPath:            path,
				Timestamp:             snap.Timestamp,
				Tables:                snap.Undo.Tables,
				TruncateBeforeRestore: snap.Undo.Truncate,
				Collections:           snap.Undo.Collections,
				Online:                snap.Undo.Online,
				DBConnection:          call.db.ConnectionWithoutPassword(),
			},
		}
	}
	return res
}

// planOut presents a restore plan.
func planOut(p *restore.Plan) *schemas.RestorePlan {
	out := &schemas.RestorePlan{
		Mode:        p.Mode,
		Tables:      p.Tables,
		OnConflict:  p.OnConflict,
		Delete:      p.Delete,
		Insert:      p.Insert,
		Conflicts:   p.Conflicts,
		Collections: make([]schemas.CollectionPlan, len(p.Collections)),
		Snapshot:    p.Snapshot,
		Indexes:     p.Indexes,
	}
	for i, c := range p.Collections {
		out.Collections[i] = schemas.CollectionPlan(c)
	}
	return out
}

// diffOut presents a comparison.
func diffOut(d *compare.Diff) *schemas.Diff {
	out := &schemas.Diff{Key: d.Key, Totals: countsOut(d.Totals), Collections: make([]schemas.CollectionDiff, len(d.Collections))}
	for i, c := range d.Collections {
		out.Collections[i] = schemas.CollectionDiff{Name: c.Name, DiffCounts: countsOut(c.Counts)}
	}
	return out
}

func countsOut(c compare.Counts) schemas.DiffCounts {
	out := schemas.DiffCounts{
		OnlyInBackup:   c.OnlyInBackup,
		OnlyInDatabase: c.OnlyInDatabase,
		Changed:        c.Changed,
		Identical:      c.Identical,
		Examples: schemas.DiffExamples{
			OnlyInBackup:   nonNil(c.OnlyInBackupKeys),
			OnlyInDatabase: nonNil(c.OnlyInDatabaseKeys),
			Changed:        make([]schemas.ChangedRow, len(c.ChangedKeys)),
			Identical:      nonNil(c.IdenticalKeys),
		},
	}
	for i, ch := range c.ChangedKeys {
		out.Examples.Changed[i] = schemas.ChangedRow(ch)
	}
	return out
}
