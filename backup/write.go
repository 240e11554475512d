// Package backup writes backup sets from the live tables into a backup root
// (a folder or a bucket, through store): the old pipeline's file names and
// log, valid JSON, NULL distinct from empty text (COPY's CSV; a snapshot's
// tables binary COPY where their types allow), files published only when
// complete, never overwriting a set, and a manifest with each file's row
// count, size, SHA-256 and format. Create makes a
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
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// Request says what to write.
type Request struct {
	Store       store.Store   // the backup root: nothing outside it is written
	Dir         string        // folder to write into, a key in Store (without Store: a folder's path); created when missing
	Tables      []string      // tables whose rows are written (default both); the others get a header-only file
	Collections []string      // when set, only these collections' rows (a snapshot of a per-collection restore)
	TaskID      string        // for the log
	Database    string        // password-free name of the source, for the manifest
	Source      layout.Source // the source's host and port as connected to; Write adds what the server says of itself
	Now         time.Time

	// Format is the files' format: layout.FormatCSV (the default, which
	// the old pipeline reads) or layout.FormatPGCopy, binary COPY, which
	// costs the server a third of CSV's time to write and is read back by
	// this server only (a restore's snapshots). A table with a column of a
	// type backupfile cannot decode is written as CSV in either case.
	Format string

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
	sealable bool         // written into a backup root, whose key seals the manifest
	res      *reservation // a deferred set's files, until Publish or Discard
}

// Write writes a set from tx's view of the tables. Both files are always
// written, so the set is complete; a table left out of req.Tables gets a
// header-only file and is left out of the manifest's Tables, which restore
// then skips by default. Call it
// inside a REPEATABLE READ (or stricter) transaction so both files describe
// one instant.
func Write(ctx context.Context, tx pgx.Tx, req Request) (*Written, error) {
	start := time.Now()
	unsealed := false
	if req.Store == nil {
		// A folder of its own: the set is written into it, and nothing
		// outside it.
		req.Store, req.Dir = store.NewFolder(req.Dir), ""
		unsealed = true // no root of the server's: no state folder in it
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	// Each table's columns and format first: they name its file.
	shapes := make(map[string]shape, len(layout.Tables()))
	for _, table := range layout.Tables() {
		sh, err := tableShape(ctx, tx, table, req.Format)
		if err != nil {
			return nil, err
		}
		shapes[table] = sh
	}
	removeLeftovers(ctx, req.Store, req.Dir)
	res, err := reserve(ctx, req.Store, req.Dir, now, func(table, ts string) string {
		return layout.DataFileName(table, ts, shapes[table].format)
	})
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			res.discard(ctx)
		}
	}()
	ts := res.ts

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
		name := res.names[table]
		entry, err := copyTable(ctx, tx, table, shapes[table], slices.Contains(m.Tables, table), req.Collections, res.files[table], req.Store.Name(store.Join(req.Dir, name)))
		if err != nil {
			return nil, err
		}
		entry.File = name
		m.Files[table] = entry
	}
	m.FormatVersion = layout.VersionFor(m.Files)
	if m.VectorDimension, err = declaredDimension(ctx, tx); err != nil {
		return nil, err
	}
	if m.Source, err = Identify(ctx, tx, req.Source); err != nil {
		return nil, err
	}
	done = true
	w := &Written{Dir: req.Dir, Timestamp: ts, ManifestFile: layout.ManifestName(kind, ts), Manifest: m, Duration: time.Since(start), taskID: req.TaskID, res: res, sealable: !unsealed}
	if !req.Deferred {
		if err := w.Publish(ctx); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Publish makes a set written with Deferred visible and complete (Write
// publishes the others itself), then writes the folder's log: a failure to
// write the log is kept in LogError, the set being complete.
func (w *Written) Publish(ctx context.Context) error {
	if w.res == nil || w.res.settled {
		return errors.New("backup: set already published or discarded")
	}
	res := w.res
	ctx = context.WithoutCancel(ctx) // the rows are committed: finish
	// Sealed only now, so that a set never published leaves nothing behind,
	// not even the key. Without its key the set is only left unsealed:
	// retention then keeps it rather than remove what it cannot prove it
	// wrote.
	if w.sealable {
		if key, err := sealKey(ctx, res.st); err == nil {
			w.Manifest.Seal = seal(key, w.Manifest)
		}
	}
	if err := publish(ctx, res, w.Manifest); err != nil {
		res.discard(ctx)
		return err
	}
	w.LogError = writeLog(ctx, res.st, res.dir, []byte(layout.FormatLog(w.Manifest, w.taskID, w.Duration)))
	return nil
}

// Discard removes a set written with Deferred and not published.
func (w *Written) Discard() {
	if w.res != nil {
		w.res.discard(context.Background())
	}
}

// shape is a table's columns, their types, and the format its file is
// written in.
type shape struct {
	columns []string
	types   []string // as format_type() prints them
	format  string
}

// tableShape reads table's columns and picks its file's format: the one
// asked for, unless that is binary COPY and a column's type is not one
// backupfile can decode, when it is CSV.
func tableShape(ctx context.Context, tx pgx.Tx, table, format string) (shape, error) {
	sh := shape{format: layout.FormatCSV}
	var err error
	if sh.columns, sh.types, err = columns(ctx, tx, table); err != nil {
		return sh, err
	}
	if format == layout.FormatPGCopy && !slices.ContainsFunc(sh.types, func(t string) bool { return !backupfile.Decodable(t) }) {
		sh.format = layout.FormatPGCopy
	}
	return sh, nil
}

// copyTable streams one table (or its rows of the given collections) into f
// with COPY TO in the table's format, hashing and counting the bytes stored
// on the way. Without rows, only the header (and a binary file's trailer)
// is written.
func copyTable(ctx context.Context, tx pgx.Tx, table string, sh shape, rows bool, collections []string, f store.Writer, name string) (layout.FileEntry, error) {
	cols := make([]string, len(sh.columns))
	for i, c := range sh.columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	// The columns by name, in the order the manifest records them.
	query := "SELECT " + strings.Join(cols, ", ") + " FROM " + pgx.Identifier{table}.Sanitize()
	switch {
	case !rows:
		query += " WHERE false"
	case len(collections) > 0:
		query += collectionFilter(table, collections)
	}
	sql := fmt.Sprintf("COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER)", query)
	if sh.format == layout.FormatPGCopy {
		sql = fmt.Sprintf("COPY (%s) TO STDOUT WITH (FORMAT binary)", query)
	}
	h := sha256.New()
	buf := bufio.NewWriterSize(f, 256<<10)
	counter := &countingWriter{w: io.MultiWriter(buf, h)}
	tag, err := tx.Conn().PgConn().CopyTo(ctx, counter, sql)
	if counter.err != nil {
		// The file, not the database, failed (a full disk): say so.
		return layout.FileEntry{}, writeError(counter.err, "write %s", name)
	}
	if err != nil {
		return layout.FileEntry{}, fmt.Errorf("copy %s to %s: %w", table, name, err)
	}
	if err := buf.Flush(); err != nil {
		return layout.FileEntry{}, writeError(err, "write %s", name)
	}
	entry := layout.FileEntry{
		Rows:    tag.RowsAffected(),
		Bytes:   counter.n,
		SHA256:  hex.EncodeToString(h.Sum(nil)),
		Columns: sh.columns,
	}
	if sh.format != layout.FormatCSV {
		entry.Format, entry.Types = sh.format, sh.types
	}
	return entry, nil
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

// columns reads table's column names and types, in column order.
func columns(ctx context.Context, tx pgx.Tx, table string) (names, types []string, err error) {
	rows, err := tx.Query(ctx, `
		SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
		ORDER BY attnum`, table)
	if err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	var name, typ string
	_, err = pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		names, types = append(names, name), append(types, typ)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	if len(names) == 0 {
		return nil, nil, apierr.New(apierr.SchemaMismatch, "table %s does not exist in the database; nothing to back up", table).
			With("table", table)
	}
	return names, types, nil
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

// publish makes the set visible and complete. In a folder, the manifest
// first, then the CSVs linked from their temporary names (store.Folder's
// Commit): until the last link the set is listed as incomplete. In a
// bucket, the CSVs first (each upload completed with a conditional
// create), the manifest last with a conditional create, then the claim
// removed: until then the claim lists the set as half-written.
func publish(ctx context.Context, r *reservation, m *layout.Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	manifest := func() error {
		err := store.WriteFile(ctx, r.st, store.Join(r.dir, layout.ManifestName(m.Kind, r.ts)), append(b, '\n'))
		if err != nil {
			return writeError(err, "publish the manifest of %s", r.ts)
		}
		return nil
	}
	if r.claim == "" {
		if err := manifest(); err != nil {
			return err
		}
	}
	for _, table := range layout.Tables() {
		err := r.files[table].Commit()
		delete(r.files, table)
		if err != nil {
			return writeError(err, "publish %s", r.names[table])
		}
	}
	r.unlock()
	if r.claim != "" {
		if err := manifest(); err != nil {
			return err
		}
		if err := r.st.Remove(ctx, r.claim); err != nil {
			return writeError(err, "publish set %s", r.ts)
		}
	}
	r.settled = true
	return nil
}

// writeLog replaces the folder's log: a folder's through a temporary file
// renamed over it, a bucket's object rewritten whole.
func writeLog(ctx context.Context, st store.Store, dir string, data []byte) error {
	return st.Replace(ctx, store.Join(dir, layout.LogName), data)
}

// writeError reports a failure to write the backup folder (a full disk, a
// read-only folder, a link that leads out of the root): STORAGE_ERROR, with
// what the operator must fix.
func writeError(err error, format string, args ...any) error {
	if e, ok := apierr.As(err); ok && e.Type != apierr.InvalidParams {
		return e // the store's own account (a bucket's denial, a full disk)
	}
	return apierr.Wrap(apierr.StorageError, err, "cannot write the backup: %v; free disk space or fix the folder's permissions, then retry", err).
		With("reason", "write_failed").With("doing", fmt.Sprintf(format, args...))
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
