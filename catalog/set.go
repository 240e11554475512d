package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// Set is a complete backup set: the two data files with one timestamp (CSV,
// or for the server's snapshots binary COPY, see layout.FormatPGCopy).
type Set struct {
	Timestamp    string // YYYYMMDD_HHMMSS
	Dir          string // its folder's key in the backup root
	Kind         string // layout.KindSnapshot for a set this server wrote before a restore, else layout.KindBackup
	ManifestFile string // the set's manifest if present (its name gives the kind), else ""

	// The details, which Detail fills in (a Brief scan leaves them out).
	Bytes     map[string]int64 // table → size of its file
	LogFile   string           // layout.LogName when that log mentions this set, else ""
	RowCounts map[string]int64 // table → rows, from the manifest, else the log; nil if unknown

	hasLog bool        // the folder has a log (which may or may not mention this set)
	store  store.Store // the backup root the set lies in
	sizes  map[string]int64
	names  map[string]string // table → its file's name, as the listing found it
}

// File is the name of table's file: as the folder's listing found it (a
// snapshot's may be a .pgcopy), else the CSV name.
func (s Set) File(table string) string {
	if name, ok := s.names[table]; ok {
		return name
	}
	return layout.FileName(table, s.Timestamp)
}

// Key is the key of table's file in the backup root.
func (s Set) Key(table string) string { return store.Join(s.Dir, s.File(table)) }

// Path is where table's file lies, for people and logs: its path on this
// machine in a folder, its URL in a bucket.
func (s Set) Path(table string) string {
	if s.store == nil {
		return s.Key(table)
	}
	return s.store.Name(s.Key(table))
}

// Store is the backup root the set lies in.
func (s Set) Store() store.Store { return s.store }

// Time is the set's timestamp as wall-clock time in UTC (see
// layout.ParseTimestamp).
func (s Set) Time() time.Time {
	t, _ := layout.ParseTimestamp(s.Timestamp)
	return t
}

// BackupDate returns the set's time as the old API showed it:
// "2025-07-21 21:57:58".
func (s Set) BackupDate() string { return layout.Date(s.Timestamp) }

// Incomplete is a timestamp whose set cannot be restored: a CSV is missing or
// .tmp leftovers show the backup that wrote it did not finish.
type Incomplete struct {
	Timestamp string
	Files     []string // base names present (including .tmp leftovers)
	Missing   []string // base names of the missing CSVs
	Reason    string   // e.g. "embedding file missing"
}

// FindSet returns the complete set with that timestamp in dir, a folder key
// returned by Resolve, or for "latest" the newest complete set.
func (c *Catalog) FindSet(ctx context.Context, dir, timestamp string) (Set, error) {
	if timestamp != "latest" && !layout.ValidTimestamp(timestamp) {
		return Set{}, apierr.New(apierr.InvalidParams,
			`timestamp must be "latest" or a real date and time as YYYYMMDD_HHMMSS, e.g. 20250721_215758; got %q`, timestamp).
			With("param", "timestamp")
	}
	if dir != "" && !fs.ValidPath(dir) {
		// Resolve hands out keys down from the root only.
		return Set{}, c.forbidden(dir)
	}
	folder := c.RelativePath(dir)
	read, err := readFolder(ctx, c.Store, dir)
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
		kept, err := detail(ctx, c.Store, []*Set{&read.sets[i]})
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
				timestamp, folder, inc.Reason, layout.FileName(layout.CollectionTable, timestamp), layout.FileName(layout.EmbeddingTable, timestamp)).
				With("param", "timestamp").With("timestamp", timestamp).With("backup_path", folder).
				With("missing_files", inc.Missing)
		}
	}
	msg := fmt.Sprintf("no backup set %s in %s: expected %s and %s",
		timestamp, folder, layout.FileName(layout.CollectionTable, timestamp), layout.FileName(layout.EmbeddingTable, timestamp))
	if len(read.sets) > 0 {
		msg += fmt.Sprintf("; the newest complete set there is %s", read.sets[0].Timestamp)
	} else {
		msg += "; the folder has no complete set"
	}
	return Set{}, apierr.New(apierr.ResourceNotFound, "%s", msg).
		With("param", "timestamp").With("timestamp", timestamp).With("backup_path", folder)
}

// Sets returns the complete sets of dir, a folder key, newest first and
// without details (see Detail).
func (c *Catalog) Sets(ctx context.Context, dir string) ([]Set, error) {
	if dir != "" && !fs.ValidPath(dir) {
		return nil, c.forbidden(dir)
	}
	read, err := readFolder(ctx, c.Store, dir)
	if err != nil {
		return nil, err
	}
	return read.sets, nil
}

// group collects the files of one timestamp while a folder is read.
type group struct {
	coll, emb bool
	tmps      []string
	manifest  string
	files     []string
	sizes     map[string]int64  // table → size, when the listing gave it
	names     map[string]string // table → its data file's name
	twice     []string          // data files of a table that already has one
	binary    bool              // a data file is not CSV
}

// folder is one backup folder as a directory read shows it: its sets by
// name alone, and whether it has a log.
type folder struct {
	sets       []Set        // complete sets, newest first, without details
	incomplete []Incomplete // newest first
	hasLog     bool
}

// readFolder reads one backup folder by name alone: a single listing, so
// that a listing of thousands of folders reads only the files of the sets
// it shows (see detail). The store leaves out what is no file of the root
// (links out of it, FIFOs).
func readFolder(ctx context.Context, st store.Store, dir string) (*folder, error) {
	entries, err := st.List(ctx, dir)
	if err != nil {
		return nil, storageError(err, "read a backup folder")
	}
	return groupFolder(st, dir, entries), nil
}

// groupFolder groups a folder's files into sets.
func groupFolder(st store.Store, dir string, entries []store.Entry) *folder {
	f := &folder{sets: []Set{}, incomplete: []Incomplete{}}
	groups := make(map[string]*group, len(entries)/2)
	for _, e := range entries {
		name := e.Name()
		kind, ts := layout.Kind(name)
		if kind == layout.OtherFile || e.Dir {
			continue
		}
		if kind == layout.LogFile {
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
		case layout.ManifestFile:
			g.manifest = name
		case layout.TmpFile:
			g.tmps = append(g.tmps, name)
		case layout.CollectionFile:
			g.coll = true
			g.data(layout.CollectionTable, name, e)
		case layout.EmbeddingFile:
			g.emb = true
			g.data(layout.EmbeddingTable, name, e)
		}
	}
	for ts, g := range groups {
		switch {
		case g.coll && g.emb && len(g.tmps) == 0 && len(g.twice) == 0 && (!g.binary || g.manifest != ""):
			f.sets = append(f.sets, newSet(st, dir, ts, g, f.hasLog))
		case g.coll || g.emb || len(g.tmps) > 0:
			f.incomplete = append(f.incomplete, newIncomplete(ts, g))
		}
		// A manifest alone is not a set, not even an incomplete one.
	}
	slices.SortFunc(f.sets, func(a, b Set) int { return strings.Compare(b.Timestamp, a.Timestamp) })
	slices.SortFunc(f.incomplete, func(a, b Incomplete) int { return strings.Compare(b.Timestamp, a.Timestamp) })
	return f
}

// data records table's data file name, noting a second one (a .csv and a
// .pgcopy of one table: which is the set's cannot be told) and a binary one
// (which cannot be read without the manifest's column types).
func (g *group) data(table, name string, e store.Entry) {
	if g.names == nil {
		g.names = map[string]string{}
	}
	if _, ok := g.names[table]; ok {
		g.twice = append(g.twice, name)
		return
	}
	g.names[table] = name
	g.binary = g.binary || layout.DataFormat(name) != layout.FormatCSV
	g.size(table, e)
}

// size keeps a file's size when the listing gave it (a bucket's does).
func (g *group) size(table string, e store.Entry) {
	if !e.Sized {
		return
	}
	if g.sizes == nil {
		g.sizes = map[string]int64{}
	}
	g.sizes[table] = e.Size
}

// detail fills in the details of sets of one folder: the files' sizes and
// times, and their row counts, from each set's manifest or else the
// folder's log. It returns the sets whose files are still there; a set that
// vanished since its folder was read (a backup being removed) is dropped.
func detail(ctx context.Context, st store.Store, sets []*Set) ([]*Set, error) {
	if len(sets) == 0 {
		return sets, nil
	}
	kept := sets[:0]
sets:
	for _, s := range sets {
		s.Bytes = make(map[string]int64, len(layout.Tables()))
		for _, table := range layout.Tables() {
			if size, ok := s.sizes[table]; ok {
				s.Bytes[table] = size
				continue
			}
			e, err := st.Stat(ctx, s.Key(table))
			switch {
			case isNotExist(err):
				continue sets
			case err != nil:
				return nil, storageError(err, "read backup set "+s.Timestamp)
			}
			s.Bytes[table] = e.Size
		}
		kept = append(kept, s)
	}
	if len(kept) > 0 && kept[0].hasLog {
		if counts := readLog(ctx, st, store.Join(kept[0].Dir, layout.LogName)); counts != nil {
			for _, s := range kept {
				if rows, ok := counts[s.Timestamp]; ok {
					s.LogFile, s.RowCounts = layout.LogName, rows
				}
			}
		}
	}
	manifestCounts(ctx, st, kept)
	return kept, nil
}

// manifestCounts sets the row counts of the sets that have a manifest to the
// manifest's: a set the server wrote has no log line, and its manifest's
// counts are the ones every read of the set checks. Only the sets detailed
// are read (a list's page, not the whole scan). A manifest that cannot be read,
// or describes another set, leaves the counts as they were: it only adds
// detail here, and inspect and restore report it.
func manifestCounts(ctx context.Context, st store.Store, sets []*Set) {
	for _, s := range sets {
		if s.ManifestFile == "" {
			continue
		}
		m, err := readManifest(ctx, st, store.Join(s.Dir, s.ManifestFile))
		if err != nil || m.Timestamp != s.Timestamp {
			continue
		}
		counts := make(map[string]int64, len(layout.Tables()))
		for _, table := range layout.Tables() {
			if f, ok := m.Files[table]; ok {
				counts[table] = f.Rows
			}
		}
		if len(counts) > 0 {
			s.RowCounts = counts
		}
	}
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
		byDir[i], err = detail(ctx, c.Store, byDir[i])
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

func newSet(st store.Store, dir, ts string, g *group, hasLog bool) Set {
	kind := layout.KindBackup
	if g.manifest != "" {
		kind = layout.ManifestKind(g.manifest)
	}
	return Set{Timestamp: ts, Dir: dir, Kind: kind, ManifestFile: g.manifest, hasLog: hasLog, store: st, sizes: g.sizes, names: g.names}
}

func newIncomplete(ts string, g *group) Incomplete {
	inc := Incomplete{Timestamp: ts, Files: g.files, Missing: []string{}}
	sort.Strings(inc.Files)
	var reasons []string
	if len(g.tmps) > 0 {
		sort.Strings(g.tmps)
		reasons = append(reasons, "half-written: "+strings.Join(g.tmps, ", ")+" present")
	}
	if len(g.twice) > 0 {
		sort.Strings(g.twice)
		reasons = append(reasons, "more than one file for a table: "+strings.Join(g.twice, ", ")+" besides another")
	}
	if g.binary && g.manifest == "" && g.coll && g.emb {
		reasons = append(reasons, "binary COPY files without the manifest that gives their column types")
	}
	switch {
	case !g.coll && !g.emb:
		inc.Missing = append(inc.Missing, layout.FileName(layout.CollectionTable, ts), layout.FileName(layout.EmbeddingTable, ts))
		reasons = append(reasons, "collection and embedding files missing")
	case !g.coll:
		inc.Missing = append(inc.Missing, layout.FileName(layout.CollectionTable, ts))
		reasons = append(reasons, "collection file missing")
	case !g.emb:
		inc.Missing = append(inc.Missing, layout.FileName(layout.EmbeddingTable, ts))
		reasons = append(reasons, "embedding file missing")
	}
	inc.Reason = strings.Join(reasons, "; ")
	return inc
}

// readLog reads a folder's log and returns, for each set it mentions, the
// row counts it gives (nil when it gives none). A log that cannot be read or
// is too big to be one is ignored: it only adds detail to a listing.
func readLog(ctx context.Context, st store.Store, key string) map[string]map[string]int64 {
	data, err := store.ReadAll(ctx, st, key, layout.MaxLogBytes)
	if err != nil {
		return nil
	}
	return layout.ParseLog(string(data))
}

// Manifest reads the set's manifest: nil when it has none (the old pipeline
// wrote it), BACKUP_CORRUPT when it cannot be read or describes another set.
// A call that reads the set's files gets it from Open instead.
func (s Set) Manifest(ctx context.Context) (*layout.Manifest, error) {
	if s.ManifestFile == "" {
		return nil, nil
	}
	if s.store == nil {
		return nil, errors.New("catalog: set not found by a catalog")
	}
	m, err := readManifest(ctx, s.store, store.Join(s.Dir, s.ManifestFile))
	if err == nil && m.Timestamp != s.Timestamp {
		err = fmt.Errorf("it describes set %s", m.Timestamp)
	}
	if e, ok := apierr.As(err); ok && e.Type != apierr.BackupCorrupt {
		return nil, e // the store failed, not the manifest
	}
	if err != nil {
		return nil, apierr.Wrap(apierr.BackupCorrupt, err, "the set's manifest %s is unreadable: %v; remove it to restore the files unchecked", s.ManifestFile, err).
			With("file", s.ManifestFile)
	}
	return m, nil
}
