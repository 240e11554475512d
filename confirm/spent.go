package confirm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/layout"
	"github.com/vectorops/pgvector-backup-mcp/store"
)

// spentRecord keeps the ids of spent tokens under the backup root, one
// file per token, created with a conditional create. That create is the
// decision: of two calls spending one token, in one process or in two
// sharing the backup root (a folder or a bucket), exactly one creates the
// file. A folder's file and folder are synced before the restore commits,
// and a bucket's object exists once its upload answered, so the spend is
// durable first. Nothing is parsed back to decide: a name that exists,
// whatever it holds, is a spent token, so a damaged record can only refuse
// tokens, never re-open one.
type spentRecord struct {
	st  store.Store
	dir string // the record's folder key
}

// RecordError is a failure to read or write the record of spent tokens:
// the token is refused (or its restore not committed), never let through.
type RecordError struct{ Err error }

func (e *RecordError) Error() string { return "spent-token record: " + e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// keepSpent is how long a spent token's file is kept when its expiry
// cannot be read from it: far beyond any token's life.
const keepSpent = 24 * time.Hour

func newSpentRecord(st store.Store) *spentRecord {
	return &spentRecord{st: st, dir: store.Join(layout.StateDir, "spent_tokens")}
}

// validID reports whether id can name a file: ids are base64url.
func validID(id string) bool {
	return id != "" && len(id) <= 64 && strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

// spent reports whether id was spent. An error means the record cannot be
// read: the caller refuses the token rather than guess. A check writes
// nothing.
func (r *spentRecord) spent(ctx context.Context, id string) (bool, error) {
	if !validID(id) {
		return false, &RecordError{fmt.Errorf("token id %q cannot be recorded", id)}
	}
	_, err := r.st.Stat(ctx, store.Join(r.dir, id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotExist):
		return false, nil
	default:
		return false, &RecordError{err}
	}
}

// spend records id, expiring at exp (unix seconds): ErrUsed when it was
// spent already, another error when the spend cannot be made durable.
func (r *spentRecord) spend(ctx context.Context, id string, exp int64, now time.Time) error {
	if !validID(id) {
		return &RecordError{fmt.Errorf("token id %q cannot be recorded", id)}
	}
	r.prune(ctx, now)
	err := store.WriteFile(ctx, r.st, store.Join(r.dir, id), []byte(strconv.FormatInt(exp, 10)+"\n"))
	switch {
	case errors.Is(err, store.ErrExist):
		return ErrUsed
	case err != nil:
		// Not durable: the restore must not commit.
		return &RecordError{err}
	}
	return nil
}

// prune removes the files of tokens that have expired: they are refused as
// expired anyway. A file whose expiry cannot be read goes after keepSpent.
func (r *spentRecord) prune(ctx context.Context, now time.Time) {
	entries, err := r.st.List(ctx, r.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Dir {
			continue
		}
		expired := false
		if b, err := store.ReadAll(ctx, r.st, e.Key, 32); err == nil {
			exp, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			expired = perr == nil && exp < now.Unix()
		}
		if !expired {
			if info, err := r.st.Stat(ctx, e.Key); err == nil && now.Sub(info.ModTime) > keepSpent {
				expired = true
			}
		}
		if expired {
			r.st.Remove(ctx, e.Key)
		}
	}
}
