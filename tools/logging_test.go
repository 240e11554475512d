package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

// logInbox is what one client received as notifications/message.
type logInbox struct {
	mu    sync.Mutex
	notes []mcp.JSONRPCNotification
}

func listen(c *client.Client) *logInbox {
	in := &logInbox{}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationMessage) {
			in.mu.Lock()
			defer in.mu.Unlock()
			in.notes = append(in.notes, n)
		}
	})
	return in
}

// messages are the received records' messages, in order.
func (in *logInbox) messages() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, n := range in.notes {
		data, _ := n.Params.AdditionalFields["data"].(map[string]any)
		msg, _ := data["message"].(string)
		out = append(out, msg)
	}
	return out
}

// waitFor waits until a record with message msg arrived (notifications
// may trail the result they belong to).
func (in *logInbox) waitFor(t *testing.T, msg string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if slices.Contains(in.messages(), msg) {
			return
		}
	}
	t.Fatalf("no log message %q arrived; got %q", msg, in.messages())
}

func (in *logInbox) json(t *testing.T) string {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	b, err := json.Marshal(in.notes)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMCPLogging: a client that asked for log messages (logging/setLevel
// before 2026-07-28, the level in each request's _meta from 2026-07-28)
// gets the records of its own calls at or above its level, named
// pgvector-backup-mcp, without the database's password; another client of
// the same server that did not ask gets none, and neither gets the other's;
// an unknown level is invalid params.
func TestMCPLogging(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 8})
			const ts = "20250721_215758"
			p.Write(t, sample.Generate(51, []string{"sql", "ddl"}, 4, 8), "global_vector_bak", ts)
			target, name, u := withPassword(t, p.DB, "hunter2-logging")
			srv, err := tools.NewServer(newService(t, p, serverConfig{db: p.DB, allow: []string{u.Hostname() + ":" + u.Port() + "/" + name}}), tools.Options{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			asker := mcptest.ConnectInProcess(t, srv, mcptest.Options{Protocol: protocol, Name: "asker"})
			quiet := mcptest.ConnectInProcess(t, srv, mcptest.Options{Protocol: protocol, Name: "quiet"})
			askerLog, quietLog := listen(asker), listen(quiet)
			setLevel := func(level mcp.LoggingLevel) error {
				req := mcp.SetLevelRequest{}
				req.Params.Level = level
				return asker.SetLevel(context.Background(), req)
			}
			if err := setLevel(mcp.LoggingLevelInfo); err != nil {
				t.Fatalf("logging/setLevel info: %v", err)
			}
			restore := func(c *client.Client, extra map[string]any) *mcp.CallToolResult {
				args := map[string]any{"backup_path": "./data_pipeline/training_data/global_vector_bak", "timestamp": ts, "db_connection": target}
				for k, v := range extra {
					args[k] = v
				}
				res, _ := call(t, c, "restore_vector_backup", args)
				return res
			}

			// The quiet client's dry run: no records for anyone.
			if res := restore(quiet, map[string]any{"dry_run": true}); res.IsError {
				t.Fatalf("quiet dry run: %s", text(res))
			}
			// The asker's restores, into the empty tables and then over
			// them: their records at info and above.
			if res := restore(asker, nil); res.IsError {
				t.Fatalf("restore: %s", text(res))
			}
			if res := restore(asker, map[string]any{"truncate_before_restore": true}); res.IsError {
				t.Fatalf("restore: %s", text(res))
			}
			askerLog.waitFor(t, "snapshot saved")
			// At warning, a failing restore (an append over the same keys)
			// is sent, a committed one's info records are not.
			if err := setLevel(mcp.LoggingLevelWarning); err != nil {
				t.Fatalf("logging/setLevel warning: %v", err)
			}
			if res := restore(asker, map[string]any{"truncate_before_restore": true, "snapshot": false}); res.IsError {
				t.Fatalf("second restore: %s", text(res))
			}
			if res := restore(asker, nil); !res.IsError {
				t.Fatalf("an append over existing keys succeeded: %s", text(res))
			}
			askerLog.waitFor(t, "restore failed, rolled back")

			got := askerLog.messages()
			if want := []string{"restore starting", "restore committed", "restore starting", "restore committed", "snapshot saved", "restore failed, rolled back"}; !slices.Equal(got, want) {
				t.Errorf("the asker's log messages\n got %q\nwant %q", got, want)
			}
			askerLog.mu.Lock()
			for _, n := range askerLog.notes {
				f := n.Params.AdditionalFields
				data, _ := f["data"].(map[string]any)
				if fmt.Sprint(f["logger"]) != tools.LoggerName {
					t.Errorf("logger %v, want %s", f["logger"], tools.LoggerName)
				}
				wantLevel := "info"
				if data["message"] == "restore failed, rolled back" {
					wantLevel = "warning"
					if fmt.Sprint(data["error_type"]) != "CONFLICT" {
						t.Errorf("the failed restore's record: %v, want error_type CONFLICT", data)
					}
				}
				if fmt.Sprint(f["level"]) != wantLevel {
					t.Errorf("%v: level %v, want %s", data["message"], f["level"], wantLevel)
				}
				if data["target"] != u.Host+"/"+name {
					t.Errorf("%v: target %v, want %s", data["message"], data["target"], u.Host+"/"+name)
				}
			}
			askerLog.mu.Unlock()
			if all := askerLog.json(t) + quietLog.json(t); strings.Contains(all, "hunter2-logging") {
				t.Errorf("a log message carries the database's password: %s", all)
			}

			// The quiet client asked for nothing and got nothing, though its
			// own calls and the asker's ran; a call of its own after the
			// asker's shows nothing was queued for it either.
			if res := restore(quiet, map[string]any{"dry_run": true, "truncate_before_restore": true}); res.IsError {
				t.Fatalf("quiet dry run: %s", text(res))
			}
			if got := quietLog.messages(); len(got) != 0 {
				t.Errorf("the client that asked for nothing got %q", got)
			}

			if protocol != mcp.ProtocolVersion20250618 {
				return // logging/setLevel is no request from 2026-07-28 on
			}
			if err := setLevel("verbose"); !errors.Is(err, mcp.ErrInvalidParams) {
				t.Errorf("logging/setLevel verbose: %v, want invalid params", err)
			}
		})
	}
}
