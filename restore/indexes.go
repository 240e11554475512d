package restore

// Vector indexes in a truncating restore: pgvector's own advice is to load
// first and build the index after. An HNSW index fed row by row costs most
// of a restore (measured at 20,000 x 1,024: 109.6 s with the index kept,
// 19.8 s dropping it, loading, and building it once); an IVFFlat index must
// be built after the load anyway, since its lists are trained on the data.

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/livedb"
	"github.com/vectorops/pgvector-backup-mcp/pgerr"
)

// DefaultIndexMemory is maintenance_work_mem for rebuilding vector indexes
// when the request names none and the server's own setting is lower: an
// HNSW build that fits in memory is many times faster than one that spills.
const DefaultIndexMemory = "1GB"

// indexMemoryPattern is what IndexMemory may be: PostgreSQL's memory units.
var indexMemoryPattern = regexp.MustCompile(`^[1-9][0-9]{0,6}(kB|MB|GB|TB)$`)

// ValidIndexMemory reports whether s is a memory size PostgreSQL takes for
// maintenance_work_mem, such as 512MB or 2GB.
func ValidIndexMemory(s string) bool { return indexMemoryPattern.MatchString(s) }

// VectorIndex is a pgvector index (hnsw or ivfflat) a truncating restore
// drops before its load and builds again after it, from its own definition.
type VectorIndex struct {
	Table      string
	Name       string // as PostgreSQL quotes it, schema-qualified when needed
	Method     string // hnsw or ivfflat
	Definition string // pg_get_indexdef: name, method, expression and operator class, WITH parameters, predicate
	Tablespace string // "" for the database's default
	Comment    string
}

// vectorIndexes finds the pgvector indexes of tables that a restore may
// drop and build again: valid ones that no constraint, replica identity or
// CLUSTER depends on (those are left in place and fed row by row).
func vectorIndexes(ctx context.Context, q livedb.Querier, tables []string) ([]VectorIndex, error) {
	rows, err := q.Query(ctx, `
		SELECT c.relname, x.indexrelid::regclass::text, am.amname, pg_get_indexdef(x.indexrelid),
			coalesce(ts.spcname, ''), coalesce(obj_description(x.indexrelid, 'pg_class'), '')
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_am am ON am.oid = i.relam
		LEFT JOIN pg_tablespace ts ON ts.oid = i.reltablespace
		WHERE x.indrelid = ANY($1::regclass[]) AND am.amname IN ('hnsw', 'ivfflat')
			AND x.indisvalid AND x.indisready AND NOT x.indisreplident AND NOT x.indisclustered
			AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
				AND d.objid = x.indexrelid AND d.deptype IN ('i', 'P', 'S'))
		ORDER BY c.relname, i.relname`, tables)
	if err != nil {
		return nil, fmt.Errorf("find the vector indexes of %v: %w", tables, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[VectorIndex])
	if err != nil {
		return nil, fmt.Errorf("find the vector indexes of %v: %w", tables, err)
	}
	return out, nil
}

// rebuildsIndexes reports whether the restore drops and rebuilds vector
// indexes: a truncating restore that commits, not an online one (whose
// readers keep using the indexes) nor a dry run.
func (j *job) rebuildsIndexes() bool {
	return j.scope.mode == modeTruncate && !j.req.Online && !j.req.DryRun
}

// dropVectorIndexes drops the vector indexes of the emptied tables, keeping
// their definitions for rebuildVectorIndexes. Inside the restore's
// transaction: a failure anywhere after brings them back as they were.
func (j *job) dropVectorIndexes(ctx context.Context, tx pgx.Tx) ([]VectorIndex, error) {
	indexes, err := vectorIndexes(ctx, tx, j.tables)
	if err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		if _, err := tx.Exec(ctx, "DROP INDEX "+ix.Name); err != nil {
			return nil, fmt.Errorf("drop index %s before the load: %w", ix.Name, err)
		}
	}
	return indexes, nil
}

// rebuildVectorIndexes builds the dropped indexes again from their
// definitions, in the tablespace each was in, with its comment, and notes
// in res the memory and the time the builds took.
func (j *job) rebuildVectorIndexes(ctx context.Context, tx pgx.Tx, indexes []VectorIndex, res *Result) error {
	if len(indexes) == 0 {
		return nil
	}
	start := time.Now()
	mem, err := j.setIndexMemory(ctx, tx)
	if err != nil {
		return err
	}
	res.IndexMemory = mem
	stop := j.watchBuild(ctx, tx.Conn().PgConn().PID())
	defer stop()
	for _, ix := range indexes {
		if j.req.IndexProgress != nil {
			j.req.IndexProgress(ix.Name, "starting", 0, 0)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('default_tablespace', $1, true)", ix.Tablespace); err != nil {
			return fmt.Errorf("build index %s: %w", ix.Name, err)
		}
		j.building.Store(&ix.Name)
		if _, err := tx.Exec(ctx, ix.Definition); err != nil {
			// Named, since PostgreSQL's message does not say which index
			// (a value its expression cannot take, a cancel, no memory).
			e := restoreError(ctx, err).Extend("while building index %s again after the load (%s)", ix.Name, ix.Definition)
			if pg, ok := pgerr.As(err); ok && pg.Code == pgerrcode.OutOfMemory {
				e = e.Extend("the database server ran out of memory with maintenance_work_mem %s; nothing was changed: retry with a lower --index-memory", mem).
					With("reason", "out_of_memory").With("index_memory", mem)
			}
			return e
		}
		if ix.Comment != "" {
			var stmt string
			err := tx.QueryRow(ctx, "SELECT format('COMMENT ON INDEX %s IS %L', $1::regclass, $2::text)", ix.Name, ix.Comment).Scan(&stmt)
			if err == nil {
				_, err = tx.Exec(ctx, stmt)
			}
			if err != nil {
				return fmt.Errorf("comment index %s: %w", ix.Name, err)
			}
		}
	}
	j.building.Store(nil)
	res.IndexBuild = time.Since(start)
	return nil
}

// setIndexMemory sets maintenance_work_mem for the builds, for this
// transaction only, and returns it: the request's --index-memory, or
// DefaultIndexMemory (never lowering the server's own setting, which the
// operator chose), capped at half the memory the database server's machine
// has available when the server says it (see availableMemory). A parallel
// HNSW build takes all of maintenance_work_mem as shared memory at once,
// so a setting beyond the machine's memory fails the build (or worse,
// wakes the kernel's OOM killer on the database server).
func (j *job) setIndexMemory(ctx context.Context, tx pgx.Tx) (string, error) {
	asked := j.req.IndexMemory
	if asked == "" {
		asked = DefaultIndexMemory
	}
	var want, current int64
	if err := tx.QueryRow(ctx, "SELECT pg_size_bytes($1), pg_size_bytes(current_setting('maintenance_work_mem'))", asked).Scan(&want, &current); err != nil {
		return "", fmt.Errorf("read maintenance_work_mem for the index build: %w", err)
	}
	if j.req.IndexMemory == "" && current >= want {
		want = current
	}
	if avail, ok := availableMemory(ctx, tx); ok && want > avail/2 {
		want = max(avail/2, minIndexMemory)
	}
	mem := strconv.FormatInt(want>>10, 10) + "kB"
	if _, err := tx.Exec(ctx, "SELECT set_config('maintenance_work_mem', $1, true)", mem); err != nil {
		return "", fmt.Errorf("set maintenance_work_mem to %s for the index build: %w", mem, err)
	}
	return mem, nil
}

// minIndexMemory is the least the memory cap leaves a build: PostgreSQL's
// own default (64MB) builds, slowly, on any machine.
const minIndexMemory = 64 << 20

// availableMemory is the memory the database server's machine has
// available (MemAvailable, and the room left under its cgroup's limit when
// it runs in one), when the server says it: PostgreSQL has no view of it,
// so it is read from /proc and /sys through pg_read_file, which only
// superusers and members of pg_read_server_files may call, on Linux. ok is
// false when the server does not say.
func availableMemory(ctx context.Context, tx pgx.Tx) (bytes int64, ok bool) {
	var may bool
	err := tx.QueryRow(ctx, `SELECT rolsuper OR pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')
		FROM pg_roles WHERE rolname = current_user`).Scan(&may)
	if err != nil || !may {
		return 0, false
	}
	// In a savepoint: a failure here (another system, a file that cannot
	// be read) must not abort the restore's transaction.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, false
	}
	var meminfo, limit, usage *string
	err = sp.QueryRow(ctx, `SELECT pg_read_file('/proc/meminfo', 0, 16384, true),
		pg_read_file('/sys/fs/cgroup/memory.max', 0, 64, true), pg_read_file('/sys/fs/cgroup/memory.current', 0, 64, true)`).
		Scan(&meminfo, &limit, &usage)
	if err != nil {
		sp.Rollback(ctx)
		return 0, false
	}
	if sp.Commit(ctx) != nil {
		return 0, false
	}
	return parseAvailable(deref(meminfo), deref(limit), deref(usage))
}

// parseAvailable reads MemAvailable from /proc/meminfo's text, lowered to
// the room a cgroup v2 limit leaves (memory.max less memory.current) when
// there is one.
func parseAvailable(meminfo, limit, usage string) (int64, bool) {
	var avail int64 = -1
	for _, line := range strings.Split(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil || kb < 0 {
				return 0, false
			}
			avail = kb * 1024
		}
	}
	if avail < 0 {
		return 0, false
	}
	memLimit, err1 := strconv.ParseInt(strings.TrimSpace(limit), 10, 64)
	used, err2 := strconv.ParseInt(strings.TrimSpace(usage), 10, 64)
	if err1 == nil && err2 == nil && memLimit > 0 { // "max": no limit
		avail = min(avail, max(memLimit-used, 0))
	}
	return avail, true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// watchBuild reports the index builds' progress, read from
// pg_stat_progress_create_index on a connection of its own (the restore's
// is busy building), until stop is called.
func (j *job) watchBuild(ctx context.Context, pid uint32) (stop func()) {
	if j.req.IndexProgress == nil || j.req.Watch == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := j.req.Watch(ctx)
		if err != nil {
			return // progress is a courtesy: the build goes on unwatched
		}
		defer conn.Close(context.WithoutCancel(ctx))
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			name := j.building.Load()
			if name == nil {
				continue
			}
			var phase string
			var blocksDone, blocksTotal, tuplesDone, tuplesTotal int64
			err := conn.QueryRow(ctx, `
				SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total
				FROM pg_stat_progress_create_index WHERE pid = $1`, int64(pid)).
				Scan(&phase, &blocksDone, &blocksTotal, &tuplesDone, &tuplesTotal)
			if err != nil {
				continue
			}
			done, total := tuplesDone, tuplesTotal
			if total == 0 {
				done, total = blocksDone, blocksTotal
			}
			j.req.IndexProgress(*name, phase, done, total)
		}
	}()
	return func() { cancel(); <-done }
}
