package confirm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
)

// Options are the restore options a token is bound to. Tables are in
// restore order and OnConflict is spelled out, so the same call spelled
// differently (table order, default values) still matches.
type Options struct {
	Tables      []string `json:"tables"`
	Truncate    bool     `json:"truncate"`
	Collections []string `json:"collections"`
	OnConflict  string   `json:"on_conflict"`
	Snapshot    bool     `json:"snapshot"`
	Online      bool     `json:"online"`
	// OtherDatabase: a snapshot restored into another database than its
	// own, on purpose. Omitted when false, so tokens of other calls keep
	// their digest.
	OtherDatabase bool `json:"other_database,omitempty"`
}

func (o Options) digest() string {
	o.Collections = slices.Clone(o.Collections)
	slices.Sort(o.Collections)
	b, _ := json.Marshal(o) // cannot fail: strings and bools
	return Digest(string(b))
}

// Call is the restore a token is issued for, or presented with.
type Call struct {
	Target  string         // password-free name of the database
	Set     *catalog.Files // the set, its files open
	Options Options
}

// Bind describes the world a plan was made for as the claims a token
// seals: the call, the state of the rows it replaces (a fingerprint), and
// each file it reads (table → SHA-256), stamped with its size and time.
func Bind(call Call, state string, files map[string]string) (*Claims, error) {
	c := &Claims{
		Target:    call.Target,
		Options:   call.Options.digest(),
		SetDir:    Digest(call.Set.Dir),
		Timestamp: call.Set.Timestamp,
		Files:     map[string]FileStamp{},
		State:     state,
	}
	for table, sum := range files {
		st, err := stamp(call.Set, table)
		if err != nil {
			return nil, err
		}
		st.SHA256 = sum
		c.Files[table] = st
	}
	return c, nil
}

// Sums is each bound file's SHA-256, by table: what the restore checks each
// file against when it ends.
func (c *Claims) Sums() map[string]string {
	out := make(map[string]string, len(c.Files))
	for table, f := range c.Files {
		out[table] = f.SHA256
	}
	return out
}

// Verify opens token and checks it was issued for this very call: same
// database, set, options and files (by size and time; their content is
// checked by the restore as it reads them, and the rows' state under its
// lock). Its errors are the contract's: INVALID_PARAMS with a reason for a
// token that does not fit the call, CONFLICT when the files changed.
func (s *Sealer) Verify(ctx context.Context, token string, call Call) (*Claims, error) {
	bad := func(reason, msg string) *apierr.Error {
		return apierr.New(apierr.InvalidParams, "confirm_token %s; call restore_vector_backup again without confirm_token to get a new plan and token", msg).
			With("param", "confirm_token").With("reason", reason)
	}
	c, err := s.Open(ctx, token)
	var record *RecordError
	switch {
	case errors.As(err, &record):
		return nil, apierr.Wrap(apierr.DatabaseError, err, "the record of spent confirmations cannot be read (%v), so the token is refused; the operator must fix it", record.Err).
			With("reason", "spend_record")
	case errors.Is(err, ErrExpired):
		return nil, bad("expired", "has expired")
	case errors.Is(err, ErrUsed):
		return nil, bad("used", "was already used for a restore that completed")
	case errors.Is(err, ErrOtherKey):
		// Still reason "invalid": the token cannot be used here, as any
		// token not sealed under this server's key; key_mismatch and the
		// message say why, for the operator of replicas.
		why := "was sealed by a server with another MCP_CONFIRM_KEY: every replica must have the same MCP_CONFIRM_KEY"
		if s.ephemeral {
			why = "was sealed under another key: this server has no MCP_CONFIRM_KEY, so it makes a new key at every start and accepts no token of another replica or of its own before a restart; give every replica the same MCP_CONFIRM_KEY"
		}
		return nil, bad("invalid", why).With("key_mismatch", true)
	case err != nil:
		return nil, bad("invalid", "is not a token this server issued, or it was altered")
	case c.Target != call.Target:
		return nil, bad("other_target", fmt.Sprintf("was issued for database %s, not %s", c.Target, call.Target))
	case c.SetDir != Digest(call.Set.Dir) || c.Timestamp != call.Set.Timestamp:
		return nil, bad("other_set", fmt.Sprintf("was issued for set %s in another folder or of another time, not %s", c.Timestamp, call.Set.Timestamp))
	case c.Options != call.Options.digest():
		return nil, bad("other_options", "was issued for other options (tables, truncate_before_restore, collections, on_conflict, snapshot or online differ)")
	}
	for table, want := range c.Files {
		got, err := stamp(call.Set, table)
		if err != nil {
			return nil, err
		}
		if got.Size != want.Size || got.Identity != want.Identity {
			return nil, apierr.New(apierr.Conflict, "backup file of %s changed after the plan was confirmed; nothing was changed; call again without confirm_token to get a new plan", table).
				With("reason", "files_changed")
		}
	}
	return c, nil
}

// stamp is table's open file in set as it is now.
func stamp(set *catalog.Files, table string) (FileStamp, error) {
	f := set.File(table)
	if f == nil {
		return FileStamp{}, apierr.New(apierr.ResourceNotFound, "backup file %s disappeared", set.Set.File(table)).
			With("file", set.Set.File(table))
	}
	return FileStamp{Size: f.Size(), Identity: f.Identity()}, nil
}
