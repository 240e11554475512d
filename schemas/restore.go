package schemas

// RestoreArgs are the arguments of restore_vector_backup. The legacy API's
// names are kept.
type RestoreArgs struct {
	BackupPath            string   `json:"backup_path" jsonschema:"minLength=1,maxLength=4096" jsonschema_description:"Folder holding the set, as list_vector_backups gives it in relative_path (relative to the project root, or absolute; must be inside the backup root), e.g. ./data_pipeline/training_data/task_20250721_213627/vector_bak."`
	Timestamp             string   `json:"timestamp" jsonschema:"pattern=^(\\d{8}_\\d{6}|latest)$" jsonschema_description:"Set to restore, YYYYMMDD_HHMMSS as listed (e.g. 20250721_215758), or latest for the newest complete set in backup_path."`
	Tables                []string `json:"tables,omitempty" jsonschema:"minItems=1,uniqueItems=true,enum=langchain_pg_collection,enum=langchain_pg_embedding" jsonschema_description:"Tables to restore; default both. Collections are always restored before embeddings."`
	TruncateBeforeRestore bool     `json:"truncate_before_restore,omitempty" jsonschema:"default=false" jsonschema_description:"Empty the selected tables first (rollback to the backup). When false, rows are appended and an existing key is a CONFLICT."`
	DBConnection          string   `json:"db_connection,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Other target database URL, e.g. postgresql://user:password@host:5432/db. Refused unless the operator allowed it; omit to use the server's database."`
	PgConn                string   `json:"pg_conn,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Legacy alias of db_connection."`
	Collections           []string `json:"collections,omitempty" jsonschema:"minItems=1,uniqueItems=true,items.minLength=1" jsonschema_description:"Restore only these collections, by name (e.g. [\"sql\"]): their rows in the target are replaced by the backup's, other collections are untouched. Do not combine with truncate_before_restore."`
	OnConflict            string   `json:"on_conflict,omitempty" jsonschema:"enum=error,enum=skip,enum=update,default=error" jsonschema_description:"When appending, what to do with a backup row whose key already exists: error (fail the whole restore, naming the key), skip (keep the live row), update (the backup row wins)."`
	DryRun                bool     `json:"dry_run,omitempty" jsonschema:"default=false" jsonschema_description:"Validate every row and report exactly what the restore would do, then roll back: writes nothing."`
	Snapshot              *bool    `json:"snapshot,omitempty" jsonschema:"default=true" jsonschema_description:"Before deleting or overwriting rows, save them as a new backup set in global_vector_bak/ and return it, so the restore can be undone. Default true."`
	Online                bool     `json:"online,omitempty" jsonschema:"default=false" jsonschema_description:"With truncate_before_restore: replace the rows without blocking the application's readers (DELETE instead of TRUNCATE, under a lock that stops writers only). Readers keep seeing the old rows until the restore commits, then the new ones; never an empty or half-written table. Somewhat slower; the tables are vacuumed after."`
	AllowOtherDatabase    bool     `json:"allow_other_database,omitempty" jsonschema:"default=false" jsonschema_description:"Restore a pre-restore snapshot into a database other than the one it was taken from. Refused otherwise, so that an undo never lands in another database."`
	ConfirmToken          string   `json:"confirm_token,omitempty" jsonschema:"maxLength=8192" jsonschema_description:"Token from a CONFIRMATION_REQUIRED answer: a restore that deletes or overwrites rows runs only with it, after the user approved the plan. Call again with the same arguments plus this token."`
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
	Target            string                        `json:"target" jsonschema_description:"Database restored into, host:port/database."`
	TruncateResults   map[string]TruncateResult     `json:"truncate_results" jsonschema_description:"Per truncated table."`
	RestoreResults    map[string]TableRestoreResult `json:"restore_results" jsonschema_description:"Per restored table."`
	Errors            []string                      `json:"errors"`
	Duration          float64                       `json:"duration" jsonschema_description:"Seconds the whole restore took."`
	Timestamp         string                        `json:"timestamp" jsonschema_description:"When the restore committed, RFC 3339."`
	DryRun            bool                          `json:"dry_run" jsonschema_description:"True when nothing was written: the counts say what the restore would do."`
	OnConflict        string                        `json:"on_conflict"`
	Collections       []string                      `json:"collections,omitempty" jsonschema_description:"Collections replaced, for a per-collection restore."`
	Snapshot          *SnapshotInfo                 `json:"snapshot,omitempty" jsonschema_description:"The backup set holding the rows this restore replaced; restore it (see undo) to undo."`
}

// SnapshotInfo names the set a restore saved before replacing rows.
type SnapshotInfo struct {
	BackupPath string           `json:"backup_path"`
	Timestamp  string           `json:"timestamp"`
	Rows       map[string]int64 `json:"rows" jsonschema_description:"Rows saved per table."`
	Undo       RestoreArgs      `json:"undo" jsonschema_description:"Arguments for restore_vector_backup that undo this restore."`
	Pruned     []string         `json:"pruned,omitempty" jsonschema_description:"Timestamps of older snapshot sets removed from the same folder after this restore committed, to keep the newest ones the operator allows (--keep-snapshots)."`
}

// RestorePlan is what a restore will do: reported with CONFIRMATION_REQUIRED
// and by inspect.
type RestorePlan struct {
	Mode        string           `json:"mode" jsonschema:"enum=truncate,enum=collections,enum=append"`
	Tables      []string         `json:"tables"`
	OnConflict  string           `json:"on_conflict"`
	Delete      map[string]int64 `json:"delete" jsonschema_description:"Live rows that will be deleted, per table."`
	Insert      map[string]int64 `json:"insert" jsonschema_description:"Backup rows that will be written, per table (before conflicts)."`
	Conflicts   map[string]int64 `json:"conflicts,omitempty" jsonschema_description:"Backup rows whose key exists in the target, per table (append mode)."`
	Collections []CollectionPlan `json:"collections" jsonschema_description:"Per collection in scope."`
	Snapshot    bool             `json:"snapshot" jsonschema_description:"Whether the replaced rows are saved first."`
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
	RowsRestored      int64   `json:"rows_restored" jsonschema_description:"Rows this restore wrote (not the table's count)."`
	FileSize          string  `json:"file_size"`
	FileBytes         int64   `json:"file_bytes"`
	Duration          float64 `json:"duration"`
	MetadataConverted int64   `json:"metadata_converted" jsonschema_description:"Rows whose JSON columns were legacy Python dict text, converted to JSON."`
	RowsSkipped       int64   `json:"rows_skipped"`
}
