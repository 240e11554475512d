package schemas

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
