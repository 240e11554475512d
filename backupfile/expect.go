package backupfile

import (
	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// Expectation is what a file must turn out to be: from its set's manifest,
// its folder's log, or the plan a person approved. Zero fields are not
// checked.
type Expectation struct {
	Rows   int64
	Bytes  int64
	SHA256 string
	From   string // "manifest", "backup log (...)", "confirmed plan": for messages
}

// Expect is what set's manifest (m, nil when it has none) or, for a set the
// old pipeline wrote, its folder's log says table's file is; nil when
// nothing does.
func Expect(set catalog.Set, m *layout.Manifest, table string) *Expectation {
	if m != nil {
		f := m.Files[table]
		return &Expectation{Rows: f.Rows, Bytes: f.Bytes, SHA256: f.SHA256, From: "manifest"}
	}
	if n, ok := set.RowCounts[table]; ok {
		return &Expectation{Rows: n, From: "backup log (" + set.LogFile + ")"}
	}
	return nil
}

// Check compares a file read to its end with e; a mismatch is
// BACKUP_CORRUPT naming what differs. A nil expectation checks nothing.
func (e *Expectation) Check(r *Reader) error {
	if e == nil {
		return nil
	}
	fail := func(what string, got, want any) error {
		return apierr.New(apierr.BackupCorrupt,
			"%s does not match its %s: %s is %v, expected %v; the file changed since it was written (or planned); nothing was restored",
			r.Name(), e.From, what, got, want).
			With("file", r.Name()).With("check", what)
	}
	switch {
	case e.Rows > 0 && r.Records() != e.Rows:
		return fail("row count", r.Records(), e.Rows)
	case e.Bytes > 0 && r.Offset() != e.Bytes:
		return fail("size", r.Offset(), e.Bytes)
	case e.SHA256 != "" && r.Sum() != e.SHA256:
		return fail("SHA-256", r.Sum(), e.SHA256)
	}
	return nil
}
