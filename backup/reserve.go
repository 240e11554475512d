package backup

// Reserving a new set's timestamp and files, and removing what writers
// that died left behind.

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// maxAhead bounds how far ahead of the clock a new set may be stamped.
// Timestamps have whole seconds, and a set written in a second another set
// of the folder already has goes to the next free one; when that is further
// ahead, the writer waits for the clock instead, so that restores racing
// backups never push sets into the future, and the newest set stamped is
// the newest written.
const maxAhead = 2 * time.Second

// wrongClock is how far ahead a set must be to be taken for one stamped by
// a wrong clock (or by hand): new sets do not wait for it.
const wrongClock = 10 * time.Second

// reserve picks the first free timestamp at or after now and after the
// folder's newest set, and creates the set's temporary files exclusively,
// so two backups in one second, in one process or two, never write the
// same set. The files are locked while this process writes them (see
// removeLeftovers).
func reserve(ctx context.Context, dir *folder, now time.Time) (string, map[string]*os.File, error) {
	now = layout.WallClock(now)
	for try := 0; try < 60; try++ {
		at := next(dir, now)
		if wait := at.Sub(now) - maxAhead; wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return "", nil, apierr.Wrap(apierr.Cancelled, ctx.Err(), "cancelled while waiting for a free backup timestamp")
			}
			now = now.Add(wait)
		}
		ts := at.Format(layout.TimestampLayout)
		files, ok, err := create(dir, ts)
		if err != nil {
			return "", nil, err
		}
		// Another process may have published this timestamp between the
		// look and the exclusive creates.
		if ok && !taken(dir, ts) {
			return ts, files, nil
		}
		closeRemove(dir, files)
	}
	return "", nil, apierr.New(apierr.Conflict, "no free backup timestamp in %s after 60 tries; other writers keep taking them, retry later", dir.rel)
}

// create creates set ts's temporary files exclusively and locks them; ok is
// false when one exists already.
func create(dir *folder, ts string) (files map[string]*os.File, ok bool, err error) {
	files = map[string]*os.File{}
	for _, table := range layout.Tables() {
		f, err := dir.createExclusive(layout.ServerTmpName(layout.FileName(table, ts)), 0o644)
		if errors.Is(err, fs.ErrExist) {
			return files, false, nil
		}
		if err == nil {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			closeRemove(dir, files)
			return nil, false, writeError(err, "create backup file in %s", dir.rel)
		}
		files[table] = f
	}
	return files, true, nil
}

// next is now, or the second after the folder's newest set when that is as
// new or newer (sets stamped by a wrong clock aside).
func next(dir *folder, now time.Time) time.Time {
	newest := now.Add(-time.Second)
	entries, err := dir.readDir()
	if err != nil {
		return now
	}
	for _, e := range entries {
		kind, ts := layout.Kind(e.Name())
		if kind == layout.OtherFile || kind == layout.LogFile {
			continue
		}
		t, ok := layout.ParseTimestamp(ts)
		if ok && t.After(newest) && t.Before(now.Add(wrongClock)) {
			newest = t
		}
	}
	return newest.Add(time.Second)
}

// leftoverAge is how old a file of the server's own must be before it is
// taken for a leftover: its writer creates and locks it in one moment.
const leftoverAge = time.Minute

// removeLeftovers removes what writers of this server that died (a SIGKILL,
// a crash) left in dir: files under the server's temporary names that no
// process holds locked. A live writer holds its files locked until it
// publishes or discards them; the pipeline never writes such names, so
// nothing it may be writing is touched.
func removeLeftovers(dir *folder) {
	entries, err := dir.readDir()
	if err != nil {
		return
	}
	for _, e := range entries {
		if !layout.IsServerTmp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		f, err := dir.openNoFollow(e.Name())
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err == nil && time.Since(fi.ModTime()) > leftoverAge &&
			syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			dir.remove(e.Name())
		}
		f.Close()
	}
}

// taken reports whether any file of set ts exists in dir, the old
// pipeline's half-written ones included.
func taken(dir *folder, ts string) bool {
	for _, name := range []string{
		layout.FileName(layout.CollectionTable, ts), layout.FileName(layout.EmbeddingTable, ts),
		layout.ManifestName(layout.KindBackup, ts), layout.ManifestName(layout.KindSnapshot, ts),
		layout.TmpName(layout.FileName(layout.CollectionTable, ts)), layout.TmpName(layout.FileName(layout.EmbeddingTable, ts)),
	} {
		if dir.exists(name) {
			return true
		}
	}
	return false
}

// closeRemove removes and closes a set's temporary files.
func closeRemove(dir *folder, files map[string]*os.File) {
	for _, f := range files {
		dir.remove(filepath.Base(f.Name()))
		f.Close()
	}
}
