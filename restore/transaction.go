package restore

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// execute is the restore's transaction, in order: lock, resolve the scope,
// open and check the files, check the confirmed world, save the snapshot,
// empty or delete the rows in scope (truncating: and drop the vector
// indexes), copy the files, build the vector indexes again.
func (j *job) execute(ctx context.Context, tx pgx.Tx) (*Result, error) {
	if err := j.lock(ctx, tx); err != nil {
		return nil, err
	}
	if err := j.checkSource(ctx, tx); err != nil {
		return nil, err
	}
	var err error
	if j.scope, err = j.resolveScope(ctx, tx); err != nil {
		return nil, err
	}
	streams, err := j.openStreams(ctx, tx, true, nil)
	defer closeStreams(streams)
	if err != nil {
		return nil, err
	}
	if err := j.checkExpected(ctx, tx); err != nil {
		return nil, err
	}
	res := &Result{
		TruncateResults: map[string]TruncateResult{},
		RestoreResults:  map[string]TableResult{},
		Errors:          []string{},
		DryRun:          j.req.DryRun,
		Online:          j.req.Online,
		Collections:     j.req.Collections,
	}
	if res.Snapshot, err = j.takeSnapshot(ctx, tx); err != nil {
		return nil, err
	}
	var indexes []VectorIndex
	switch j.scope.mode {
	case modeTruncate:
		if err := j.truncate(ctx, tx, res); err != nil {
			return nil, err
		}
		if j.rebuildsIndexes() {
			if indexes, err = j.dropVectorIndexes(ctx, tx); err != nil {
				return nil, err
			}
		}
	case modeCollections:
		if err := j.deleteCollections(ctx, tx); err != nil {
			return nil, err
		}
	}
	var total, done int64
	for _, s := range streams {
		total += s.file.Size()
	}
	for _, s := range streams {
		if j.req.Progress != nil {
			table := s.table.Name
			s.onRead = func(read, rows int64) { j.req.Progress(table, done+read, total, rows) }
		}
		tr, err := j.copy(ctx, tx, s)
		if err != nil {
			return nil, err
		}
		res.RestoreResults[s.table.Name] = tr
		done += s.file.Size()
	}
	if err := j.rebuildVectorIndexes(ctx, tx, indexes, res); err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		res.Indexes = append(res.Indexes, ix.Name)
	}
	res.RestorePerformed = !j.req.DryRun
	return res, nil
}

// serverMajor is the server's major version, 0 when unknown.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}

// checkExpected refuses to go on when the rows the person approved
// replacing have changed since: a confirmation is for one state of the
// world.
func (j *job) checkExpected(ctx context.Context, tx pgx.Tx) error {
	if j.req.Expect == nil {
		return nil
	}
	state, err := j.scope.fingerprint(ctx, tx)
	if err != nil {
		return err
	}
	if state != j.req.Expect.State {
		return apierr.New(apierr.Conflict,
			"the rows this restore would replace changed after the plan was confirmed; call again without confirm_token to get a new plan").
			With("reason", "state_changed")
	}
	return nil
}
