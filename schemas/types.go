// Package schemas holds the argument and result types of every tool and the
// JSON Schemas generated from them. The types are the contract: the MCP tools,
// the legacy HTTP API and the command line all speak them, and the published
// schemas are generated from them, never written by hand.
package schemas

// ListArgs are the arguments of list_vector_backups.
type ListArgs struct {
	GlobalOnly bool   `json:"global_only,omitempty" jsonschema:"default=false" jsonschema_description:"List only the global locations (vector_bak/ and global_vector_bak/), skipping task folders."`
	TaskID     string `json:"task_id,omitempty" jsonschema:"minLength=1,maxLength=255,pattern=^[^/\\\\]+$" jsonschema_description:"List only this task folder's backups: a first-level folder name under the backup root, e.g. task_20250721_213627."`
	Limit      int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=1000,default=50" jsonschema_description:"Most backup sets to return in this page, newest first."`
	Cursor     string `json:"cursor,omitempty" jsonschema:"maxLength=1024" jsonschema_description:"next_cursor from the previous page; omit for the first page."`
}

// ListResult is the result of list_vector_backups: a superset of the legacy
// API's data object.
type ListResult struct {
	BackupLocations []Location      `json:"backup_locations" jsonschema_description:"Locations holding this page's sets, in the order of their newest set on the page (the page holds the newest sets across all locations); on the first page, locations without sets follow."`
	Incomplete      []IncompleteSet `json:"incomplete" jsonschema_description:"Sets that cannot be restored: a file missing, or .tmp leftovers of a half-written backup. Given on the first page, the newest 100 (summary.incomplete_sets counts them all)."`
	Summary         Summary         `json:"summary"`
	NextCursor      string          `json:"next_cursor,omitempty" jsonschema_description:"Pass as cursor to get the next page; absent on the last page."`
}

// Location is one folder holding backup sets.
type Location struct {
	Type         string   `json:"type" jsonschema:"enum=global,enum=task"`
	TaskID       string   `json:"task_id,omitempty" jsonschema_description:"Task folder name (task locations only)."`
	RelativePath string   `json:"relative_path" jsonschema_description:"Folder to pass as backup_path, e.g. ./data_pipeline/training_data/vector_bak."`
	Backups      []Backup `json:"backups" jsonschema_description:"Complete sets in this page, newest first."`
}

// Backup describes one complete backup set.
type Backup struct {
	Timestamp       string           `json:"timestamp" jsonschema:"pattern=^\\d{8}_\\d{6}$" jsonschema_description:"Set timestamp YYYYMMDD_HHMMSS; pass it as timestamp."`
	Kind            string           `json:"kind" jsonschema:"enum=backup,enum=snapshot" jsonschema_description:"snapshot: the rows a restore replaced, saved by this server before it (restoring it undoes that restore); backup: any other set."`
	CollectionFile  string           `json:"collection_file"`
	EmbeddingFile   string           `json:"embedding_file"`
	CollectionSize  string           `json:"collection_size" jsonschema_description:"Human size, e.g. 209.0 B."`
	EmbeddingSize   string           `json:"embedding_size" jsonschema_description:"Human size, e.g. 764.0 KB."`
	CollectionBytes int64            `json:"collection_bytes"`
	EmbeddingBytes  int64            `json:"embedding_bytes"`
	BackupDate      string           `json:"backup_date" jsonschema_description:"When the set was written, e.g. 2025-07-21 21:57:58."`
	HasLog          bool             `json:"has_log"`
	LogFile         string           `json:"log_file,omitempty"`
	ManifestFile    string           `json:"manifest_file,omitempty" jsonschema_description:"The set's manifest (sets this server wrote): its row counts, sizes and SHA-256, which inspect and restore verify."`
	RowCounts       map[string]int64 `json:"row_counts,omitempty" jsonschema_description:"Rows per table, where the backup log gives them."`
}

// IncompleteSet is a set that cannot be restored.
type IncompleteSet struct {
	RelativePath string   `json:"relative_path"`
	Timestamp    string   `json:"timestamp"`
	Files        []string `json:"files" jsonschema_description:"Files of this set that are present."`
	Missing      []string `json:"missing" jsonschema_description:"Files of this set that are missing."`
	Reason       string   `json:"reason"`
}

// Summary counts the whole scan, not just the page.
type Summary struct {
	TotalLocations  int    `json:"total_locations"`
	TotalBackupSets int    `json:"total_backup_sets"`
	GlobalBackups   int    `json:"global_backups"`
	TaskBackups     int    `json:"task_backups"`
	IncompleteSets  int    `json:"incomplete_sets" jsonschema_description:"Sets that cannot be restored, in the whole scan."`
	ScanTime        string `json:"scan_time" jsonschema_description:"When the scan ran, RFC 3339."`
}

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

// ErrorResult is the structured content of every error result.
type ErrorResult struct {
	ErrorType string `json:"error_type"`
	Message   string `json:"message"`
}

// CreateArgs are the arguments of create_vector_backup.
type CreateArgs struct {
	TaskID       string   `json:"task_id,omitempty" jsonschema:"minLength=1,maxLength=255,pattern=^[^/\\\\]+$" jsonschema_description:"Write into this existing task folder's vector_bak/ (e.g. task_20250721_213627); omit to write into global_vector_bak/."`
	Tables       []string `json:"tables,omitempty" jsonschema:"minItems=1,uniqueItems=true,enum=langchain_pg_collection,enum=langchain_pg_embedding" jsonschema_description:"Tables whose rows to back up; default both. A left-out table gets a header-only file, and restores of the set skip it."`
	DBConnection string   `json:"db_connection,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Other source database URL; refused unless the operator allowed it. Omit to use the server's database."`
}

// LegacyBackupArgs are the body of the old HTTP service's backup endpoint,
// POST /api/v0/data_pipeline/vector/backup: create_vector_backup's arguments
// plus that endpoint's own switches.
type LegacyBackupArgs struct {
	CreateArgs
	BackupVectorTables   *bool `json:"backup_vector_tables,omitempty" jsonschema:"default=true" jsonschema_description:"Write the backup (default true); false writes nothing, as the old service did."`
	TruncateVectorTables bool  `json:"truncate_vector_tables,omitempty" jsonschema:"default=false" jsonschema_description:"Accepted only as false: this server never empties tables from the backup endpoint; roll back with the restore endpoint instead."`
}

// CreateResult is the result of create_vector_backup.
type CreateResult struct {
	BackupPerformed bool                         `json:"backup_performed"`
	BackupDirectory string                       `json:"backup_directory" jsonschema_description:"Folder of the new set; pass it as backup_path to restore."`
	Timestamp       string                       `json:"timestamp" jsonschema_description:"The new set's timestamp; pass it as timestamp to restore."`
	Source          string                       `json:"source" jsonschema_description:"Database backed up, host:port/database."`
	ManifestFile    string                       `json:"manifest_file"`
	TablesBackedUp  map[string]TableBackupResult `json:"tables_backed_up"`
	Errors          []string                     `json:"errors"`
	Duration        float64                      `json:"duration" jsonschema_description:"Seconds the backup took."`
}

// TableBackupResult reports one table's file.
type TableBackupResult struct {
	Success    bool    `json:"success"`
	RowCount   int64   `json:"row_count"`
	FileSize   string  `json:"file_size"`
	FileBytes  int64   `json:"file_bytes"`
	BackupFile string  `json:"backup_file"`
	SHA256     string  `json:"sha256"`
	Duration   float64 `json:"duration"`
}

// InspectArgs are the arguments of inspect_vector_backup: the set, and the
// restore options to plan for.
type InspectArgs struct {
	BackupPath            string   `json:"backup_path" jsonschema:"minLength=1,maxLength=4096" jsonschema_description:"Folder holding the set, a relative_path from list_vector_backups, e.g. ./data_pipeline/training_data/global_vector_bak."`
	Timestamp             string   `json:"timestamp" jsonschema:"pattern=^(\\d{8}_\\d{6}|latest)$" jsonschema_description:"Set to inspect, YYYYMMDD_HHMMSS or latest."`
	Tables                []string `json:"tables,omitempty" jsonschema:"minItems=1,uniqueItems=true,enum=langchain_pg_collection,enum=langchain_pg_embedding" jsonschema_description:"Tables to plan for; default the set's tables."`
	Collections           []string `json:"collections,omitempty" jsonschema:"minItems=1,uniqueItems=true,items.minLength=1" jsonschema_description:"Plan a per-collection restore of these collections."`
	TruncateBeforeRestore bool     `json:"truncate_before_restore,omitempty" jsonschema:"default=false" jsonschema_description:"Plan a restore that empties the tables first."`
	OnConflict            string   `json:"on_conflict,omitempty" jsonschema:"enum=error,enum=skip,enum=update,default=error" jsonschema_description:"Plan an append with this conflict policy."`
	DBConnection          string   `json:"db_connection,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Other target database URL; refused unless the operator allowed it."`
}

// InspectResult is what inspect_vector_backup found.
type InspectResult struct {
	BackupInfo     BackupInfo            `json:"backup_info"`
	Files          map[string]FileReport `json:"files" jsonschema_description:"Per table: what its file holds."`
	Collections    []BackupCollection    `json:"collections" jsonschema_description:"Collections in the set, with their embedding counts."`
	ChecksumStatus string                `json:"checksum_status" jsonschema:"enum=verified,enum=mismatch,enum=no_manifest" jsonschema_description:"Whether the files match their manifest (sets written by this server have one)."`
	Target         *TargetReport         `json:"target,omitempty" jsonschema_description:"The target database as it is now; absent when it could not be read."`
	Plan           *RestorePlan          `json:"plan,omitempty" jsonschema_description:"What a restore with the given options would do; absent when it could not be planned (see problems)."`
	Restorable     bool                  `json:"restorable"`
	Problems       []string              `json:"problems"`
}

// FileReport describes one file of a set.
type FileReport struct {
	File             string    `json:"file"`
	Bytes            int64     `json:"bytes"`
	Size             string    `json:"size"`
	Rows             int64     `json:"rows"`
	Header           []string  `json:"header"`
	LegacyJSONRows   int64     `json:"legacy_json_rows" jsonschema_description:"Rows whose JSON columns hold Python dict text that a restore converts."`
	BadRows          int64     `json:"bad_rows" jsonschema_description:"Rows a restore would refuse."`
	BadRowSamples    []BadRow  `json:"bad_row_samples" jsonschema_description:"The first few bad rows."`
	VectorDimensions *DimRange `json:"vector_dimensions,omitempty"`
	SHA256           string    `json:"sha256"`
}

// BadRow is one row a restore would refuse.
type BadRow struct {
	File   string `json:"file"`
	Line   int    `json:"line" jsonschema_description:"Physical line, the header being line 1."`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

// DimRange is the smallest and largest vector dimension seen.
type DimRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// BackupCollection is a collection in a set.
type BackupCollection struct {
	Name       string `json:"name"`
	UUID       string `json:"uuid"`
	Embeddings int64  `json:"embeddings"`
}

// TargetReport describes the target database.
type TargetReport struct {
	Database    string                 `json:"database"`
	Tables      map[string]TableReport `json:"tables"`
	Collections []LiveCollection       `json:"collections"`
}

// TableReport describes one live table and how the set's file fits it.
type TableReport struct {
	Exists          bool     `json:"exists"`
	Rows            int64    `json:"rows"`
	Columns         []string `json:"columns"`
	MissingColumns  []string `json:"missing_columns" jsonschema_description:"Columns of the backup file the table lacks."`
	VectorType      string   `json:"vector_type,omitempty" jsonschema_description:"Type of the embedding column, e.g. vector(1536) or vector."`
	VectorDimension int      `json:"vector_dimension,omitempty"`
}

// LiveCollection is a collection in the target.
type LiveCollection struct {
	Name       string `json:"name"`
	Embeddings int64  `json:"embeddings"`
}
