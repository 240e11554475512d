package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// backupDir is the folder that holds a task's backups.
const backupDir = "vector_bak"

// globalDirs are the global locations' folder names: the legacy one and the
// current one. Sorted, since global locations are listed by name.
var globalDirs = []string{"global_vector_bak", "vector_bak"}

// Filter narrows a scan.
type Filter struct {
	GlobalOnly bool   // only the global locations; takes precedence over TaskID
	TaskID     string // only this task folder, a first-level folder of the backup root
}

// Location is a folder that holds backup sets.
type Location struct {
	Type         string       // "global" | "task"
	TaskID       string       // task only: first-level folder name
	RelativePath string       // "./"-prefixed and "/"-separated from the project root, or absolute when outside it
	Dir          string       // absolute
	Sets         []Set        // complete sets, newest first
	Incomplete   []Incomplete // newest first
}

// Scan is the result of scanning the backup root.
type Scan struct {
	Locations []Location // global locations by folder name, then task locations by folder name, newest first
	ScanTime  time.Time
}

// location is a folder found to scan, before its sets are read.
type location struct {
	typ, taskID, dir string
}

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

	root := c.realRoot()
	locs, err := c.locations(f.GlobalOnly, taskID, root)
	if err != nil {
		return nil, err
	}
	for _, loc := range locs {
		// Each folder is a directory read plus a few stats; checking between
		// them keeps a cancelled call on a big root from running on.
		if err := ctx.Err(); err != nil {
			return nil, cancelled(err)
		}
		sets, incomplete, err := readSets(loc.dir, root)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", loc.dir, err)
		}
		s.Locations = append(s.Locations, Location{
			Type:         loc.typ,
			TaskID:       loc.taskID,
			RelativePath: c.display(loc.dir),
			Dir:          loc.dir,
			Sets:         sets,
			Incomplete:   incomplete,
		})
	}
	return s, nil
}

// locations finds the folders to scan, in listing order.
func (c *Catalog) locations(globalOnly bool, taskID, root string) ([]location, error) {
	var locs []location
	if globalOnly || taskID == "" {
		for _, name := range globalDirs {
			dir := filepath.Join(c.BackupRoot, name)
			ok, err := isDir(dir, root)
			if err != nil {
				return nil, err
			}
			if ok {
				locs = append(locs, location{typ: "global", dir: dir})
			}
		}
	}
	if globalOnly {
		return locs, nil
	}

	var names []string
	if taskID != "" {
		names = []string{taskID}
	} else {
		entries, err := os.ReadDir(c.BackupRoot)
		// A root not created yet holds no backups; a root that is a file is
		// a mistake worth reporting.
		if errors.Is(err, fs.ErrNotExist) {
			return locs, nil
		} else if err != nil {
			return nil, fmt.Errorf("scan backup root %s: %w", c.BackupRoot, err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
	}
	// Task folders are usually named after their start time, so the reverse
	// of name order puts the newest first.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))

	for _, name := range names {
		if isGlobalDir(name) {
			continue
		}
		ok, err := c.isTask(name, root)
		if err != nil {
			return nil, err
		}
		if ok {
			locs = append(locs, location{typ: "task", taskID: name, dir: filepath.Join(c.BackupRoot, name, backupDir)})
		}
	}
	return locs, nil
}

// isTask reports whether the first-level folder name holds a vector_bak
// folder.
func (c *Catalog) isTask(name, root string) (bool, error) {
	folder := filepath.Join(c.BackupRoot, name)
	if ok, err := isDir(folder, root); err != nil || !ok {
		return false, err
	}
	return isDir(filepath.Join(folder, backupDir), root)
}

// isDir reports whether path is a directory whose real path lies inside root.
// Missing paths, broken or looping links and links out of the root are not.
func isDir(path, root string) (bool, error) {
	fi, err := os.Lstat(path)
	if isNotExist(err) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("scan %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return fi.IsDir(), nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil || !inside(root, real) {
		return false, nil
	}
	fi, err = os.Stat(real)
	if err != nil {
		return false, nil
	}
	return fi.IsDir(), nil
}

func isGlobalDir(name string) bool {
	for _, g := range globalDirs {
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
	return id, nil
}

func cancelled(err error) error {
	return apierr.Wrap(apierr.Cancelled, err, "scan cancelled")
}
