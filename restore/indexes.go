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
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/livedb"
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
// definitions, with maintenance_work_mem raised for the build (never
// lowered below the server's own), in the tablespace each was in, with its
// comment.
func (j *job) rebuildVectorIndexes(ctx context.Context, tx pgx.Tx, indexes []VectorIndex) (time.Duration, error) {
	if len(indexes) == 0 {
		return 0, nil
	}
	start := time.Now()
	mem := j.req.IndexMemory
	if mem == "" {
		mem = DefaultIndexMemory
	}
	if _, err := tx.Exec(ctx, `
		SELECT set_config('maintenance_work_mem',
			CASE WHEN pg_size_bytes(current_setting('maintenance_work_mem')) >= pg_size_bytes($1)
				AND $2 THEN current_setting('maintenance_work_mem') ELSE $1 END, true)`,
		mem, j.req.IndexMemory == ""); err != nil {
		return 0, fmt.Errorf("set maintenance_work_mem to %s for the index build: %w", mem, err)
	}
	stop := j.watchBuild(ctx, tx.Conn().PgConn().PID())
	defer stop()
	for _, ix := range indexes {
		if j.req.IndexProgress != nil {
			j.req.IndexProgress(ix.Name, "starting", 0, 0)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('default_tablespace', $1, true)", ix.Tablespace); err != nil {
			return 0, fmt.Errorf("build index %s: %w", ix.Name, err)
		}
		j.building.Store(&ix.Name)
		if _, err := tx.Exec(ctx, ix.Definition); err != nil {
			// Named, since PostgreSQL's message does not say which index
			// (a value its expression cannot take, a cancel, no memory).
			return 0, restoreError(ctx, err).Extend("while building index %s again after the load (%s)", ix.Name, ix.Definition)
		}
		if ix.Comment != "" {
			var stmt string
			err := tx.QueryRow(ctx, "SELECT format('COMMENT ON INDEX %s IS %L', $1::regclass, $2::text)", ix.Name, ix.Comment).Scan(&stmt)
			if err == nil {
				_, err = tx.Exec(ctx, stmt)
			}
			if err != nil {
				return 0, fmt.Errorf("comment index %s: %w", ix.Name, err)
			}
		}
	}
	j.building.Store(nil)
	return time.Since(start), nil
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
