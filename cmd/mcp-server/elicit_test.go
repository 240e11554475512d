package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// person answers elicitation as the person behind the client would.
type person struct {
	asked   atomic.Int32
	approve bool
	message atomic.Value
}

func (p *person) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	p.asked.Add(1)
	p.message.Store(req.Params.Message)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"approve": p.approve},
	}}, nil
}

// TestStdioElicitation: over stdio, in both protocol eras, a client that
// declared elicitation has the person asked (in 2025-06-18 by the server
// during the call, in 2026-07-28 by an input_required answer the client
// fulfils); a no changes nothing, a yes restores. A client that did not
// declare it gets the token route and is never asked.
func TestStdioElicitation(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
			db := p.DB
			a := sample.Generate(1, []string{"sql", "ddl"}, 4, 8)
			b := a.Later(2)
			p.Write(t, a, "vector_bak", "20250720_080000")
			p.Write(t, b, "vector_bak", "20250721_080000")
			who := &person{}
			s := startServer(t, protocol, serverOptions{db: db, projectRoot: p.Root,
				client: []client.ClientOption{client.WithElicitationHandler(who)}})
			s.restore(t, map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250720_080000"})
			if n := who.asked.Load(); n != 0 {
				t.Fatalf("a restore into empty tables asked the person %d times", n)
			}
			before := pgtest.Dump(t, db)
			args := map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250721_080000", "truncate_before_restore": true}

			res, out := s.call(t, "restore_vector_backup", args)
			if !res.IsError || out["error_type"] != "CANCELLED" || who.asked.Load() != 1 {
				t.Fatalf("declined: asked %d times, answer %v", who.asked.Load(), out)
			}
			if msg, _ := who.message.Load().(string); !strings.Contains(msg, "delete 8 rows, write 8 rows") || !strings.Contains(msg, "Approve this restore?") {
				t.Errorf("the question: %q", msg)
			}
			if got := pgtest.Dump(t, db); got != before {
				t.Fatal("a declined restore changed the tables")
			}

			who.approve = true
			res, out = s.call(t, "restore_vector_backup", args)
			if res.IsError || out["restore_performed"] != true || who.asked.Load() != 2 {
				t.Fatalf("approved: asked %d times, answer %v", who.asked.Load(), out)
			}
			pgtest.Compare(t, db, b, sample.Default)

			// A client that did not declare elicitation: the token route.
			bare := startServer(t, protocol, serverOptions{db: db, projectRoot: p.Root})
			args["timestamp"] = "20250720_080000"
			res, out = bare.call(t, "restore_vector_backup", args)
			if out["error_type"] != "CONFIRMATION_REQUIRED" || out["confirm_token"] == nil {
				t.Fatalf("a client without elicitation: %v", out)
			}
			if strings.Contains(bare.stderr.String(), "elicit") {
				t.Errorf("the server tried to elicit from a client without the capability:\n%s", bare.stderr.String())
			}
		})
	}
}
