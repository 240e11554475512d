// Package layout is the on-disk shape of a backup set, in one place: the
// tables it holds, its file names, its timestamp, its manifest, and the
// backup log of its folder. The catalog reads sets by it, backup writes them
// by it, and nothing else spells a file name.
package layout

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// The tables of LangChain's PGVector store.
const (
	CollectionTable = "langchain_pg_collection"
	EmbeddingTable  = "langchain_pg_embedding"
)

// Tables lists the tables in restore order: collections before the
// embeddings that reference them. A new slice each call: no importer can
// change what the others see.
func Tables() []string { return []string{CollectionTable, EmbeddingTable} }

const (
	// TimestampLayout is a set's timestamp in its file names.
	TimestampLayout = "20060102_150405"
	// DateLayout is a set's time as the old API showed it.
	DateLayout = "2006-01-02 15:04:05"
)

// Formats of a set's data files, which their names' extensions and the
// manifest's FileEntry.Format say.
const (
	// FormatCSV is COPY's CSV with a header row: the old pipeline's files,
	// and every set create_vector_backup writes (the old pipeline reads them).
	FormatCSV = "csv"
	// FormatPGCopy is PostgreSQL's binary COPY format (a .pgcopy file): the
	// server's own pre-restore snapshots, read back by this server only,
	// with the column types its manifest records.
	FormatPGCopy = "pgcopy"
)

// Formats lists the data file formats this server reads. A new slice each
// call.
func Formats() []string { return []string{FormatCSV, FormatPGCopy} }

// FileName is the name of table's CSV file in the set of timestamp ts: the
// old pipeline's name, which every set but a snapshot uses.
func FileName(table, ts string) string { return DataFileName(table, ts, FormatCSV) }

// DataFileName is the name of table's file in format in the set of
// timestamp ts: langchain_pg_embedding_<ts>.csv, or .pgcopy. A binary file
// never ends in .csv, so no tool takes it for one.
func DataFileName(table, ts, format string) string { return table + "_" + ts + "." + format }

// DataFormat is the format a data file's name says (FormatCSV or
// FormatPGCopy), its temporary names included; "" for any other name.
func DataFormat(name string) string {
	if k, _ := Kind(name); k != CollectionFile && k != EmbeddingFile && k != TmpFile {
		return ""
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, serverTmpSuffix), ".tmp")
	for _, f := range Formats() {
		if strings.HasSuffix(name, "."+f) {
			return f
		}
	}
	return ""
}

// SetFileNames is every name a published set of timestamp ts, or one the
// old pipeline is writing, may have in its folder: its data files in every
// format, their .tmp names, and both kinds of manifest. A writer that finds
// none of them present may take ts. (This server's own files being written
// are held by exclusive creates, not looked for.)
func SetFileNames(ts string) []string {
	var names []string
	for _, f := range Formats() {
		for _, table := range Tables() {
			name := DataFileName(table, ts, f)
			names = append(names, name, TmpName(name))
		}
	}
	return append(names, ManifestName(KindBackup, ts), ManifestName(KindSnapshot, ts))
}

// Path is the path of table's CSV file in the set of timestamp ts in dir.
func Path(dir, table, ts string) string { return filepath.Join(dir, FileName(table, ts)) }

// The folders of a backup root.
const (
	// GlobalDir holds global sets and the server's snapshots.
	GlobalDir = "global_vector_bak"
	// LegacyGlobalDir is the old pipeline's global folder, still read.
	LegacyGlobalDir = "vector_bak"
	// TaskBackupDir is the folder inside a task folder that holds its sets.
	TaskBackupDir = "vector_bak"
	// LegacyRoot is where the old pipeline kept the backup root, relative
	// to its project root: the prefix of backup_path's legacy form, which
	// a bucket's folders are also named by.
	LegacyRoot = "data_pipeline/training_data"
)

// GlobalDirs are the global folders' names, sorted: the current one and the
// legacy one. A new slice each call.
func GlobalDirs() []string { return []string{GlobalDir, LegacyGlobalDir} }

// StateDir is the folder under the backup root that holds the server's own
// state: the key that seals its manifests and the record of spent
// confirmation tokens. It holds no vector_bak, so it is no location.
const StateDir = ".mcp-server"

// AuditDir is the folder under the backup root that holds the audit trail
// (audit/YYYY/MM/DD/<time>-<id>.json): records of calls, never sets.
const AuditDir = "audit"

// IsServerDir reports whether the first-level folder name is one of the
// server's own (StateDir, AuditDir): no task folder and no location, never
// read as sets nor written into as one.
func IsServerDir(name string) bool { return name == StateDir || name == AuditDir }

// TmpName is the name a file has while the old pipeline writes it.
func TmpName(name string) string { return name + ".tmp" }

// ServerTmpName is the name a file has while this server writes it: its own
// mark, so that leftovers of a writer that died can be told from files the
// pipeline may be writing, which the server never removes.
func ServerTmpName(name string) string { return name + serverTmpSuffix }

const serverTmpSuffix = ".mcp.tmp"

// IsServerTmp reports whether name is a file this server was writing.
func IsServerTmp(name string) bool {
	k, _ := Kind(name)
	return k == TmpFile && strings.HasSuffix(name, serverTmpSuffix)
}

// ParseTimestamp reads YYYYMMDD_HHMMSS, a real date and time (20230229_120000
// is not), as wall-clock time in UTC: the pipeline wrote local time without a
// zone, and it is only ever formatted back. It reads by hand: a listing checks
// one per file, and time.Parse behind a regular expression cost a third of it.
func ParseTimestamp(ts string) (time.Time, bool) {
	if len(ts) != len(TimestampLayout) || ts[8] != '_' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for _, c := range ts[from:to] {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(4, 6), num(6, 8)
	hour, minute, second := num(9, 11), num(11, 13), num(13, 15)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	if t.Day() != day { // February 30th and the like roll over
		return time.Time{}, false
	}
	return t, true
}

// WallClock is t's local wall-clock time to the second, in the frame
// ParseTimestamp reads timestamps into (UTC standing for "no zone"): the
// time a new set is stamped with, comparable with the stamps of the sets
// already written.
func WallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// ValidTimestamp reports whether ts is YYYYMMDD_HHMMSS and a real date and
// time.
func ValidTimestamp(ts string) bool {
	_, ok := ParseTimestamp(ts)
	return ok
}

// Date is a timestamp as the old API showed it, "2025-07-21 21:57:58"; ""
// for no valid timestamp.
func Date(ts string) string {
	t, ok := ParseTimestamp(ts)
	if !ok {
		return ""
	}
	return t.Format(DateLayout)
}

// FileKind is what a file of a backup folder is, by its name.
type FileKind int

const (
	OtherFile      FileKind = iota
	LogFile                 // the folder's backup log
	ManifestFile            // a set's manifest (either kind)
	CollectionFile          // a set's collection file (CSV or binary COPY)
	EmbeddingFile           // a set's embedding file (CSV or binary COPY)
	TmpFile                 // a set's data file being written
)

// Kind tells what a file name is and the timestamp of the set it belongs to.
// Names with timestamps that are no real time are other files. It runs for
// every file of every listing, so it cuts names rather than matching
// expressions.
func Kind(name string) (FileKind, string) {
	if name == LogName {
		return LogFile, ""
	}
	if rest, ok := strings.CutPrefix(name, "vector_"); ok {
		if rest, ok = strings.CutSuffix(rest, ".json"); !ok {
			return OtherFile, ""
		}
		for _, prefix := range []string{"backup_manifest_", "snapshot_manifest_"} {
			if ts, ok := strings.CutPrefix(rest, prefix); ok && ValidTimestamp(ts) {
				return ManifestFile, ts
			}
		}
		return OtherFile, ""
	}
	rest, ok := strings.CutPrefix(name, "langchain_pg_")
	if !ok {
		return OtherFile, ""
	}
	kind := CollectionFile
	if rest, ok = strings.CutPrefix(rest, "collection_"); !ok {
		if rest, ok = strings.CutPrefix(rest, "embedding_"); !ok {
			return OtherFile, ""
		}
		kind = EmbeddingFile
	}
	// YYYYMMDD_HHMMSS, a dot, then the format and a temporary suffix.
	if len(rest) <= len(TimestampLayout) || rest[len(TimestampLayout)] != '.' {
		return OtherFile, ""
	}
	ts, ext := rest[:len(TimestampLayout)], rest[len(TimestampLayout)+1:]
	if e, ok := strings.CutSuffix(ext, serverTmpSuffix); ok {
		ext, kind = e, TmpFile
	} else if e, ok := strings.CutSuffix(ext, ".tmp"); ok {
		ext, kind = e, TmpFile
	}
	if ext != FormatCSV && ext != FormatPGCopy {
		return OtherFile, ""
	}
	if !ValidTimestamp(ts) {
		return OtherFile, ""
	}
	return kind, ts
}

// HumanSize formats n as the old Python service did: "0 B" for 0, else one
// decimal in 1024 steps: "209.0 B", "764.0 KB", "1.5 MB".
func HumanSize(n int64) string {
	if n == 0 {
		return "0 B"
	}
	units := []string{"B", "KB", "MB", "GB", "TB"}
	size := float64(n)
	i := 0
	for ; i < len(units)-1 && size >= 1024; i++ {
		size /= 1024
	}
	return fmt.Sprintf("%.1f %s", size, units[i])
}
