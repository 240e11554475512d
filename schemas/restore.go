package schemas

// RestoreArgs are the arguments of restore_vector_backup. The legacy API's
// names are kept.
type RestoreArgs struct {
	BackupPath            string   `json:"backup_path" jsonschema:"minLength=1,maxLength=4096" jsonschema_description:"A relative_path from list_vector_backups (relative to the project root, or absolute; must be inside the backup root), e.g. ./data_pipeline/training_data/task_20250721_213627/vector_bak."`
	Timestamp             string   `json:"timestamp" jsonschema:"pattern=^(\\d{8}_\\d{6}|latest)$" jsonschema_description:"YYYYMMDD_HHMMSS as listed, or latest: the newest complete set in backup_path."`
	Tables                []string `json:"tables,omitempty" jsonschema:"minItems=1,uniqueItems=true,enum=langchain_pg_collection,enum=langchain_pg_embedding" jsonschema_description:"Default both; collections are restored before embeddings."`
	TruncateBeforeRestore bool     `json:"truncate_before_restore,omitempty" jsonschema:"default=false" jsonschema_description:"Empty the selected tables first (roll back to the backup). Else rows are appended; an existing key is a CONFLICT."`
	DBConnection          string   `json:"db_connection,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Other target database URL, e.g. postgresql://user:password@host:5432/db; refused unless the operator allowed it. Omit for the server's database."`
	PgConn                string   `json:"pg_conn,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Legacy alias of db_connection."`
	Collections           []string `json:"collections,omitempty" jsonschema:"minItems=1,uniqueItems=true,items.minLength=1" jsonschema_description:"Restore only these collections, by name (e.g. [\"sql\"]): their rows are replaced by the backup's, others untouched. Not with truncate_before_restore."`
	OnConflict            string   `json:"on_conflict,omitempty" jsonschema:"enum=error,enum=skip,enum=update,default=error" jsonschema_description:"Appending a row whose key exists: error (fail the whole restore, naming the key), skip (keep the live row), update (the backup row wins)."`
	DryRun                bool     `json:"dry_run,omitempty" jsonschema:"default=false" jsonschema_description:"Check every row and report what the restore would do; writes nothing."`
	Snapshot              *bool    `json:"snapshot,omitempty" jsonschema:"default=true" jsonschema_description:"Before deleting or overwriting rows, save them as a new set in global_vector_bak/ and return it, so the restore can be undone."`
	Online                bool     `json:"online,omitempty" jsonschema:"default=false" jsonschema_description:"With truncate_before_restore: do not block the application's readers (DELETE, not TRUNCATE; only writers wait). They see the old rows until the commit, then the new ones, never an empty or half-written table. Slower, and vector indexes stay and take every row."`
	AllowOtherDatabase    bool     `json:"allow_other_database,omitempty" jsonschema:"default=false" jsonschema_description:"Restore a pre-restore snapshot into a database other than its own; refused otherwise, so an undo never lands elsewhere."`
	ConfirmToken          string   `json:"confirm_token,omitempty" jsonschema:"maxLength=8192" jsonschema_description:"From a CONFIRMATION_REQUIRED answer: a restore that deletes or overwrites rows needs it, once the user approved the plan. Call again with the same arguments plus it."`
}

// Connection returns the requested database, whichever name the caller used.
func (a RestoreArgs) Connection() string {
	if a.DBConnection != "" {
		return a.DBConnection
	}
	return a.PgConn
}

// RestoreResult is the result of restore_vector_backup: a superset of the
// legacy API's data object.
type RestoreResult struct {
	RestorePerformed  bool                          `json:"restore_performed"`
	TruncatePerformed bool                          `json:"truncate_performed"`
	BackupInfo        BackupInfo                    `json:"backup_info"`
	Target            string                        `json:"target" jsonschema_description:"host:port/database."`
	TruncateResults   map[string]TruncateResult     `json:"truncate_results" jsonschema_description:"Per truncated table."`
	RestoreResults    map[string]TableRestoreResult `json:"restore_results" jsonschema_description:"Per restored table."`
	Errors            []string                      `json:"errors"`
	Duration          float64                       `json:"duration" jsonschema_description:"Seconds."`
	Timestamp         string                        `json:"timestamp" jsonschema_description:"Commit time, RFC 3339."`
	DryRun            bool                          `json:"dry_run" jsonschema_description:"True when nothing was written: the counts say what a restore would do."`
	OnConflict        string                        `json:"on_conflict"`
	Collections       []string                      `json:"collections,omitempty" jsonschema_description:"Replaced, in a per-collection restore."`
	Snapshot          *SnapshotInfo                 `json:"snapshot,omitempty" jsonschema_description:"The set holding the rows this restore replaced."`
	IndexesRebuilt    []string                      `json:"indexes_rebuilt,omitempty" jsonschema_description:"Vector indexes dropped before the load and built again after it."`
}

// SnapshotInfo names the set a restore saved before replacing rows.
type SnapshotInfo struct {
	BackupPath string           `json:"backup_path"`
	Timestamp  string           `json:"timestamp"`
	Rows       map[string]int64 `json:"rows" jsonschema_description:"Rows saved per table."`
	Undo       RestoreArgs      `json:"undo" jsonschema_description:"restore_vector_backup arguments that undo this restore."`
	Pruned     []string         `json:"pruned,omitempty" jsonschema_description:"Timestamps of older snapshots removed from the folder after the commit, keeping the newest the operator allows (--keep-snapshots)."`
}

// RestorePlan is what a restore will do: reported with CONFIRMATION_REQUIRED
// and by inspect.
type RestorePlan struct {
	Mode        string           `json:"mode" jsonschema:"enum=truncate,enum=collections,enum=append"`
	Tables      []string         `json:"tables"`
	OnConflict  string           `json:"on_conflict"`
	Delete      map[string]int64 `json:"delete" jsonschema_description:"Live rows to delete, per table."`
	Insert      map[string]int64 `json:"insert" jsonschema_description:"Rows to write, per table (before conflicts)."`
	Conflicts   map[string]int64 `json:"conflicts,omitempty" jsonschema_description:"Backup rows whose key exists in the target, per table (append)."`
	Collections []CollectionPlan `json:"collections" jsonschema_description:"Per collection in scope."`
	Snapshot    bool             `json:"snapshot" jsonschema_description:"Whether the replaced rows are saved first."`
	Indexes     []string         `json:"rebuild_indexes,omitempty" jsonschema_description:"Vector indexes dropped before the load and built again after it."`
}

// CollectionPlan is a restore's effect on one collection.
type CollectionPlan struct {
	Name             string `json:"name"`
	DeleteEmbeddings int64  `json:"delete_embeddings"`
	InsertEmbeddings int64  `json:"insert_embeddings"`
}

// BackupInfo names the set a restore read.
type BackupInfo struct {
	BackupPath string `json:"backup_path"`
	Timestamp  string `json:"timestamp"`
	BackupDate string `json:"backup_date"`
}

// TruncateResult reports one truncated table.
type TruncateResult struct {
	Success    bool    `json:"success"`
	RowsBefore int64   `json:"rows_before"`
	RowsAfter  int64   `json:"rows_after"`
	Duration   float64 `json:"duration"`
}

// TableRestoreResult reports one restored table.
type TableRestoreResult struct {
	Success           bool    `json:"success"`
	SourceFile        string  `json:"source_file"`
	RowsRestored      int64   `json:"rows_restored" jsonschema_description:"Rows written (not the table's count)."`
	FileSize          string  `json:"file_size"`
	FileBytes         int64   `json:"file_bytes"`
	Duration          float64 `json:"duration"`
	MetadataConverted int64   `json:"metadata_converted" jsonschema_description:"Rows whose Python dict text was converted to JSON."`
	RowsSkipped       int64   `json:"rows_skipped"`
}
