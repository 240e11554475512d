package apierr

import (
	"slices"
	"testing"
)

// TestTypedDetails: the details callers decide on are typed fields, kept in
// step with the error object's keys, copies included.
func TestTypedDetails(t *testing.T) {
	e := New(InvalidParams, "x").With("param", "db_connection").With("reason", "other_database")
	if e.Param != "db_connection" || e.Reason != "other_database" || e.Details["param"] != "db_connection" {
		t.Errorf("typed %q %q, details %v", e.Param, e.Reason, e.Details)
	}
	r := e.Replace("param", "pg_conn")
	if r.Param != "pg_conn" || e.Param != "db_connection" || r.Reason != "other_database" {
		t.Errorf("replace: copy %q %q, original %q", r.Param, r.Reason, e.Param)
	}
	m := MissingParams("backup_path", "timestamp")
	if !slices.Equal(m.Missing, []string{"backup_path", "timestamp"}) {
		t.Errorf("missing %v", m.Missing)
	}
	if got := Types(); len(got) != 11 || got[9] != StorageError {
		t.Errorf("types %v", got)
	}
	Types()[0] = "changed"
	if Types()[0] != MissingRequiredParams {
		t.Error("a caller changed the error types")
	}
}
