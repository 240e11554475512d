package restore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/backup"
)

// takeSnapshot saves the rows about to be deleted or overwritten as a
// backup set, in this transaction, so it holds exactly what is replaced. It
// returns nil when there is nothing to save.
func (j *job) takeSnapshot(ctx context.Context, tx pgx.Tx) (*Snapshot, error) {
	if j.req.SnapshotDir == "" || j.req.DryRun || !j.scope.replaces() {
		return nil, nil
	}
	if n, err := j.scope.liveRows(ctx, tx); err != nil || n == 0 {
		return nil, err // nothing to save: no set that would only mislead
	}
	// A per-collection snapshot holds both tables' rows of those collections,
	// whatever tables are restored: undoing needs the names' collection rows.
	tables := j.tables
	if j.scope.mode == modeCollections {
		tables = nil
	}
	w, err := backup.Write(ctx, tx, backup.Request{
		Dir:         j.req.SnapshotDir,
		Tables:      tables,
		Collections: j.scope.liveCollections,
		TaskID:      "pre-restore snapshot",
		Database:    j.req.Database,
		DeferLog:    true,
		Snapshot:    true,
	})
	if err != nil {
		return nil, err
	}
	j.snapshot = w
	snap := &Snapshot{Dir: w.Dir, Timestamp: w.Timestamp, Rows: map[string]int64{}, Undo: Undo{Tables: j.tables}}
	for _, t := range w.Manifest.Tables {
		snap.Rows[t] = w.Manifest.Files[t].Rows
	}
	switch {
	case j.scope.mode != modeCollections:
		snap.Undo.Truncate = true
	case len(j.scope.liveCollections) > 0:
		snap.Undo.Collections = j.scope.liveCollections
	default:
		// None of the collections existed: undoing means emptying them,
		// which a restore of the (empty) snapshot cannot express.
	}
	return snap, nil
}

// discardSnapshot removes a snapshot written by a restore that then failed:
// the tables still hold those rows, and a set that describes no change would
// only mislead.
func (j *job) discardSnapshot() {
	if j.snapshot != nil {
		backup.Remove(j.snapshot)
	}
}

// publishSnapshot writes the folder's log for the snapshot once the restore
// committed: only then the snapshot became real, and the log describes the
// folder's newest set.
func (j *job) publishSnapshot(res *Result) {
	if j.snapshot == nil {
		return
	}
	if j.snapshot.WriteLog(); j.snapshot.LogError != nil {
		res.Errors = append(res.Errors, "the snapshot is complete, but the folder's backup log could not be updated: "+j.snapshot.LogError.Error())
	}
}
