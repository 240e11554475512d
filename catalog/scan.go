package catalog

import (
	"context"
	"errors"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// backupDir is the folder that holds a task's backups.
const backupDir = layout.TaskBackupDir

// Filter narrows a scan.
type Filter struct {
	GlobalOnly bool   // only the global locations; takes precedence over TaskID
	TaskID     string // only this task folder, a first-level folder of the backup root

	// Brief leaves out the sets' details (sizes, times, logged row counts),
	// which cost a stat per file and a read of each log: a caller that shows
	// a few of many sets fills in theirs with Detail.
	Brief bool
}

// Location is a folder that holds backup sets.
type Location struct {
	Type         string       // "global" | "task"
	TaskID       string       // task only: first-level folder name
	RelativePath string       // "./"-prefixed and "/"-separated from the project root, or absolute when outside it
	Dir          string       // its key in the backup root
	Sets         []Set        // complete sets, newest first
	Incomplete   []Incomplete // newest first
}

// Name is the location's folder name: the task folder's, or the global
// folder's own (vector_bak, global_vector_bak).
func (l *Location) Name() string {
	if l.TaskID != "" {
		return l.TaskID
	}
	return path.Base(l.Dir)
}

// Scan is the result of scanning the backup root.
type Scan struct {
	Locations []Location // global locations by folder name, then task locations by folder name, newest first
	ScanTime  time.Time
}

// location is a folder that may hold sets, before it is checked and read.
type location struct {
	typ, taskID, dir string // dir: the folder's key
	plainFolder      bool   // the task folder is a directory, not a link: the root's read said so
}

// scanWorkers is how many folders are read at once. Reading a folder is
// system calls (a directory read, a stat per file, the log), which overlap
// well across threads even on two cores.
const scanWorkers = 4

// Scan lists the backup locations under the backup root and the sets in each.
// A backup root that does not exist yet has no locations.
func (c *Catalog) Scan(ctx context.Context, f Filter) (*Scan, error) {
	taskID, err := cleanTaskID(f.TaskID)
	if err != nil {
		return nil, err
	}
	s := &Scan{Locations: []Location{}, ScanTime: time.Now()}
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}

	if c.Bucket() && !f.GlobalOnly && taskID == "" {
		return c.scanBucket(ctx, f, s)
	}
	candidates, err := c.candidates(ctx, f.GlobalOnly, taskID)
	if err != nil {
		return nil, err
	}
	found := make([]*Location, len(candidates))
	err = parallel(ctx, len(candidates), func(i int) (err error) {
		found[i], err = c.readLocation(ctx, candidates[i], !f.Brief)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, loc := range found {
		if loc != nil {
			s.Locations = append(s.Locations, *loc)
		}
	}
	return s, nil
}

// scanBucket scans a whole bucket with one flat listing of its keys (a
// request per thousand), not a request per folder: a bucket has no folders
// to read one by one, and thousands of task prefixes would cost thousands
// of round trips.
func (c *Catalog) scanBucket(ctx context.Context, f Filter, s *Scan) (*Scan, error) {
	byDir := map[string][]store.Entry{}
	err := c.Store.Walk(ctx, "", 3, func(e store.Entry) error {
		if dir := store.Dir(e.Key); isLocation(dir) {
			byDir[dir] = append(byDir[dir], e)
		}
		return nil
	})
	if err != nil {
		return nil, storageError(err, "scan the backup root")
	}
	var globals, tasks []string
	for dir := range byDir {
		if isGlobalDir(dir) {
			globals = append(globals, dir)
		} else {
			tasks = append(tasks, dir)
		}
	}
	sort.Strings(globals)
	// Task folders are usually named after their start time, so the reverse
	// of name order puts the newest first.
	sort.Sort(sort.Reverse(sort.StringSlice(tasks)))
	for _, dir := range append(globals, tasks...) {
		read := groupFolder(c.Store, dir, byDir[dir])
		loc := Location{Type: "global", RelativePath: c.RelativePath(dir), Dir: dir, Sets: read.sets, Incomplete: read.incomplete}
		if !isGlobalDir(dir) {
			loc.Type, loc.TaskID = "task", store.Dir(dir)
		}
		if !f.Brief {
			ptrs := make([]*Set, len(loc.Sets))
			for i := range loc.Sets {
				ptrs[i] = &loc.Sets[i]
			}
			if ptrs, err = detail(ctx, c.Store, ptrs); err != nil {
				return nil, err
			}
			loc.Sets = make([]Set, len(ptrs))
			for i, p := range ptrs {
				loc.Sets[i] = *p
			}
		}
		s.Locations = append(s.Locations, loc)
	}
	return s, nil
}

// isLocation reports whether the folder key dir is a location: a global
// folder, or a task folder's vector_bak.
func isLocation(dir string) bool {
	if isGlobalDir(dir) {
		return true
	}
	task, bak, ok := strings.Cut(dir, "/")
	if !ok || bak != backupDir || isGlobalDir(task) || layout.IsServerDir(task) {
		return false
	}
	id, err := cleanTaskID(task)
	return err == nil && id == task
}

// parallel runs fn(0..n-1) on scanWorkers goroutines and returns the first
// error by index. It stops early when ctx ends: between folders, so that a
// cancelled call on a big root does not run on.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(scanWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				errs[i] = fn(i)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return cancelled(err)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readLocation reads the sets of a candidate folder, or returns nil when it
// is no location (a task folder without vector_bak, a link out of the root).
func (c *Catalog) readLocation(ctx context.Context, loc location, detailed bool) (*Location, error) {
	var ok bool
	var err error
	switch {
	case loc.typ == "task" && !loc.plainFolder:
		ok, err = c.isTask(ctx, loc.taskID)
	default:
		ok, err = c.isDir(ctx, loc.dir) // for a task, the vector_bak inside it
	}
	if err != nil || !ok {
		return nil, err
	}
	read, err := readFolder(ctx, c.Store, loc.dir)
	if err != nil {
		return nil, storageError(err, "scan "+c.RelativePath(loc.dir))
	}
	sets := read.sets
	if detailed {
		ptrs := make([]*Set, len(sets))
		for i := range sets {
			ptrs[i] = &sets[i]
		}
		if ptrs, err = detail(ctx, c.Store, ptrs); err != nil {
			return nil, err
		}
		sets = make([]Set, len(ptrs))
		for i, p := range ptrs {
			sets[i] = *p
		}
	}
	return &Location{
		Type:         loc.typ,
		TaskID:       loc.taskID,
		RelativePath: c.RelativePath(loc.dir),
		Dir:          loc.dir,
		Sets:         sets,
		Incomplete:   read.incomplete,
	}, nil
}

// candidates lists the folders that may be locations, in listing order:
// global folders by name, then first-level folders newest first.
func (c *Catalog) candidates(ctx context.Context, globalOnly bool, taskID string) ([]location, error) {
	var locs []location
	if globalOnly || taskID == "" {
		for _, name := range layout.GlobalDirs() {
			locs = append(locs, location{typ: "global", dir: name})
		}
	}
	if globalOnly {
		return locs, nil
	}

	var names []string
	plain := map[string]bool{}
	if taskID != "" {
		names = []string{taskID}
	} else {
		// A root not created yet holds no backups (an empty listing).
		entries, err := c.Store.List(ctx, "")
		if err != nil {
			return nil, storageError(err, "scan the backup root")
		}
		for _, e := range entries {
			if e.Dir { // files are no task folders
				names = append(names, e.Name())
				// The listing followed links inside the root already, and
				// left out the others.
				plain[e.Name()] = true
			}
		}
	}
	// Task folders are usually named after their start time, so the reverse
	// of name order puts the newest first.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, name := range names {
		if !isGlobalDir(name) && !layout.IsServerDir(name) {
			locs = append(locs, location{typ: "task", taskID: name, dir: store.Join(name, backupDir), plainFolder: plain[name]})
		}
	}
	return locs, nil
}

// isTask reports whether the first-level folder name holds a vector_bak
// folder.
func (c *Catalog) isTask(ctx context.Context, name string) (bool, error) {
	if ok, err := c.isDir(ctx, name); err != nil || !ok {
		return false, err
	}
	return c.isDir(ctx, store.Join(name, backupDir))
}

// isDir reports whether key is a folder inside the root. Missing paths,
// broken or looping links and links out of the root are not.
func (c *Catalog) isDir(ctx context.Context, key string) (bool, error) {
	e, err := c.Store.Stat(ctx, key)
	switch {
	case err == nil:
		return e.Dir, nil
	case errors.Is(err, store.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return false, nil
	}
	if _, typed := apierr.As(err); typed {
		return false, err
	}
	// A link out of the root, a loop: no folder of the root.
	return false, nil
}

func isGlobalDir(name string) bool {
	for _, g := range layout.GlobalDirs() {
		if name == g {
			return true
		}
	}
	return false
}

// cleanTaskID checks a task_id filter. It names a first-level folder, so
// anything that could name another path is refused.
func cleanTaskID(taskID string) (string, error) {
	if taskID == "" {
		return "", nil
	}
	id := strings.TrimSpace(taskID)
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, `/\`+"\x00") {
		return "", apierr.New(apierr.InvalidParams,
			"task_id must be the name of a task folder in the backup root, such as task_20250721_213627; got %q", taskID).
			With("param", "task_id")
	}
	if layout.IsServerDir(id) {
		return "", apierr.New(apierr.InvalidParams,
			"task_id %q names the server's own folder (the audit trail or the server's state), not a task folder; give a task folder such as task_20250721_213627", taskID).
			With("param", "task_id")
	}
	return id, nil
}

func cancelled(err error) error {
	return apierr.Wrap(apierr.Cancelled, err, "scan cancelled")
}
