package schemas

// ListArgs are the arguments of list_vector_backups.
type ListArgs struct {
	GlobalOnly bool   `json:"global_only,omitempty" jsonschema:"default=false" jsonschema_description:"Only the global locations (vector_bak/, global_vector_bak/), no task folders."`
	TaskID     string `json:"task_id,omitempty" jsonschema:"minLength=1,maxLength=255,pattern=^[^/\\\\]+$" jsonschema_description:"Only this task folder's sets: a folder name under the backup root, e.g. task_20250721_213627."`
	Limit      int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=1000,default=50" jsonschema_description:"Most sets in this page, newest first."`
	Cursor     string `json:"cursor,omitempty" jsonschema:"maxLength=1024" jsonschema_description:"next_cursor of the previous page; omit for the first."`
}

// ListResult is the result of list_vector_backups: a superset of the legacy
// API's data object.
type ListResult struct {
	BackupLocations []Location      `json:"backup_locations" jsonschema_description:"Locations of this page's sets, ordered by their newest set (a page holds the newest sets across all locations); on the first page, empty locations follow."`
	Incomplete      []IncompleteSet `json:"incomplete" jsonschema_description:"Sets that cannot be restored: a file missing, or .tmp leftovers of a half-written backup. First page only, the newest 100."`
	Summary         Summary         `json:"summary" jsonschema_description:"Counts the whole scan, not the page."`
	NextCursor      string          `json:"next_cursor,omitempty" jsonschema_description:"Pass as cursor for the next page; absent on the last."`
}

// Location is one folder holding backup sets.
type Location struct {
	Type         string   `json:"type" jsonschema:"enum=global,enum=task"`
	TaskID       string   `json:"task_id,omitempty" jsonschema_description:"Task locations only."`
	RelativePath string   `json:"relative_path" jsonschema_description:"Pass as backup_path."`
	Backups      []Backup `json:"backups" jsonschema_description:"Complete sets on this page, newest first."`
}

// Backup describes one complete backup set.
type Backup struct {
	Timestamp       string           `json:"timestamp" jsonschema:"pattern=^\\d{8}_\\d{6}$" jsonschema_description:"Pass as timestamp."`
	Kind            string           `json:"kind" jsonschema:"enum=backup,enum=snapshot" jsonschema_description:"snapshot: rows a restore replaced, saved by this server before it (restoring it undoes that restore); backup: any other set."`
	CollectionFile  string           `json:"collection_file"`
	EmbeddingFile   string           `json:"embedding_file"`
	CollectionSize  string           `json:"collection_size" jsonschema_description:"Human size, e.g. 764.0 KB; *_bytes is exact."`
	EmbeddingSize   string           `json:"embedding_size"`
	CollectionBytes int64            `json:"collection_bytes"`
	EmbeddingBytes  int64            `json:"embedding_bytes"`
	BackupDate      string           `json:"backup_date" jsonschema_description:"When written, e.g. 2025-07-21 21:57:58."`
	HasLog          bool             `json:"has_log"`
	LogFile         string           `json:"log_file,omitempty"`
	ManifestFile    string           `json:"manifest_file,omitempty" jsonschema_description:"Sets this server wrote have one: row counts, sizes and SHA-256, which inspect and restore verify."`
	RowCounts       map[string]int64 `json:"row_counts,omitempty" jsonschema_description:"Rows per table, where the log gives them."`
}

// IncompleteSet is a set that cannot be restored.
type IncompleteSet struct {
	RelativePath string   `json:"relative_path"`
	Timestamp    string   `json:"timestamp"`
	Files        []string `json:"files" jsonschema_description:"Files present."`
	Missing      []string `json:"missing"`
	Reason       string   `json:"reason"`
}

// Summary counts the whole scan, not just the page.
type Summary struct {
	TotalLocations  int    `json:"total_locations"`
	TotalBackupSets int    `json:"total_backup_sets"`
	GlobalBackups   int    `json:"global_backups"`
	TaskBackups     int    `json:"task_backups"`
	IncompleteSets  int    `json:"incomplete_sets"`
	ScanTime        string `json:"scan_time" jsonschema_description:"RFC 3339."`
}
