package backup

// Reserving a new set's timestamp and files, and removing what writers
// that died left behind.

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
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

// reservation is a set's timestamp, held, and its files being written.
type reservation struct {
	ts      string
	files   map[string]store.Writer // table → its file
	names   map[string]string       // table → its file's name
	claim   string                  // a bucket's claim key, "" in a folder
	lock    store.Writer            // in a folder, the CSV name held while the collection file has another; nil if not
	st      store.Store
	dir     string
	settled bool
}

// reserve picks the first free timestamp at or after now and after the
// folder's newest set, and holds it, so two backups in one second, in one
// process or two, on one machine or two, never write the same set.
//
// In a folder, the set's files are created under the server's temporary
// names exclusively and locked while this process writes them (see
// store.Folder.RemoveLeftovers). A bucket has no exclusive create until a
// publish, so the timestamp is first claimed by a conditional create of an
// empty object under the collection file's temporary name: one writer
// wins, and the catalog lists the set as half-written until the claim is
// removed, after its manifest is published.
//
// name names table's file in the set of timestamp ts.
func reserve(ctx context.Context, st store.Store, dir string, now time.Time, name func(table, ts string) string) (*reservation, error) {
	now = layout.WallClock(now)
	for try := 0; try < 60; try++ {
		at := next(ctx, st, dir, now)
		if wait := at.Sub(now) - maxAhead; wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, apierr.Wrap(apierr.Cancelled, ctx.Err(), "cancelled while waiting for a free backup timestamp")
			}
			now = now.Add(wait)
		}
		ts := at.Format(layout.TimestampLayout)
		if used, err := taken(ctx, st, dir, ts); err != nil || used {
			if err != nil {
				return nil, writeError(err, "look at backup folder %s", st.Name(dir))
			}
			now = at.Add(time.Second)
			continue
		}
		r, err := hold(ctx, st, dir, ts, name)
		if errors.Is(err, store.ErrExist) {
			now = at.Add(time.Second)
			continue
		}
		if err != nil {
			return nil, writeError(err, "create backup file in %s", st.Name(dir))
		}
		// Another process may have published this timestamp between the
		// look and the exclusive creates.
		used, err := taken(ctx, st, dir, ts)
		if err == nil && !used {
			return r, nil
		}
		r.discard(ctx)
		if err != nil {
			return nil, writeError(err, "look at backup folder %s", st.Name(dir))
		}
	}
	return nil, apierr.New(apierr.Conflict, "no free backup timestamp in %s after 60 tries; other writers keep taking them, retry later", st.Name(dir))
}

// hold claims ts (in a bucket) and creates its files.
func hold(ctx context.Context, st store.Store, dir, ts string, name func(table, ts string) string) (*reservation, error) {
	r := &reservation{ts: ts, files: map[string]store.Writer{}, names: map[string]string{}, st: st, dir: dir}
	if st.Local() == "" {
		r.claim = store.Join(dir, layout.ServerTmpName(layout.FileName(layout.CollectionTable, ts)))
		if err := store.WriteFile(ctx, st, r.claim, nil); err != nil {
			r.claim = ""
			return nil, err
		}
	}
	if csv := layout.FileName(layout.CollectionTable, ts); r.claim == "" && name(layout.CollectionTable, ts) != csv {
		// Writers of either format contend for ts on one name: the
		// collection CSV's, created exclusively and never committed.
		w, err := st.Create(ctx, store.Join(dir, csv))
		if err != nil {
			return nil, err
		}
		r.lock = w
	}
	for _, table := range layout.Tables() {
		r.names[table] = name(table, ts)
		w, err := st.Create(ctx, store.Join(dir, r.names[table]))
		if err != nil {
			r.discard(ctx)
			return nil, err
		}
		r.files[table] = w
	}
	return r, nil
}

// discard throws the reservation's files away and frees its timestamp.
func (r *reservation) discard(ctx context.Context) {
	if r.settled {
		return
	}
	r.settled = true
	for _, w := range r.files {
		w.Abort()
	}
	r.unlock()
	if r.claim != "" {
		r.st.Remove(context.WithoutCancel(ctx), r.claim)
	}
}

// next is now, or the second after the folder's newest set when that is as
// new or newer (sets stamped by a wrong clock aside).
func next(ctx context.Context, st store.Store, dir string, now time.Time) time.Time {
	newest := now.Add(-time.Second)
	entries, err := st.List(ctx, dir)
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
// a crash) left in a folder (see store.Folder.RemoveLeftovers). In a bucket
// a dead writer leaves no object but its claim (an unfinished upload is
// no object), and the claim keeps that set listed as half-written.
func removeLeftovers(ctx context.Context, st store.Store, dir string) {
	if f, ok := st.(*store.Folder); ok {
		f.RemoveLeftovers(ctx, dir, leftoverAge)
	}
}

// taken reports whether any file of set ts exists in dir, in any format,
// the old pipeline's half-written ones included. A folder that does not
// exist (or whose parent is a file) holds none: creating the set's files
// then says why it cannot be written.
func taken(ctx context.Context, st store.Store, dir, ts string) (bool, error) {
	for _, name := range layout.SetFileNames(ts) {
		_, err := st.Stat(ctx, store.Join(dir, name))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, store.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		default:
			return false, err
		}
	}
	return false, nil
}

// unlock lets go of the folder's hold on the CSV name, once the set is
// published or discarded.
func (r *reservation) unlock() {
	if r.lock != nil {
		r.lock.Abort()
		r.lock = nil
	}
}
