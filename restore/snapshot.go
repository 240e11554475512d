package restore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backup"
	"github.com/vectorops/pgvector-backup-mcp/layout"
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
		Store:       j.req.BackupRoot,
		Dir:         j.req.SnapshotDir,
		Tables:      tables,
		Collections: j.scope.liveCollections,
		TaskID:      "pre-restore snapshot",
		Database:    j.req.Database,
		Source:      j.req.Source,
		Deferred:    true,
		Snapshot:    true,
		// Binary COPY: a third of CSV's cost for the server to write, and
		// read back by this server alone, as a snapshot only ever is.
		Format: layout.FormatPGCopy,
	})
	if err != nil {
		return nil, err
	}
	j.snapshot = w
	snap := &Snapshot{Dir: w.Dir, Timestamp: w.Timestamp, Source: w.Manifest.Source, Rows: map[string]int64{}, Undo: Undo{Tables: j.tables, Online: j.req.Online}}
	for _, t := range w.Manifest.Tables {
		snap.Rows[t] = w.Manifest.Files[t].Rows
	}
	for _, f := range w.Manifest.Files {
		snap.Bytes += f.Bytes
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

// discardSnapshot removes the snapshot of a restore that failed: the tables
// still hold those rows, and a set that describes no change would only
// mislead. It was never published, so no one saw it as a set.
func (j *job) discardSnapshot() {
	if j.snapshot != nil {
		j.snapshot.Discard()
	}
}

// publishSnapshot makes the snapshot a complete set, with its manifest and
// the folder's log, once the restore committed: only then it became real.
// The restore is done whatever happens here; a snapshot that cannot be
// published is reported, and the restore then has no undo.
func (j *job) publishSnapshot(ctx context.Context, res *Result) {
	if j.snapshot == nil {
		return
	}
	if err := j.snapshot.Publish(ctx); err != nil {
		res.Errors = append(res.Errors, "the restore is complete, but its snapshot could not be saved, so this server cannot undo it: "+apierr.MessageOf(err))
		res.Snapshot = nil
		return
	}
	if j.snapshot.LogError != nil {
		res.Errors = append(res.Errors, "the snapshot is complete, but the folder's backup log could not be updated: "+j.snapshot.LogError.Error())
	}
}

// checkSource refuses to restore a snapshot into a database other than the
// one it was taken from, unless the request says so: following an undo
// must put back the database the restore changed, and no other.
func (j *job) checkSource(ctx context.Context, tx pgx.Tx) error {
	m := j.manifest
	if m == nil || m.Kind != layout.KindSnapshot || m.Source == nil || j.req.OtherDatabase {
		return nil
	}
	here, err := backup.Identify(ctx, tx, j.req.Source)
	if err != nil {
		return err
	}
	if m.Source.Same(*here) {
		return nil
	}
	return apierr.New(apierr.Forbidden,
		"snapshot %s holds rows of database %s, not of %s, the database this call would restore into; give the db_connection of %s (as its undo does), or set allow_other_database=true to restore it here on purpose",
		m.Timestamp, m.Source, here, m.Source).With("param", "db_connection").With("reason", "other_database")
}
