package layout

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// Kinds of set, which its manifest records (and its name repeats, so that a
// listing needs no file reads).
const (
	KindBackup   = "backup"   // any set but a snapshot
	KindSnapshot = "snapshot" // the rows a restore replaced, saved by this server before it
)

// ManifestName is the manifest's file name for a set of kind:
// vector_backup_manifest_<ts>.json, or vector_snapshot_manifest_<ts>.json.
func ManifestName(kind, ts string) string {
	if kind == KindSnapshot {
		return "vector_snapshot_manifest_" + ts + ".json"
	}
	return "vector_backup_manifest_" + ts + ".json"
}

// ManifestKind is the kind of set a manifest's name says.
func ManifestKind(name string) string {
	if strings.HasPrefix(name, "vector_snapshot_manifest_") {
		return KindSnapshot
	}
	return KindBackup
}

// Manifest format versions. A set whose files are all CSV keeps version 1,
// which every server reads; a set with a binary file is version 2. An older
// server refuses a version 2 manifest outright (and does not see .pgcopy
// files at all), so it never feeds a binary file to its CSV reader.
const (
	// FormatVersion is the version of a set whose files are all CSV.
	FormatVersion = 1
	// FormatVersionBinary is the version of a set with any file in another
	// format (FileEntry.Format): its readers must know the formats.
	FormatVersionBinary = 2
)

// Manifest describes a set written by this server, so that inspect and
// restore can prove the files are the ones written.
type Manifest struct {
	FormatVersion   int                  `json:"format_version"`
	Kind            string               `json:"kind"`
	Timestamp       string               `json:"timestamp"`
	CreatedAt       string               `json:"created_at"`
	Database        string               `json:"database"`
	Source          *Source              `json:"source,omitempty"` // the database the rows came from; nil in sets written before it was recorded
	VectorDimension int                  `json:"vector_dimension,omitempty"`
	Tables          []string             `json:"tables"`                // tables whose rows the set holds
	Files           map[string]FileEntry `json:"files"`                 // by table name
	Collections     []string             `json:"collections,omitempty"` // set only when the set holds just these collections
	// Seal proves this server wrote the manifest (an HMAC under a key only
	// it holds): retention removes only sealed snapshots whose files match.
	Seal string `json:"seal,omitempty"`
}

// Source is the database a set's rows were read from. A snapshot is
// restored into that database only, unless the caller says otherwise: its
// undo must not land anywhere else.
type Source struct {
	SystemIdentifier string `json:"system_identifier,omitempty"` // the cluster's, from pg_control_system(); empty when the role may not read it
	Database         string `json:"database"`                    // current_database()
	Host             string `json:"host"`                        // as the server connected to it
	Port             int    `json:"port"`
}

// Same reports whether s and o are one database: the same cluster (by
// system identifier, when both know it; else by host and port) and the
// same database in it.
func (s Source) Same(o Source) bool {
	if s.Database != o.Database {
		return false
	}
	if s.SystemIdentifier != "" && o.SystemIdentifier != "" {
		return s.SystemIdentifier == o.SystemIdentifier
	}
	return s.Host == o.Host && s.Port == o.Port
}

// String names the source for people: host:port/database.
func (s Source) String() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + "/" + s.Database
}

// FileEntry describes one data file of a set.
type FileEntry struct {
	File    string   `json:"file"`
	Rows    int64    `json:"rows"`
	Bytes   int64    `json:"bytes"` // of the bytes stored
	SHA256  string   `json:"sha256"`
	Columns []string `json:"columns"` // in file order; a binary file's only header
	// Format is the file's format: absent for CSV (FormatCSV), else
	// FormatPGCopy.
	Format string `json:"format,omitempty"`
	// Types are the source columns' types as format_type() prints them
	// ("uuid", "character varying", "vector(1024)"), one per column: what a
	// binary file's fields are decoded by. Absent for CSV.
	Types []string `json:"types,omitempty"`
}

// FileFormat is the entry's format, FormatCSV when absent.
func (e FileEntry) FileFormat() string {
	if e.Format == "" {
		return FormatCSV
	}
	return e.Format
}

// VersionFor is the format version of a manifest whose files are files.
func VersionFor(files map[string]FileEntry) int {
	for _, f := range files {
		if f.FileFormat() != FormatCSV {
			return FormatVersionBinary
		}
	}
	return FormatVersion
}

// MaxManifestBytes bounds what ReadManifest reads: a manifest is a few
// hundred bytes, and a huge file in its place is not one.
const MaxManifestBytes = 1 << 20

// ReadManifest reads and checks the manifest at path.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := DecodeManifest(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// DecodeManifest reads and checks a manifest.
func DecodeManifest(r io.Reader) (*Manifest, error) {
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(r, MaxManifestBytes)).Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.FormatVersion != FormatVersion && m.FormatVersion != FormatVersionBinary {
		return nil, fmt.Errorf("manifest format version %d, this server reads %d and %d", m.FormatVersion, FormatVersion, FormatVersionBinary)
	}
	for table, f := range m.Files {
		if err := f.check(m.FormatVersion); err != nil {
			return nil, fmt.Errorf("manifest entry of %s: %w", table, err)
		}
	}
	if m.Kind == "" {
		m.Kind = KindBackup // written before kinds were recorded
	}
	return &m, nil
}

// check refuses an entry whose format this server cannot read, or that a
// manifest of version does not allow, or whose types do not match its
// columns.
func (e FileEntry) check(version int) error {
	switch format := e.FileFormat(); {
	case format == FormatCSV:
		return nil
	case format != FormatPGCopy:
		return fmt.Errorf("file %s has format %q, which this server does not read (it reads %s)", e.File, format, strings.Join(Formats(), ", "))
	case version < FormatVersionBinary:
		return fmt.Errorf("file %s has format %q, which a version %d manifest cannot have", e.File, format, version)
	case DataFormat(e.File) != format:
		return fmt.Errorf("file %s is named as %q but the manifest says %q", e.File, DataFormat(e.File), format)
	case len(e.Types) != len(e.Columns):
		return fmt.Errorf("file %s has %d column types for %d columns", e.File, len(e.Types), len(e.Columns))
	}
	return nil
}
