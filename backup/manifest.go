package backup

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
)

// FormatVersion is the manifest format this server writes and understands.
const FormatVersion = 1

// ManifestName returns the manifest's file name for a backup set.
func ManifestName(timestamp string) string {
	return "vector_backup_manifest_" + timestamp + ".json"
}

// SnapshotManifestName returns the manifest's file name for a set a restore
// wrote of the rows it replaced. The name tells the kind, so listing needs
// no file reads and retention never mistakes a backup for a snapshot.
func SnapshotManifestName(timestamp string) string {
	return "vector_snapshot_manifest_" + timestamp + ".json"
}

// manifestName is the manifest's name for a set of kind.
func manifestName(kind, timestamp string) string {
	if kind == catalog.KindSnapshot {
		return SnapshotManifestName(timestamp)
	}
	return ManifestName(timestamp)
}

// Manifest describes a set written by this server, so that inspect and
// restore can prove the files are the ones written.
type Manifest struct {
	FormatVersion   int                  `json:"format_version"`
	Kind            string               `json:"kind"` // catalog.KindBackup or catalog.KindSnapshot
	Timestamp       string               `json:"timestamp"`
	CreatedAt       string               `json:"created_at"`
	Database        string               `json:"database"`
	VectorDimension int                  `json:"vector_dimension,omitempty"`
	Tables          []string             `json:"tables"`                // tables whose rows the set holds
	Files           map[string]FileEntry `json:"files"`                 // by table name
	Collections     []string             `json:"collections,omitempty"` // set only when the set holds just these collections
}

// FileEntry describes one CSV file of a set.
type FileEntry struct {
	File    string   `json:"file"`
	Rows    int64    `json:"rows"`
	Bytes   int64    `json:"bytes"`
	SHA256  string   `json:"sha256"`
	Columns []string `json:"columns"`
}

// maxManifestBytes bounds what ReadManifest reads: a manifest is a few
// hundred bytes, and a huge file in its place is not one.
const maxManifestBytes = 1 << 20

// ReadManifest reads and checks the manifest at path.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var m Manifest
	dec := json.NewDecoder(io.LimitReader(f, maxManifestBytes))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("manifest %s: format version %d, this server reads %d", path, m.FormatVersion, FormatVersion)
	}
	if m.Kind == "" {
		m.Kind = catalog.KindBackup // written before kinds were recorded
	}
	return &m, nil
}
