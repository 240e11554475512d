package schemas

import "github.com/invopop/jsonschema"

// InspectArgs are the arguments of inspect_vector_backup: the set, and the
// restore options to plan for.
type InspectArgs struct {
	BackupPath            string   `json:"backup_path" jsonschema:"minLength=1,maxLength=4096" jsonschema_description:"A relative_path from list_vector_backups, e.g. ./data_pipeline/training_data/global_vector_bak."`
	Timestamp             string   `json:"timestamp" jsonschema:"pattern=^(\\d{8}_\\d{6}|latest)$" jsonschema_description:"YYYYMMDD_HHMMSS, or latest."`
	Tables                []string `json:"tables,omitempty" jsonschema:"minItems=1,uniqueItems=true,enum=langchain_pg_collection,enum=langchain_pg_embedding" jsonschema_description:"Tables to plan for; default the set's tables."`
	Collections           []string `json:"collections,omitempty" jsonschema:"minItems=1,uniqueItems=true,items.minLength=1" jsonschema_description:"Plan a per-collection restore of these collections."`
	TruncateBeforeRestore bool     `json:"truncate_before_restore,omitempty" jsonschema:"default=false" jsonschema_description:"Plan a restore that empties the tables first."`
	OnConflict            string   `json:"on_conflict,omitempty" jsonschema:"enum=error,enum=skip,enum=update,default=error" jsonschema_description:"Plan an append with this conflict policy."`
	DBConnection          string   `json:"db_connection,omitempty" jsonschema:"maxLength=4096" jsonschema_description:"Other target database URL; refused unless the operator allowed it."`
	AllowOtherDatabase    bool     `json:"allow_other_database,omitempty" jsonschema:"default=false" jsonschema_description:"Plan restoring a pre-restore snapshot into a database other than its own."`
	Diff                  bool     `json:"diff,omitempty" jsonschema:"default=false" jsonschema_description:"Also compare the set's embeddings with the live ones by key: what changed since the backup (a restore would undo it). Reads the live table once more."`
}

// InspectResult is what inspect_vector_backup found.
type InspectResult struct {
	BackupInfo     BackupInfo            `json:"backup_info"`
	Files          map[string]FileReport `json:"files" jsonschema_description:"Per table."`
	Collections    []BackupCollection    `json:"collections" jsonschema_description:"In the set."`
	ChecksumStatus string                `json:"checksum_status" jsonschema:"enum=verified,enum=mismatch,enum=no_manifest" jsonschema_description:"Whether the files match their manifest (sets this server wrote have one)."`
	Target         *TargetReport         `json:"target,omitempty" jsonschema_description:"As it is now; absent if it could not be read."`
	Plan           *RestorePlan          `json:"plan,omitempty" jsonschema_description:"What a restore with these options would do; absent if it could not be planned (see problems)."`
	Diff           *Diff                 `json:"diff,omitempty" jsonschema_description:"With diff: the set's embeddings against the live ones; absent if they could not be compared (see problems)."`
	Restorable     bool                  `json:"restorable"`
	Problems       []string              `json:"problems"`
}

// Diff is what changed between a set's embeddings and the live ones.
type Diff struct {
	Key         string           `json:"key" jsonschema_description:"The key column embeddings are matched by, e.g. id."`
	Totals      DiffCounts       `json:"totals"`
	Collections []CollectionDiff `json:"collections" jsonschema_description:"By collection name (the backup's for embeddings it holds, else the live one's)."`
}

// CollectionDiff is one collection's share of a diff.
type CollectionDiff struct {
	Name string `json:"name"`
	DiffCounts
}

// JSONSchemaExtend leaves the counts' descriptions to the diff's totals,
// which has the same counts: a model reads each meaning once.
func (CollectionDiff) JSONSchemaExtend(s *jsonschema.Schema) {
	for p := s.Properties.Oldest(); p != nil; p = p.Next() {
		p.Value.Description = ""
	}
}

// DiffCounts counts embeddings by kind, with a few example keys of each.
type DiffCounts struct {
	OnlyInBackup   int64        `json:"only_in_backup" jsonschema_description:"Only in the backup: a restore adds them."`
	OnlyInDatabase int64        `json:"only_in_database" jsonschema_description:"Only in the database: a truncating restore deletes them."`
	Changed        int64        `json:"changed" jsonschema_description:"Same key; document, metadata (as JSON values), vector (as float4) or collection differ."`
	Identical      int64        `json:"identical"`
	Examples       DiffExamples `json:"examples" jsonschema_description:"A few keys of each kind."`
}

// DiffExamples are example keys of each kind.
type DiffExamples struct {
	OnlyInBackup   []string     `json:"only_in_backup"`
	OnlyInDatabase []string     `json:"only_in_database"`
	Changed        []ChangedRow `json:"changed"`
	Identical      []string     `json:"identical"`
}

// ChangedRow is a changed embedding's key and what differs.
type ChangedRow struct {
	Key    string   `json:"key"`
	Fields []string `json:"fields" jsonschema:"uniqueItems=true,enum=document,enum=metadata,enum=vector,enum=collection"`
}

// FileReport describes one file of a set.
type FileReport struct {
	File             string    `json:"file"`
	Bytes            int64     `json:"bytes"`
	Size             string    `json:"size"`
	Rows             int64     `json:"rows"`
	Header           []string  `json:"header"`
	LegacyJSONRows   int64     `json:"legacy_json_rows" jsonschema_description:"Rows whose JSON is Python dict text, which a restore converts."`
	BadRows          int64     `json:"bad_rows" jsonschema_description:"Rows a restore would refuse."`
	BadRowSamples    []BadRow  `json:"bad_row_samples" jsonschema_description:"The first few."`
	VectorDimensions *DimRange `json:"vector_dimensions,omitempty"`
	SHA256           string    `json:"sha256"`
}

// BadRow is one row a restore would refuse.
type BadRow struct {
	File   string `json:"file"`
	Line   int    `json:"line" jsonschema_description:"Physical line (the header is line 1); in a snapshot's binary file, the record number."`
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
	MissingColumns  []string `json:"missing_columns" jsonschema_description:"The file's columns the table lacks."`
	VectorType      string   `json:"vector_type,omitempty" jsonschema_description:"The embedding column's type, e.g. vector(1536) or vector."`
	VectorDimension int      `json:"vector_dimension,omitempty"`
}

// LiveCollection is a collection in the target.
type LiveCollection struct {
	Name       string `json:"name"`
	Embeddings int64  `json:"embeddings"`
}
