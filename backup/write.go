// Package backup writes backup sets from the live tables: the old pipeline's
// file names and log, valid JSON, NULL distinct from empty text (COPY's CSV),
// .tmp files renamed only when complete, never overwriting a set, and a
// manifest with each file's row count, size and SHA-256. Create makes a
// backup of both tables as of one instant; restore uses Write for its
// pre-restore snapshot, inside the restore's own transaction; RemoveSnapshot
// retires old snapshots.
package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Request says what to write.
type Request struct {
	Root        string        // the backup root: nothing outside it is written (empty: Dir itself)
	Dir         string        // folder to write into, inside Root; created when missing
	Tables      []string      // tables whose rows are written (default both); the others get a header-only file
	Collections []string      // when set, only these collections' rows (a snapshot of a per-collection restore)
	TaskID      string        // for the log
	Database    string        // password-free name of the source, for the manifest
	Source      layout.Source // the source's host and port as connected to; Write adds what the server says of itself
	Now         time.Time

	// Snapshot marks the set as the rows a restore is about to replace
	// (layout.KindSnapshot), which list shows and retention may remove.
	Snapshot bool

	// Deferred leaves the set unpublished until Publish: its files stay
	// under the server's temporary names and it has no manifest, so no one
	// can list it as complete or restore it. A restore's snapshot becomes
	// real only if the restore commits; Discard removes it otherwise.
	Deferred bool
}

// Written describes a set just written.
type Written struct {
	Dir          string
	Timestamp    string
	ManifestFile string
	Manifest     *layout.Manifest
	Duration     time.Duration
	// LogError is set when the folder's log could not be written: the set
	// itself is complete and valid, the log only repeats its row counts.
	LogError error

	taskID   string
	sealable bool                // written beneath a backup root, whose key seals the manifest
	folder   *folder             // open until the set is published or discarded
	files    map[string]*os.File // a deferred set's files, until Publish or Discard
}

// Write writes a set from tx's view of the tables. Both files are always
// written, so the set is complete; a table left out of req.Tables gets a
// header-only file and is left out of the manifest's Tables, which restore
// then skips by default. Call it
// inside a REPEATABLE READ (or stricter) transaction so both files describe
// one instant.
func Write(ctx context.Context, tx pgx.Tx, req Request) (*Written, error) {
	start := time.Now()
	dir, err := openFolder(req.Root, req.Dir)
	if err != nil {
		return nil, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	removeLeftovers(dir)
	ts, files, err := reserve(ctx, dir, now)
	if err != nil {
		dir.close()
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			closeRemove(dir, files)
			dir.close()
		}
	}()

	kind := layout.KindBackup
	if req.Snapshot {
		kind = layout.KindSnapshot
	}
	m := &layout.Manifest{
		FormatVersion: layout.FormatVersion,
		Kind:          kind,
		Timestamp:     ts,
		CreatedAt:     now.UTC().Format(time.RFC3339),
		Database:      req.Database,
		Files:         map[string]layout.FileEntry{},
		Collections:   req.Collections,
		Tables:        req.Tables,
	}
	if len(m.Tables) == 0 {
		m.Tables = layout.Tables()
	}
	for _, table := range layout.Tables() {
		entry, err := copyTable(ctx, tx, table, slices.Contains(m.Tables, table), req.Collections, files[table])
		if err != nil {
			return nil, err
		}
		entry.File = layout.FileName(table, ts)
		m.Files[table] = entry
	}
	if m.VectorDimension, err = declaredDimension(ctx, tx); err != nil {
		return nil, err
	}
	if m.Source, err = Identify(ctx, tx, req.Source); err != nil {
		return nil, err
	}
	done = true
	w := &Written{Dir: req.Dir, Timestamp: ts, ManifestFile: layout.ManifestName(kind, ts), Manifest: m, Duration: time.Since(start), taskID: req.TaskID, sealable: req.Root != "", folder: dir, files: files}
	if !req.Deferred {
		if err := w.Publish(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Publish makes a set written with Deferred visible and complete (Write
// publishes the others itself), then writes the folder's log: a failure to
// write the log is kept in LogError, the set being complete.
func (w *Written) Publish() error {
	if w.files == nil {
		return errors.New("backup: set already published or discarded")
	}
	files := w.files
	w.files = nil
	defer w.folder.close()
	if w.sealable {
		// Sealed only now, so that a set never published leaves nothing
		// behind, not even the key. Without its key the set is only left
		// unsealed: retention then keeps it rather than remove what it
		// cannot prove it wrote.
		if key, err := sealKey(w.folder.root); err == nil {
			w.Manifest.Seal = seal(key, w.Manifest)
		}
	}
	if err := publish(w.folder, w.Timestamp, files, w.Manifest); err != nil {
		closeRemove(w.folder, files)
		return err
	}
	w.LogError = w.folder.writeAtomic(layout.LogName, []byte(layout.FormatLog(w.Manifest, w.taskID, w.Duration)))
	return nil
}

// Discard removes a set written with Deferred and not published.
func (w *Written) Discard() {
	if w.files != nil {
		closeRemove(w.folder, w.files)
		w.files = nil
		w.folder.close()
	}
}

// copyTable streams one table (or its rows of the given collections) into f
// with COPY TO, hashing and counting on the way.
// Without rows, only the header is written.
func copyTable(ctx context.Context, tx pgx.Tx, table string, rows bool, collections []string, f *os.File) (layout.FileEntry, error) {
	cols, err := columns(ctx, tx, table)
	if err != nil {
		return layout.FileEntry{}, err
	}
	query := "SELECT * FROM " + pgx.Identifier{table}.Sanitize()
	switch {
	case !rows:
		query += " WHERE false"
	case len(collections) > 0:
		query += collectionFilter(table, collections)
	}
	sql := fmt.Sprintf("COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER)", query)
	h := sha256.New()
	buf := bufio.NewWriterSize(&writeback{f: f}, 256<<10)
	counter := &countingWriter{w: io.MultiWriter(buf, h)}
	tag, err := tx.Conn().PgConn().CopyTo(ctx, counter, sql)
	if counter.err != nil {
		// The file, not the database, failed (a full disk): say so.
		return layout.FileEntry{}, writeError(counter.err, "write %s", f.Name())
	}
	if err != nil {
		return layout.FileEntry{}, fmt.Errorf("copy %s to %s: %w", table, f.Name(), err)
	}
	if err := buf.Flush(); err != nil {
		return layout.FileEntry{}, writeError(err, "write %s", f.Name())
	}
	if err := f.Sync(); err != nil {
		return layout.FileEntry{}, writeError(err, "sync %s", f.Name())
	}
	return layout.FileEntry{
		Rows:    tag.RowsAffected(),
		Bytes:   counter.n,
		SHA256:  hex.EncodeToString(h.Sum(nil)),
		Columns: cols,
	}, nil
}

// collectionFilter limits a table to the rows of the named collections.
// COPY takes no parameters, so the names are quoted as SQL string literals.
func collectionFilter(table string, names []string) string {
	if table == layout.CollectionTable {
		return " WHERE name = ANY(" + quoteList(names) + ")"
	}
	return " WHERE collection_id IN (SELECT uuid FROM langchain_pg_collection WHERE name = ANY(" + quoteList(names) + "))"
}

func quoteList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + strings.ReplaceAll(n, "'", "''") + "'"
	}
	return "ARRAY[" + strings.Join(quoted, ", ") + "]::text[]"
}

func columns(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT attname FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
		ORDER BY attnum`, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, apierr.New(apierr.SchemaMismatch, "table %s does not exist in the database; nothing to back up", table).
			With("table", table)
	}
	return cols, nil
}

// declaredDimension is the embedding column's declared dimension, else the
// first stored vector's, else 0.
func declaredDimension(ctx context.Context, tx pgx.Tx) (int, error) {
	var dim int
	err := tx.QueryRow(ctx, `
		SELECT COALESCE(
			(SELECT NULLIF(atttypmod, -1) FROM pg_attribute
			 WHERE attrelid = to_regclass('langchain_pg_embedding') AND attname = 'embedding'),
			(SELECT vector_dims(embedding) FROM langchain_pg_embedding WHERE embedding IS NOT NULL LIMIT 1),
			0)`).Scan(&dim)
	if err != nil {
		return 0, fmt.Errorf("read vector dimension: %w", err)
	}
	return dim, nil
}

// publish makes the set visible: the manifest first, then the CSVs linked
// from their temporary names, then the folder synced. Until the last link
// the set is listed as incomplete, never as restorable.
func publish(dir *folder, ts string, files map[string]*os.File, m *layout.Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := dir.writeAtomic(layout.ManifestName(m.Kind, ts), append(b, '\n')); err != nil {
		return err
	}
	for _, table := range layout.Tables() {
		// A hard link, unlike rename, never replaces a set another process
		// published under the same name since this one reserved it. The
		// file stays open, and so locked, until its temporary name is gone:
		// removeLeftovers never takes it for a dead writer's.
		tmp := filepath.Base(files[table].Name())
		if err := dir.link(tmp, layout.FileName(table, ts)); err != nil {
			return writeError(err, "publish %s", tmp)
		}
		if err := dir.remove(tmp); err != nil {
			return writeError(err, "publish %s", tmp)
		}
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return writeError(err, "close %s", filepath.Base(f.Name()))
		}
	}
	return dir.sync()
}

// writeError reports a failure to write the backup folder (a full disk, a
// read-only folder, a link that leads out of the root): STORAGE_ERROR, with
// what the operator must fix.
func writeError(err error, format string, args ...any) error {
	return apierr.Wrap(apierr.StorageError, err, "cannot write the backup: %v; free disk space or fix the folder's permissions, then retry", err).
		With("reason", "write_failed").With("doing", fmt.Sprintf(format, args...))
}

// writeback writes to a file, starting the kernel's writeback every
// writebackEvery bytes (startWriteback).
type writeback struct {
	f                *os.File
	written, started int64
}

const writebackEvery = 16 << 20

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackEvery {
		startWriteback(w.f, w.started, w.written)
		w.started = w.written
	}
	return n, err
}

// countingWriter counts what it passes on and remembers a write failure,
// which COPY would otherwise report as its own.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
