package restore

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/csvstream"
	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/livedb"
	"github.com/vectorops/pgvector-backup-mcp/pgerr"
)

// stream adapts one backup file's records to COPY FROM STDIN: the
// io.Reader pgconn reads chunk by chunk, the way pgx's CopyFromSource
// adapters feed CopyFrom. It frames records in COPY's binary format when
// every column has a binary form (the server then parses no vector text:
// the client does, on its own core), else as CSV. It keeps the scope's
// rows, points collection ids at live collections when it must, and checks
// the file's expectation when it ends. Memory holds one record and one
// output chunk, whatever the file's size.
type stream struct {
	file   *backupfile.Reader
	table  *livedb.Table
	expect *backupfile.Expectation
	filter rowFilter
	live   map[string][]byte       // filter.remap's live uuids, ready to send
	tap    func([]csvstream.Field) // sees each row sent; may be nil
	onRead func(done, rows int64)  // progress; may be nil
	binary bool

	pending []byte // what preflight read, not yet sent
	started bool
	eof     bool

	// fill runs on the pipeline's goroutine, which may still be running
	// when CopyFrom returns early on a broken connection; these are read
	// after.
	mu        sync.Mutex
	rows      int64 // rows sent
	converted int64 // of those, rows whose legacy JSON was converted
}

// openStream opens table t's file in the set, mapping its header to t's
// columns; binary asks for binary COPY when the columns allow it.
func (j *job) openStream(ctx context.Context, t *livedb.Table, binary bool) (*stream, error) {
	f, err := backupfile.Open(ctx, j.req.Files.File(t.Name), t.Column)
	if err != nil {
		return nil, err
	}
	s := &stream{file: f, table: t, expect: j.expectation(t.Name), filter: j.scope.filterFor(t.Name, f.Header())}
	if s.binary = binary && f.CanEncodeBinary(); s.binary {
		f.EncodeBinary()
	}
	if s.filter.remap != nil {
		s.live = make(map[string][]byte, len(s.filter.remap))
		for from, to := range s.filter.remap {
			s.live[from] = []byte(to)
			if s.binary {
				s.live[from], _ = backupfile.AppendUUID(nil, []byte(to)) // from the database: valid
			}
		}
	}
	return s, nil
}

// expectation merges what the manifest (or, for an old set, its folder's
// log) and the confirmation say the file is.
func (j *job) expectation(table string) *backupfile.Expectation {
	e := backupfile.Expect(j.req.Set, j.manifest, table)
	if j.req.Expect == nil {
		return e
	}
	sum, ok := j.req.Expect.Files[table]
	switch {
	case !ok:
		return e
	case e == nil:
		return &backupfile.Expectation{SHA256: sum, From: "confirmed plan"}
	case e.SHA256 == "":
		e.SHA256 = sum
	case e.SHA256 != sum:
		e.SHA256, e.From = sum, "confirmed plan"
	}
	return e
}

// copySQL is the COPY statement for this file into table (the target, or a
// staging table shaped like it): columns named by the header, so the table's
// column order does not matter. freeze writes the rows frozen, for a table
// emptied in this transaction.
func (s *stream) copySQL(table string, freeze bool) string {
	format := "csv"
	if s.binary {
		format = "binary"
	}
	if freeze {
		format += ", FREEZE"
	}
	return fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT %s)", pgx.Identifier{table}.Sanitize(), columnList(s.file.Header()), format)
}

// binarySignature starts a binary COPY stream: the signature, flags 0 and
// no header extension.
var binarySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// appendRecord frames one record for COPY.
func (s *stream) appendRecord(out []byte, rec []csvstream.Field) []byte {
	if !s.binary {
		return csvstream.AppendRecord(out, rec)
	}
	out = binary.BigEndian.AppendUint16(out, uint16(len(rec)))
	for _, f := range rec {
		if f.IsNull() {
			out = binary.BigEndian.AppendUint32(out, math.MaxUint32) // -1
			continue
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(f.Value)))
		out = append(out, f.Value...)
	}
	return out
}

// fill appends records to out, framed for COPY, until it holds at least
// want bytes or the file ends, when it checks the file's expectation.
func (s *stream) fill(out []byte, want int) ([]byte, error) {
	out = append(out, s.pending...) // the first record, read by preflight
	s.pending = s.pending[:0]
	if s.binary && !s.started {
		out = append(out, binarySignature...)
	}
	s.started = true
	var rows, converted int64 // this chunk's, counted in s once at its end
	for !s.eof && len(out) < want {
		convertedBefore := s.file.Converted()
		rec, err := s.file.Next()
		if err == io.EOF {
			s.eof = true
			if err := s.expect.Check(s.file); err != nil {
				return out, err
			}
			if s.binary {
				out = binary.BigEndian.AppendUint16(out, math.MaxUint16) // -1: the end
			}
			break
		}
		if err != nil {
			return out, s.file.Corrupt(err)
		}
		if s.filter.keep != nil && !s.filter.keep(s.file.Raw()) {
			continue
		}
		if s.live != nil {
			rec[s.filter.col] = csvstream.Field{Value: s.live[string(s.file.Raw()[s.filter.col].Value)], Quoted: true}
		}
		if s.tap != nil {
			s.tap(rec)
		}
		rows++
		converted += s.file.Converted() - convertedBefore
		out = s.appendRecord(out, rec)
	}
	s.mu.Lock()
	s.rows += rows
	s.converted += converted
	s.mu.Unlock()
	if s.onRead != nil {
		s.onRead(s.file.Offset(), s.sent())
	}
	return out, nil
}

// preflight converts the first record, so that a file that cannot fit is
// refused before anything is written; it is sent with the rest.
func (s *stream) preflight() (err error) {
	s.pending, err = s.fill(s.pending, 1)
	return err
}

// drain reads the whole file without sending it, for a plan.
func (s *stream) drain(ctx context.Context) error {
	var buf []byte
	for !s.eof {
		if err := ctx.Err(); err != nil {
			return apierr.Wrap(apierr.Cancelled, err, "cancelled while reading %s; nothing was changed", s.file.Name())
		}
		var err error
		if buf, err = s.fill(buf[:0], 64<<10); err != nil {
			return err
		}
	}
	return nil
}

func (s *stream) sent() int64 {
	rows, _ := s.counts()
	return rows
}

// counts is the rows sent and, of those, the rows whose legacy JSON was
// converted.
func (s *stream) counts() (rows, converted int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows, s.converted
}

// copy streams one file into its table: straight in when a conflict must
// fail the restore, through a staging table when it is skipped or updated.
func (j *job) copy(ctx context.Context, tx pgx.Tx, s *stream) (TableResult, error) {
	start := time.Now()
	into := s.table.Name
	policy := j.conflictPolicy(s.table.Name)
	staged := policy != OnConflictError
	if staged {
		into = "restore_stage"
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP",
			into, pgx.Identifier{s.table.Name}.Sanitize())); err != nil {
			return TableResult{}, fmt.Errorf("create staging table for %s: %w", s.table.Name, err)
		}
	}
	// FREEZE spares the next readers rewriting every row's hint bits; only
	// a table emptied in this transaction allows it.
	freeze := !staged && j.scope.mode == modeTruncate && !j.req.DryRun && !j.req.Online
	p := startPipeline(s)
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, p, s.copySQL(into, freeze))
	p.Close()
	if err != nil {
		if readErr := p.readErr(); readErr != nil {
			return TableResult{}, readErr
		}
		if pg, ok := pgerr.As(err); ok && pgerr.RowRejected(err) {
			return TableResult{}, rowRejected(ctx, pg, into, s.file, s.filter.keep, s.binary)
		}
		return TableResult{}, fmt.Errorf("copy %s into %s: %w", s.file.Name(), into, err)
	}
	sent, converted := s.counts()
	if tag.RowsAffected() != sent {
		return TableResult{}, fmt.Errorf("copy %s into %s: sent %d rows, server stored %d", s.file.Name(), into, sent, tag.RowsAffected())
	}
	written := sent
	if staged {
		if written, err = j.merge(ctx, tx, s, into); err != nil {
			return TableResult{}, err
		}
	}
	return TableResult{
		File:              s.file.Name(),
		FileBytes:         s.file.Size(),
		RowsRestored:      written,
		RowsSkipped:       sent - written,
		MetadataConverted: converted,
		Duration:          time.Since(start),
	}, nil
}

// merge moves staged rows into the table, skipping or updating rows whose
// key exists, and drops the stage. It returns the rows written.
func (j *job) merge(ctx context.Context, tx pgx.Tx, s *stream, stage string) (int64, error) {
	list := columnList(s.file.Header())
	conflict, err := onConflictClause(s, j.conflictPolicy(s.table.Name))
	if err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s %s",
		pgx.Identifier{s.table.Name}.Sanitize(), list, list, stage, conflict))
	if err != nil {
		return 0, fmt.Errorf("merge staged rows into %s: %w", s.table.Name, err)
	}
	if _, err := tx.Exec(ctx, "DROP TABLE "+stage); err != nil {
		return 0, fmt.Errorf("drop staging table: %w", err)
	}
	return tag.RowsAffected(), nil
}

// conflictPolicy is what a row of table whose key exists does: the
// request's policy, except for the collections an online restore kept
// (keepCollections), which the backup's rows update in place.
func (j *job) conflictPolicy(table string) string {
	if table == layout.CollectionTable && j.keptCollections {
		return OnConflictUpdate
	}
	return j.req.OnConflict
}

func onConflictClause(s *stream, policy string) (string, error) {
	if policy == OnConflictSkip {
		return "ON CONFLICT DO NOTHING", nil
	}
	key := s.table.PrimaryKey
	if len(key) == 0 {
		return "", apierr.New(apierr.SchemaMismatch, "table %s has no primary key, so on_conflict=update cannot tell which row a backup row replaces; use skip or error", s.table.Name).
			With("table", s.table.Name)
	}
	var sets []string
	for _, h := range s.file.Header() {
		if !slices.Contains(key, h) {
			id := pgx.Identifier{h}.Sanitize()
			sets = append(sets, id+" = EXCLUDED."+id)
		}
	}
	if len(sets) == 0 {
		return "ON CONFLICT DO NOTHING", nil
	}
	return fmt.Sprintf("ON CONFLICT (%s) DO UPDATE SET %s", columnList(key), strings.Join(sets, ", ")), nil
}

// columnList quotes names into "a", "b".
func columnList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(out, ", ")
}

// closeStreams ends the streams' reads of their files.
func closeStreams(streams []*stream) {
	for _, s := range streams {
		s.file.Close()
	}
}

// openStreams loads each selected table and opens its file, checking the
// header and first record against it before anything is written; binary
// asks for binary COPY where the columns allow it. configure, when set, sets
// each stream up (its tap) before that first record.
func (j *job) openStreams(ctx context.Context, q livedb.Querier, binary bool, configure func(*stream)) ([]*stream, error) {
	var streams []*stream
	for _, name := range j.tables {
		t, err := livedb.LoadTable(ctx, q, name)
		if err != nil {
			return streams, err
		}
		s, err := j.openStream(ctx, t, binary)
		if err != nil {
			return streams, err
		}
		streams = append(streams, s)
		if configure != nil {
			configure(s)
		}
		if err := s.preflight(); err != nil {
			return streams, err
		}
	}
	return streams, nil
}
