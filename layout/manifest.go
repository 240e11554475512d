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

// FormatVersion is the manifest format this server writes and reads.
const FormatVersion = 1

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

// FileEntry describes one CSV file of a set.
type FileEntry struct {
	File    string   `json:"file"`
	Rows    int64    `json:"rows"`
	Bytes   int64    `json:"bytes"`
	SHA256  string   `json:"sha256"`
	Columns []string `json:"columns"`
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
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("manifest format version %d, this server reads %d", m.FormatVersion, FormatVersion)
	}
	if m.Kind == "" {
		m.Kind = KindBackup // written before kinds were recorded
	}
	return &m, nil
}
