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
