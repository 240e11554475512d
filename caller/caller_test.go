package caller

import (
	"context"
	"testing"
)

func TestScopes(t *testing.T) {
	reader := OAuth("alice", "agent", []Scope{Read})
	if !reader.May(Read) || reader.May(Write) {
		t.Errorf("a read-only token: May(read)=%v May(write)=%v", reader.May(Read), reader.May(Write))
	}
	for _, c := range []Caller{Local(), StaticToken()} {
		if !c.May(Read) || !c.May(Write) {
			t.Errorf("%s may not do everything", c.Subject)
		}
	}
	if got := From(context.Background()); got.Subject != LocalSubject {
		t.Errorf("a context without a caller is %q, want the local operator", got.Subject)
	}
	if got := From(With(context.Background(), reader)); got.Subject != "alice" || got.May(Write) {
		t.Errorf("From(With(reader)) = %+v", got)
	}
}

func TestFront(t *testing.T) {
	if got := FrontOf(context.Background()); got != (Front{}) {
		t.Errorf("a context without a front has %+v", got)
	}
	f := Front{Name: FrontREST, Operation: "/api/v0/data_pipeline/vector/restore"}
	if got := FrontOf(WithFront(context.Background(), f)); got != f {
		t.Errorf("FrontOf(WithFront(f)) = %+v, want %+v", got, f)
	}
}
