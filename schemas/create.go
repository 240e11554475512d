package schemas

// CreateArgs are the arguments of create_vector_backup.
type CreateArgs struct {
	TaskID       string   `json:"task_id,omitempty" jsonschema:"minLength=1,maxLength=255,pattern=^[^/\\\\]+$" jsonschema_description:"Write into this existing task folder's vector_bak/ (e.g. task_20250721_213627); default global_vector_bak/."`
	Tables       []string `json:"tables,omitempty" jsonschema:"minItems=1,uniqueItems=true,enum=langchain_pg_collection,enum=langchain_pg_embedding" jsonschema_description:"Default both; a left-out table gets a header-only file that restores skip."`
	DBConnection string   `json:"db_connection,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Other source database URL; refused unless the operator allowed it."`
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
	BackupDirectory string                       `json:"backup_directory" jsonschema_description:"Pass as backup_path."`
	Timestamp       string                       `json:"timestamp" jsonschema_description:"Pass as timestamp."`
	Source          string                       `json:"source" jsonschema_description:"host:port/database."`
	ManifestFile    string                       `json:"manifest_file"`
	TablesBackedUp  map[string]TableBackupResult `json:"tables_backed_up"`
	Errors          []string                     `json:"errors"`
	Duration        float64                      `json:"duration" jsonschema_description:"Seconds."`
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
