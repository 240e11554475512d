package catalog

import (
	"context"
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
	// setFileRE matches a set's CSV files and the .tmp files a backup writes
	// before renaming them.
	setFileRE = regexp.MustCompile(`^langchain_pg_(collection|embedding)_([0-9]{8}_[0-9]{6})\.csv(\.tmp)?$`)

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

	LogFile   string           // "vector_backup_log.txt" when that log mentions this set, else ""
	RowCounts map[string]int64 // table → rows, from the log; nil if unknown
	// ManifestFile is the set's manifest if present, else "":
	// vector_backup_manifest_<ts>.json for a backup,
	// vector_snapshot_manifest_<ts>.json for the rows a restore replaced (the
	// kind is in the name, so a listing needs no file reads).
	ManifestFile string
	Kind         string // KindSnapshot for a set this server wrote before a restore, else KindBackup

	hasLog bool // the folder has a log (which may or may not mention this set)
}

// Kinds of set.
const (
	KindBackup   = "backup"
	KindSnapshot = "snapshot"
)

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

// parseTimestamp reads YYYYMMDD_HHMMSS by hand: a listing checks one per
// file, and time.Parse with a regular expression first cost a third of it.
func parseTimestamp(ts string) (time.Time, bool) {
	if len(ts) != len(timestampLayout) || ts[8] != '_' {
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
	read, err := readFolder(dir, root)
	if isNotExist(err) {
		// Removed since Resolve saw it.
		return Set{}, apierr.Wrap(apierr.ResourceNotFound, err, "backup folder does not exist: %s", folder).
			With("param", "backup_path").With("backup_path", folder)
	} else if err != nil {
		return Set{}, err
	}
	// Only the set asked for is detailed; the newest whose files are still
	// there, for "latest".
	var sets []Set
	for i := range read.sets {
		if timestamp != "latest" && read.sets[i].Timestamp != timestamp {
			continue
		}
		kept, err := detail([]*Set{&read.sets[i]})
		if err != nil {
			return Set{}, err
		}
		if len(kept) == 1 {
			sets = append(sets, *kept[0])
			break
		}
	}
	incomplete := read.incomplete

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
	if len(read.sets) > 0 {
		msg += fmt.Sprintf("; the newest complete set there is %s", read.sets[0].Timestamp)
	} else {
		msg += "; the folder has no complete set"
	}
	return Set{}, apierr.New(apierr.ResourceNotFound, "%s", msg).
		With("param", "timestamp").With("timestamp", timestamp).With("backup_path", folder)
}

// Sets returns the complete sets of dir, a folder inside the backup root,
// newest first and without details (see Detail).
func (c *Catalog) Sets(dir string) ([]Set, error) {
	root := c.realRoot()
	if !inside(c.BackupRoot, dir) && !inside(root, dir) {
		return nil, c.forbidden(dir)
	}
	read, err := readFolder(dir, root)
	if err != nil {
		return nil, err
	}
	return read.sets, nil
}

// SetTimestamp returns the timestamp of the set a file name belongs to (its
// CSV files, their .tmp forms, its manifest).
func SetTimestamp(name string) (string, bool) {
	kind, ts := classify(name)
	return ts, kind != otherFile && kind != logKind
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
// It runs for every file of every listing, so it cuts names rather than
// matching expressions.
func classify(name string) (fileKind, string) {
	if name == logFile {
		return logKind, ""
	}
	if rest, ok := strings.CutPrefix(name, "vector_"); ok {
		if rest, ok = strings.CutSuffix(rest, ".json"); !ok {
			return otherFile, ""
		}
		for _, prefix := range []string{"backup_manifest_", "snapshot_manifest_"} {
			if ts, ok := strings.CutPrefix(rest, prefix); ok && ValidTimestamp(ts) {
				return manifestKind, ts
			}
		}
		return otherFile, ""
	}
	rest, ok := strings.CutPrefix(name, "langchain_pg_")
	if !ok {
		return otherFile, ""
	}
	kind := collectionKind
	if rest, ok = strings.CutPrefix(rest, "collection_"); !ok {
		if rest, ok = strings.CutPrefix(rest, "embedding_"); !ok {
			return otherFile, ""
		}
		kind = embeddingKind
	}
	if ts, ok := strings.CutSuffix(rest, ".csv.tmp"); ok {
		rest, kind = ts, tmpKind
	} else if rest, ok = strings.CutSuffix(rest, ".csv"); !ok {
		return otherFile, ""
	}
	if !ValidTimestamp(rest) {
		return otherFile, ""
	}
	return kind, rest
}

// group collects the files of one timestamp while a folder is read.
type group struct {
	coll, emb bool
	tmps      []string
	manifest  string
	files     []string
}

// folder is one backup folder as a directory read shows it: its sets by
// name alone, and whether it has a log.
type folder struct {
	sets       []Set        // complete sets, newest first, without details
	incomplete []Incomplete // newest first
	hasLog     bool
}

// readFolder reads one backup folder by name alone: a single directory read
// (plus a look at any symlink), so that a listing of thousands of folders
// stats only the files of the sets it shows (see detail). Files whose real
// path lies outside root are ignored.
func readFolder(dir, root string) (*folder, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read backup folder %s: %w", dir, err)
	}

	f := &folder{sets: []Set{}, incomplete: []Incomplete{}}
	groups := make(map[string]*group)
	for _, e := range entries {
		name := e.Name()
		kind, ts := classify(name)
		if kind == otherFile || !isRegular(filepath.Join(dir, name), e, root) {
			continue
		}
		if kind == logKind {
			f.hasLog = true
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
			g.coll = true
		case embeddingKind:
			g.emb = true
		}
	}
	for ts, g := range groups {
		switch {
		case g.coll && g.emb && len(g.tmps) == 0:
			f.sets = append(f.sets, newSet(dir, ts, g, f.hasLog))
		case g.coll || g.emb || len(g.tmps) > 0:
			f.incomplete = append(f.incomplete, newIncomplete(ts, g))
		}
		// A manifest alone is not a set, not even an incomplete one.
	}
	sort.Slice(f.sets, func(i, j int) bool { return f.sets[i].Timestamp > f.sets[j].Timestamp })
	sort.Slice(f.incomplete, func(i, j int) bool { return f.incomplete[i].Timestamp > f.incomplete[j].Timestamp })
	return f, nil
}

// detail fills in the details of sets of one folder: the files' sizes and
// times, and the row counts the folder's log gives. It returns the sets
// whose files are still there; a set that vanished since its folder was read
// (a backup being removed) is dropped.
func detail(sets []*Set) ([]*Set, error) {
	if len(sets) == 0 {
		return sets, nil
	}
	kept := sets[:0]
	for _, s := range sets {
		coll, err := os.Stat(s.CollectionPath())
		if err == nil {
			var emb fs.FileInfo
			if emb, err = os.Stat(s.EmbeddingPath()); err == nil {
				s.CollectionBytes, s.EmbeddingBytes = coll.Size(), emb.Size()
				s.ModTime = coll.ModTime()
				if emb.ModTime().After(s.ModTime) {
					s.ModTime = emb.ModTime()
				}
			}
		}
		switch {
		case isNotExist(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("read backup set %s in %s: %w", s.Timestamp, s.Dir, err)
		}
		kept = append(kept, s)
	}
	if kept[0].hasLog {
		if counts := readLog(filepath.Join(kept[0].Dir, logFile)); counts != nil {
			for _, s := range kept {
				if rows, ok := counts[s.Timestamp]; ok {
					s.LogFile, s.RowCounts = logFile, rows
				}
			}
		}
	}
	return kept, nil
}

// Detail fills in the sizes, times and logged row counts of sets, which a
// Brief scan leaves out, reading the folders at once. It returns the sets
// still there.
func (c *Catalog) Detail(ctx context.Context, sets []*Set) ([]*Set, error) {
	var byDir [][]*Set
	index := map[string]int{}
	for _, s := range sets {
		i, ok := index[s.Dir]
		if !ok {
			i = len(byDir)
			index[s.Dir] = i
			byDir = append(byDir, nil)
		}
		byDir[i] = append(byDir[i], s)
	}
	err := parallel(ctx, len(byDir), func(i int) (err error) {
		byDir[i], err = detail(byDir[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	gone := map[*Set]bool{}
	for _, s := range sets {
		gone[s] = true
	}
	for _, dir := range byDir {
		for _, s := range dir {
			delete(gone, s)
		}
	}
	kept := make([]*Set, 0, len(sets))
	for _, s := range sets {
		if !gone[s] {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

func newSet(dir, ts string, g *group, hasLog bool) Set {
	t, _ := parseTimestamp(ts)
	kind := KindBackup
	if strings.HasPrefix(g.manifest, "vector_snapshot_") { // classify checked the rest
		kind = KindSnapshot
	}
	return Set{
		Timestamp:      ts,
		Dir:            dir,
		CollectionFile: collectionFile(ts),
		EmbeddingFile:  embeddingFile(ts),
		Time:           t,
		ManifestFile:   g.manifest,
		Kind:           kind,
		hasLog:         hasLog,
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
	case !g.coll && !g.emb:
		inc.Missing = append(inc.Missing, collectionFile(ts), embeddingFile(ts))
		reasons = append(reasons, "collection and embedding files missing")
	case !g.coll:
		inc.Missing = append(inc.Missing, collectionFile(ts))
		reasons = append(reasons, "collection file missing")
	case !g.emb:
		inc.Missing = append(inc.Missing, embeddingFile(ts))
		reasons = append(reasons, "embedding file missing")
	}
	inc.Reason = strings.Join(reasons, "; ")
	return inc
}

// isRegular reports whether a folder entry is a regular file, following a
// symlink only when it leads to a path inside root: links that are broken,
// loop or lead out of the root are no files. Only a link costs a system
// call; the directory read gave the others' types.
func isRegular(path string, e fs.DirEntry, root string) bool {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.Type().IsRegular()
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil || !inside(root, real) {
		return false
	}
	fi, err := os.Stat(real)
	return err == nil && fi.Mode().IsRegular()
}

// readLog reads a folder's log and returns, for each set it mentions, the
// row counts it gives (nil when it gives none). A log that cannot be read or
// is too big to be one is ignored: it only adds detail to a listing.
func readLog(path string) map[string]map[string]int64 {
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
