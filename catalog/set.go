package catalog

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

const (
	// timestampLayout is the layout of a set's timestamp in its file names.
	timestampLayout = "20060102_150405"
	dateLayout      = "2006-01-02 15:04:05"

	// logFile is the log the pipeline writes next to its sets, overwriting it
	// with each backup.
	logFile = "vector_backup_log.txt"

	// maxLogSize caps how much of a log is read. The pipeline's logs are a
	// few hundred bytes; anything far bigger is not one of them.
	maxLogSize = 1 << 20

	collectionTable = "langchain_pg_collection"
	embeddingTable  = "langchain_pg_embedding"
)

var (
	timestampRE = regexp.MustCompile(`^[0-9]{8}_[0-9]{6}$`)

	// setFileRE matches a set's CSV files and the .tmp files a backup writes
	// before renaming them.
	setFileRE  = regexp.MustCompile(`^langchain_pg_(collection|embedding)_([0-9]{8}_[0-9]{6})\.csv(\.tmp)?$`)
	manifestRE = regexp.MustCompile(`^vector_backup_manifest_([0-9]{8}_[0-9]{6})\.json$`)

	// logMentionRE finds any set file name a log mentions; a .tmp name is not
	// a mention of the set.
	logMentionRE = regexp.MustCompile(`langchain_pg_(?:collection|embedding)_([0-9]{8}_[0-9]{6})\.csv(\.tmp)?`)

	// logRowsRE matches a log line such as
	//   ✓ langchain_pg_embedding: 58 rows -> langchain_pg_embedding_20250721_215758.csv (764.0 KB)
	// with or without its mark and with any spacing.
	logRowsRE = regexp.MustCompile(`^\s*(?:[^\w\s]+\s*)?(\w+)\s*:\s*([0-9]+)\s*rows?\s*->\s*(\S+)`)
)

// Set is a complete backup set: the two CSV files with one timestamp.
type Set struct {
	Timestamp       string    // YYYYMMDD_HHMMSS
	Dir             string    // absolute folder
	CollectionFile  string    // base name: langchain_pg_collection_<ts>.csv
	EmbeddingFile   string    // base name: langchain_pg_embedding_<ts>.csv
	CollectionBytes int64     // size of the collection file
	EmbeddingBytes  int64     // size of the embedding file
	ModTime         time.Time // newest mtime of the two files

	// Time is the timestamp as a wall-clock time in UTC. The pipeline wrote
	// local wall time without a zone; it is only ever formatted back.
	Time time.Time

	LogFile      string           // "vector_backup_log.txt" when that log mentions this set, else ""
	RowCounts    map[string]int64 // table → rows, from the log; nil if unknown
	ManifestFile string           // "vector_backup_manifest_<ts>.json" if present, else ""
}

// BackupDate returns the set's time as the old API showed it:
// "2025-07-21 21:57:58".
func (s Set) BackupDate() string {
	t := s.Time
	if t.IsZero() {
		t, _ = parseTimestamp(s.Timestamp)
	}
	if t.IsZero() {
		return ""
	}
	return t.Format(dateLayout)
}

// CollectionPath returns the absolute path of the collection CSV.
func (s Set) CollectionPath() string { return filepath.Join(s.Dir, s.CollectionFile) }

// EmbeddingPath returns the absolute path of the embedding CSV.
func (s Set) EmbeddingPath() string { return filepath.Join(s.Dir, s.EmbeddingFile) }

// Incomplete is a timestamp whose set cannot be restored: a CSV is missing or
// .tmp leftovers show the backup that wrote it did not finish.
type Incomplete struct {
	Timestamp string
	Files     []string // base names present (including .tmp leftovers)
	Missing   []string // base names of the missing CSVs
	Reason    string   // e.g. "embedding file missing"
}

// ValidTimestamp reports whether ts is YYYYMMDD_HHMMSS and a real date and
// time: 20230229_120000 is not.
func ValidTimestamp(ts string) bool {
	_, ok := parseTimestamp(ts)
	return ok
}

func parseTimestamp(ts string) (time.Time, bool) {
	if !timestampRE.MatchString(ts) {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(timestampLayout, ts, time.UTC)
	// time.Parse accepts some out-of-range values by normalising them;
	// formatting back catches those.
	if err != nil || t.Format(timestampLayout) != ts {
		return time.Time{}, false
	}
	return t, true
}

// HumanSize formats n like the old Python service: "0 B" for 0, else one
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

func collectionFile(ts string) string { return collectionTable + "_" + ts + ".csv" }
func embeddingFile(ts string) string  { return embeddingTable + "_" + ts + ".csv" }

// FindSet returns the complete set with that timestamp in dir, a folder
// already returned by Resolve, or for "latest" the newest complete set.
func (c *Catalog) FindSet(dir, timestamp string) (Set, error) {
	if timestamp != "latest" && !ValidTimestamp(timestamp) {
		return Set{}, apierr.New(apierr.InvalidParams,
			`timestamp must be "latest" or a real date and time as YYYYMMDD_HHMMSS, e.g. 20250721_215758; got %q`, timestamp).
			With("param", "timestamp")
	}
	// Resolve already checked dir; checking again costs nothing and keeps a
	// careless caller from reading outside the root.
	root := c.realRoot()
	if !inside(c.BackupRoot, dir) && !inside(root, dir) {
		return Set{}, c.forbidden(dir)
	}

	folder := c.display(dir)
	sets, incomplete, err := readSets(dir, root)
	if isNotExist(err) {
		// Removed since Resolve saw it.
		return Set{}, apierr.Wrap(apierr.ResourceNotFound, err, "backup folder does not exist: %s", folder).
			With("param", "backup_path").With("backup_path", folder)
	} else if err != nil {
		return Set{}, err
	}

	if timestamp == "latest" {
		if len(sets) > 0 {
			return sets[0], nil
		}
		msg := fmt.Sprintf("no complete backup set in %s", folder)
		if len(incomplete) > 0 {
			msg += fmt.Sprintf(" (%d incomplete: newest %s, %s)", len(incomplete), incomplete[0].Timestamp, incomplete[0].Reason)
		}
		return Set{}, apierr.New(apierr.ResourceNotFound, "%s; list the backups to find a folder with a complete set", msg).
			With("param", "timestamp").With("timestamp", timestamp).With("backup_path", folder)
	}

	for _, s := range sets {
		if s.Timestamp == timestamp {
			return s, nil
		}
	}
	for _, inc := range incomplete {
		if inc.Timestamp == timestamp {
			return Set{}, apierr.New(apierr.ResourceNotFound,
				"backup set %s in %s is incomplete and cannot be used: %s; expected %s and %s",
				timestamp, folder, inc.Reason, collectionFile(timestamp), embeddingFile(timestamp)).
				With("param", "timestamp").With("timestamp", timestamp).With("backup_path", folder).
				With("missing_files", inc.Missing)
		}
	}
	msg := fmt.Sprintf("no backup set %s in %s: expected %s and %s",
		timestamp, folder, collectionFile(timestamp), embeddingFile(timestamp))
	if len(sets) > 0 {
		msg += fmt.Sprintf("; the newest complete set there is %s", sets[0].Timestamp)
	} else {
		msg += "; the folder has no complete set"
	}
	return Set{}, apierr.New(apierr.ResourceNotFound, "%s", msg).
		With("param", "timestamp").With("timestamp", timestamp).With("backup_path", folder)
}

// fileKind is what a file in a backup folder is, by its name.
type fileKind int

const (
	otherFile fileKind = iota
	logKind
	manifestKind
	collectionKind
	embeddingKind
	tmpKind
)

// classify tells what the file name is and the timestamp of the set it
// belongs to. Names with timestamps that are no real time are other files.
func classify(name string) (fileKind, string) {
	if name == logFile {
		return logKind, ""
	}
	if m := manifestRE.FindStringSubmatch(name); m != nil && ValidTimestamp(m[1]) {
		return manifestKind, m[1]
	}
	m := setFileRE.FindStringSubmatch(name)
	switch {
	case m == nil || !ValidTimestamp(m[2]):
		return otherFile, ""
	case m[3] != "":
		return tmpKind, m[2]
	case m[1] == "collection":
		return collectionKind, m[2]
	default:
		return embeddingKind, m[2]
	}
}

// group collects the files of one timestamp while a folder is read.
type group struct {
	coll, emb fs.FileInfo
	tmps      []string
	manifest  string
	files     []string
}

// readSets reads one backup folder: its complete sets and its incomplete
// ones, newest first. Files whose real path lies outside root are ignored.
func readSets(dir, root string) (sets []Set, incomplete []Incomplete, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read backup folder %s: %w", dir, err)
	}

	groups := make(map[string]*group)
	var log fs.FileInfo
	for _, e := range entries {
		name := e.Name()
		kind, ts := classify(name)
		if kind == otherFile {
			continue
		}
		fi, err := fileInfo(filepath.Join(dir, name), e, root)
		if err != nil {
			return nil, nil, fmt.Errorf("read backup folder %s: %w", dir, err)
		}
		if fi == nil || !fi.Mode().IsRegular() {
			continue
		}
		if kind == logKind {
			log = fi
			continue
		}

		g := groups[ts]
		if g == nil {
			g = &group{}
			groups[ts] = g
		}
		g.files = append(g.files, name)
		switch kind {
		case manifestKind:
			g.manifest = name
		case tmpKind:
			g.tmps = append(g.tmps, name)
		case collectionKind:
			g.coll = fi
		case embeddingKind:
			g.emb = fi
		}
	}

	sets, incomplete = []Set{}, []Incomplete{}
	for ts, g := range groups {
		switch {
		case g.coll != nil && g.emb != nil && len(g.tmps) == 0:
			sets = append(sets, newSet(dir, ts, g))
		case g.coll != nil || g.emb != nil || len(g.tmps) > 0:
			incomplete = append(incomplete, newIncomplete(ts, g))
		}
		// A manifest alone is not a set, not even an incomplete one.
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].Timestamp > sets[j].Timestamp })
	sort.Slice(incomplete, func(i, j int) bool { return incomplete[i].Timestamp > incomplete[j].Timestamp })

	if log != nil {
		if counts := readLog(filepath.Join(dir, logFile), log); counts != nil {
			for i := range sets {
				if rows, ok := counts[sets[i].Timestamp]; ok {
					sets[i].LogFile = logFile
					sets[i].RowCounts = rows
				}
			}
		}
	}
	return sets, incomplete, nil
}

func newSet(dir, ts string, g *group) Set {
	t, _ := parseTimestamp(ts)
	mod := g.coll.ModTime()
	if g.emb.ModTime().After(mod) {
		mod = g.emb.ModTime()
	}
	return Set{
		Timestamp:       ts,
		Dir:             dir,
		CollectionFile:  collectionFile(ts),
		EmbeddingFile:   embeddingFile(ts),
		CollectionBytes: g.coll.Size(),
		EmbeddingBytes:  g.emb.Size(),
		ModTime:         mod,
		Time:            t,
		ManifestFile:    g.manifest,
	}
}

func newIncomplete(ts string, g *group) Incomplete {
	inc := Incomplete{Timestamp: ts, Files: g.files, Missing: []string{}}
	sort.Strings(inc.Files)
	var reasons []string
	if len(g.tmps) > 0 {
		sort.Strings(g.tmps)
		reasons = append(reasons, "half-written: "+strings.Join(g.tmps, ", ")+" present")
	}
	switch {
	case g.coll == nil && g.emb == nil:
		inc.Missing = append(inc.Missing, collectionFile(ts), embeddingFile(ts))
		reasons = append(reasons, "collection and embedding files missing")
	case g.coll == nil:
		inc.Missing = append(inc.Missing, collectionFile(ts))
		reasons = append(reasons, "collection file missing")
	case g.emb == nil:
		inc.Missing = append(inc.Missing, embeddingFile(ts))
		reasons = append(reasons, "embedding file missing")
	}
	inc.Reason = strings.Join(reasons, "; ")
	return inc
}

// fileInfo returns what a folder entry is, following a symlink only when it
// leads to a path inside root. It returns nil, without an error, for entries
// to ignore: links that are broken, loop, or lead out of the root, and files
// that vanished since the folder was listed (a backup renaming its .tmp files).
func fileInfo(path string, e fs.DirEntry, root string) (fs.FileInfo, error) {
	if e.Type()&fs.ModeSymlink == 0 {
		fi, err := e.Info()
		if isNotExist(err) {
			return nil, nil
		}
		return fi, err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil || !inside(root, real) {
		return nil, nil
	}
	fi, err := os.Stat(real)
	if isNotExist(err) {
		return nil, nil
	}
	return fi, err
}

// readLog reads a folder's log and returns, for each set it mentions, the
// row counts it gives (nil when it gives none). A log that cannot be read or
// is too big to be one is ignored: it only adds detail to a listing.
func readLog(path string, fi fs.FileInfo) map[string]map[string]int64 {
	if fi.Size() > maxLogSize {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLogSize+1))
	if err != nil || len(data) > maxLogSize {
		return nil
	}
	return parseLog(string(data))
}

// parseLog returns, for each set timestamp the log text mentions, the row
// counts of its "<table>: <n> rows -> <file>" lines.
func parseLog(text string) map[string]map[string]int64 {
	counts := make(map[string]map[string]int64)
	for _, m := range logMentionRE.FindAllStringSubmatch(text, -1) {
		if _, ok := counts[m[1]]; !ok && m[2] == "" {
			counts[m[1]] = nil
		}
	}
	for _, line := range strings.Split(text, "\n") {
		m := logRowsRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			continue
		}
		file := m[3][strings.LastIndexAny(m[3], `/\`)+1:]
		f := setFileRE.FindStringSubmatch(file)
		if f == nil || f[3] != "" {
			continue
		}
		if counts[f[2]] == nil {
			counts[f[2]] = make(map[string]int64)
		}
		counts[f[2]][m[1]] = n
	}
	if len(counts) == 0 {
		return nil
	}
	return counts
}
