package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vectorops/pgvector-backup-mcp/confirm"
	"github.com/vectorops/pgvector-backup-mcp/internal/mcptest"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/internal/testutil"
	"github.com/vectorops/pgvector-backup-mcp/sample"
	"github.com/vectorops/pgvector-backup-mcp/store"
	"github.com/vectorops/pgvector-backup-mcp/tools"
)

// The sets these tests restore: cfSeed is what the tables hold, cfWant the
// task backup a truncate restore rolls them to.
const (
	cfSeedDir  = "./data_pipeline/training_data/vector_bak"
	cfSeedTime = "20250720_080000"
	cfWantDir  = "./data_pipeline/training_data/task_20250721_213627/vector_bak"
	cfWantTime = "20250721_215758"
	cfTTL      = 10 * time.Minute
)

// cfClock is the sealer's clock: real time plus an offset tests move.
type cfClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *cfClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *cfClock) skip(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// cfElicitor answers elicitation/create as a person would, and records
// what it was asked. It serves both as the client's handler (which declares
// the capability) and as a bare transport handler (which does not).
type cfElicitor struct {
	mu     sync.Mutex
	asked  []mcp.ElicitationRequest
	answer func(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error)
	calls  atomic.Int32
}

func (e *cfElicitor) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.calls.Add(1)
	e.mu.Lock()
	e.asked = append(e.asked, req)
	answer := e.answer
	e.mu.Unlock()
	if answer == nil {
		return cfAnswer(mcp.ElicitationResponseActionDecline, nil), nil
	}
	return answer(ctx, req)
}

func (e *cfElicitor) set(answer func(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answer = answer
	e.asked = nil
	e.calls.Store(0)
}

func (e *cfElicitor) requests() []mcp.ElicitationRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.asked)
}

func cfAnswer(action mcp.ElicitationResponseAction, content any) *mcp.ElicitationResult {
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: action, Content: content}}
}

func cfReply(action mcp.ElicitationResponseAction, content any) func(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return func(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
		return cfAnswer(action, content), nil
	}
}

// cfOptions configure a server with confirmations.
type cfOptions struct {
	cfg        serverConfig
	confirmOff bool // Service.Confirm = nil, as --confirm=none
	// elicitor, when set, is the client's elicitation handler: the client
	// declares the capability.
	elicitor *cfElicitor
	// bare, when set, answers elicitation/create at the transport while the
	// client declares no capability: it counts requests the server must
	// never send.
	bare *cfElicitor
	// capabilities the client declares beyond its handlers.
	capabilities *mcp.ClientCapabilities
	// key is the sealer's key (MCP_CONFIRM_KEY); nil for a random one.
	key []byte
}

// cfServer is a connected client and the server's confirmation machinery.
type cfServer struct {
	c      *client.Client
	sealer *confirm.Sealer
	clock  *cfClock
	logs   *testutil.Buffer
	schema *jsonschema.Schema // restore_vector_backup's output schema
}

// cfConnect is connect with confirmations on (a sealer with a random key
// and a movable clock), unless o.confirmOff.
func cfConnect(t *testing.T, p *pgtest.Project, protocol string, o cfOptions) *cfServer {
	t.Helper()
	s := &cfServer{clock: &cfClock{}, logs: &testutil.Buffer{}}
	svc := newService(t, p, o.cfg)
	svc.Logger = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if !o.confirmOff {
		var err error
		if s.sealer, err = confirm.NewSealer(o.key, cfTTL); err != nil {
			t.Fatal(err)
		}
		s.sealer.SetClock(s.clock.now)
		if o.key != nil {
			// As mcp-server does with MCP_CONFIRM_KEY.
			s.sealer.PersistSpent(store.NewFolder(p.Backups))
		}
		svc.Confirm = s.sealer
	}
	srv, err := tools.NewServer(svc, tools.Options{ReadOnly: o.cfg.readOnly, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	co := mcptest.Options{Protocol: protocol, Name: "confirm-test"}
	if o.capabilities != nil {
		co.Client = append(co.Client, client.WithClientCapabilities(*o.capabilities))
	}
	if o.elicitor != nil {
		co.Client = append(co.Client, client.WithElicitationHandler(o.elicitor))
		s.c = mcptest.ConnectInProcess(t, srv, co)
	} else {
		var topts []transport.InProcessOption
		if o.bare != nil {
			topts = append(topts, transport.WithElicitationHandler(o.bare))
		}
		s.c = mcptest.Connect(t, transport.NewInProcessTransportWithOptions(srv, topts...), co)
	}
	s.schema = outputSchemas(t, s.c)["restore_vector_backup"]
	if s.schema == nil {
		t.Fatal("no restore_vector_backup tool")
	}
	return s
}

// restore calls restore_vector_backup and checks the structured content
// against the published output schema, error or not.
func (s *cfServer) restore(t *testing.T, args map[string]any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	res, out := call(t, s.c, "restore_vector_backup", args)
	validate(t, s.schema, out)
	return res, out
}

// restoreFails calls restore_vector_backup and returns the client's error,
// for calls that must fail on the client's side.
func (s *cfServer) restoreFails(args map[string]any) error {
	req := mcp.CallToolRequest{}
	req.Params.Name = "restore_vector_backup"
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.c.CallTool(ctx, req)
	return err
}

// cfArgs returns a copy of base with extra set (nil deletes).
func cfArgs(base map[string]any, extra map[string]any) map[string]any {
	args := map[string]any{}
	for k, v := range base {
		args[k] = v
	}
	for k, v := range extra {
		if v == nil {
			delete(args, k)
			continue
		}
		args[k] = v
	}
	return args
}

// cfTruncate is the call that rolls the tables back to cfWant.
func cfTruncate(extra map[string]any) map[string]any {
	return cfArgs(map[string]any{"backup_path": cfWantDir, "timestamp": cfWantTime, "truncate_before_restore": true}, extra)
}

// cfWorld is a test database seeded with cfSeed through the server, and a
// project holding the cfSeed and cfWant sets.
type cfWorld struct {
	db         string
	p          *pgtest.Project
	seed, want *sample.Dataset
}

// cfSeeded is a world with the seed set restored through a server speaking
// protocol, with confirmations on: where most confirmation tests start.
func cfSeeded(t *testing.T, protocol string) (cfWorld, *cfServer) {
	t.Helper()
	w := cfNewWorld(t)
	s := cfConnect(t, w.p, protocol, cfOptions{cfg: serverConfig{db: w.db}})
	w.seedThrough(t, s)
	return w, s
}

func cfNewWorld(t *testing.T) cfWorld {
	t.Helper()
	p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 12})
	w := cfWorld{db: p.DB, p: p}
	w.seed = sample.Generate(61, []string{"sql", "ddl"}, 5, 12)
	w.want = sample.Generate(62, []string{"sql", "ddl", "documentation", "error_sql"}, 6, 12)
	w.p.Write(t, w.seed, "vector_bak", cfSeedTime)
	w.p.Write(t, w.want, "task_20250721_213627/vector_bak", cfWantTime)
	return w
}

// seed appends cfSeed into the empty tables: a restore that deletes nothing
// needs no confirmation, and must not ask for one.
func (w cfWorld) seedThrough(t *testing.T, s *cfServer) {
	t.Helper()
	res, out := s.restore(t, map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime})
	if res.IsError {
		t.Fatalf("appending into empty tables needed more than a call: %s", text(res))
	}
	if out["restore_performed"] != true {
		t.Fatalf("seed restore: %v", out)
	}
	pgtest.Compare(t, w.db, w.seed, sample.Default)
}

// cfState is everything a refused call must leave as it was: the tables and
// the backup root's files (a refused restore writes no snapshot).
type cfState struct{ dump, files string }

func (w cfWorld) state(t *testing.T) cfState {
	t.Helper()
	return cfState{dump: pgtest.Dump(t, w.db), files: cfFiles(t, w.p.Backups)}
}

func (w cfWorld) unchanged(t *testing.T, before cfState, what string) {
	t.Helper()
	after := w.state(t)
	if after.dump != before.dump {
		t.Errorf("%s: the tables changed", what)
	}
	if after.files != before.files {
		t.Errorf("%s: the backup root changed:\nbefore\n%s\nafter\n%s", what, before.files, after.files)
	}
}

// cfFiles lists the files under root with their sizes and times.
func cfFiles(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(&b, "%s %d %d\n", rel, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// cfDropSnapshotLog leaves the global location's log out of a cfFiles list.
func cfDropSnapshotLog(files string) string {
	var keep []string
	for _, l := range strings.SplitAfter(files, "\n") {
		if !strings.HasPrefix(l, filepath.Join("global_vector_bak", "vector_backup_log.txt")+" ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// cfWantError checks an isError result's type and details.
func cfWantError(t *testing.T, what string, res *mcp.CallToolResult, out map[string]any, errType string, details map[string]any) bool {
	t.Helper()
	if !res.IsError {
		t.Errorf("%s: succeeded, want %s: %s", what, errType, text(res))
		return false
	}
	ok := true
	if out["error_type"] != errType {
		t.Errorf("%s: error_type %v, want %s: %s", what, out["error_type"], errType, text(res))
		ok = false
	}
	for k, v := range details {
		if out[k] != v {
			t.Errorf("%s: %s = %v, want %v (%s)", what, k, out[k], v, text(res))
			ok = false
		}
	}
	return ok
}

// token calls args without a token and returns the token and plan of the
// CONFIRMATION_REQUIRED answer.
func (s *cfServer) token(t *testing.T, args map[string]any) (string, map[string]any) {
	t.Helper()
	res, out := s.restore(t, args)
	if !cfWantError(t, "call without confirm_token", res, out, "CONFIRMATION_REQUIRED", nil) {
		t.FailNow()
	}
	token, _ := out["confirm_token"].(string)
	plan, _ := out["plan"].(map[string]any)
	if token == "" || plan == nil {
		t.Fatalf("CONFIRMATION_REQUIRED without confirm_token or plan: %v", out)
	}
	return token, plan
}

// cfNum reads a number at a path of object keys.
func cfNum(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// cfCollections turns a plan's collections into name → [delete, insert].
func cfCollections(t *testing.T, plan map[string]any) map[string][2]float64 {
	t.Helper()
	list, ok := plan["collections"].([]any)
	if !ok {
		t.Fatalf("plan.collections is %T, want a list: %v", plan["collections"], plan)
	}
	out := map[string][2]float64{}
	for _, c := range list {
		m := c.(map[string]any)
		d, _ := m["delete_embeddings"].(float64)
		i, _ := m["insert_embeddings"].(float64)
		out[m["name"].(string)] = [2]float64{d, i}
	}
	return out
}

// cfNextStep matches a message that tells the caller what to do next.
var cfNextStep = regexp.MustCompile(`(?i)call (restore_vector_backup )?again|get a new plan|call [a-z_]+ (first|again)`)

const (
	collT = "langchain_pg_collection"
	embT  = "langchain_pg_embedding"
)

// TestConfirmTruncateRestore: a truncate restore over live rows answers
// CONFIRMATION_REQUIRED with the plan and a token and changes nothing; with
// the token it runs, snapshots the replaced rows, and cannot be replayed;
// the snapshot's undo arguments (confirmed the same way) bring the rows back.
func TestConfirmTruncateRestore(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w, s := cfSeeded(t, protocol)
			before := w.state(t)

			start := time.Now()
			res, out := s.restore(t, cfTruncate(nil))
			if !cfWantError(t, "truncate without token", res, out, "CONFIRMATION_REQUIRED", nil) {
				t.FailNow()
			}
			w.unchanged(t, before, "CONFIRMATION_REQUIRED")
			token, _ := out["confirm_token"].(string)
			if !strings.HasPrefix(token, "vbc1.") {
				t.Errorf("confirm_token %q", token)
			}
			exp, err := time.Parse(time.RFC3339, fmt.Sprint(out["expires_at"]))
			if err != nil {
				t.Errorf("expires_at %v: %v", out["expires_at"], err)
			} else if d := exp.Sub(start); d < cfTTL-2*time.Second || d > cfTTL+2*time.Second {
				t.Errorf("expires_at %v is %v after the call, want about %v", exp, d, cfTTL)
			}
			plan, _ := out["plan"].(map[string]any)
			if plan["mode"] != "truncate" {
				t.Errorf("plan.mode %v, want truncate", plan["mode"])
			}
			for _, c := range []struct {
				keys []string
				want int
			}{
				{[]string{"delete", collT}, len(w.seed.Collections)},
				{[]string{"delete", embT}, len(w.seed.Embeddings)},
				{[]string{"insert", collT}, len(w.want.Collections)},
				{[]string{"insert", embT}, len(w.want.Embeddings)},
			} {
				if got := cfNum(plan, c.keys...); got != float64(c.want) {
					t.Errorf("plan.%s = %v, want %d", strings.Join(c.keys, "."), got, c.want)
				}
			}
			wantColl := map[string][2]float64{"sql": {5, 6}, "ddl": {5, 6}, "documentation": {0, 6}, "error_sql": {0, 6}}
			if got := cfCollections(t, plan); fmt.Sprint(got) != fmt.Sprint(wantColl) {
				t.Errorf("plan.collections (name:[delete insert]) %v, want %v", got, wantColl)
			}
			if plan["snapshot"] != true {
				t.Errorf("plan.snapshot %v, want true", plan["snapshot"])
			}
			msg := text(res)
			for _, want := range []string{"CONFIRMATION_REQUIRED", "confirm_token", "call restore_vector_backup again", "Nothing was changed", "delete 10 rows", "write 24 rows"} {
				if !strings.Contains(msg, want) {
					t.Errorf("text lacks %q:\n%s", want, msg)
				}
			}
			if !cfNextStep.MatchString(msg) {
				t.Errorf("text gives no next step:\n%s", msg)
			}
			if m, _ := out["message"].(string); !strings.Contains(m, "confirm_token") {
				t.Errorf("message does not tell to pass confirm_token: %q", m)
			}

			// With the token: the restore runs.
			res, out = s.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
			if res.IsError {
				t.Fatalf("restore with the token: %s", text(res))
			}
			pgtest.Compare(t, w.db, w.want, sample.Default)
			if out["restore_performed"] != true || out["truncate_performed"] != true {
				t.Errorf("restore_performed %v truncate_performed %v", out["restore_performed"], out["truncate_performed"])
			}
			if got := cfNum(out, "restore_results", embT, "rows_restored"); got != float64(len(w.want.Embeddings)) {
				t.Errorf("rows_restored %v", got)
			}
			snap, _ := out["snapshot"].(map[string]any)
			if snap == nil {
				t.Fatalf("no snapshot in the result: %v", out)
			}
			snapPath, _ := snap["backup_path"].(string)
			snapTime, _ := snap["timestamp"].(string)
			if snapPath != "./data_pipeline/training_data/global_vector_bak" {
				t.Errorf("snapshot.backup_path %q, want the global location", snapPath)
			}
			if _, err := time.Parse("20060102_150405", snapTime); err != nil {
				t.Errorf("snapshot.timestamp %q: %v", snapTime, err)
			}
			if got := cfNum(snap, "rows", embT); got != float64(len(w.seed.Embeddings)) {
				t.Errorf("snapshot.rows.%s = %v, want %d", embT, got, len(w.seed.Embeddings))
			}
			for _, table := range []string{collT, embT} {
				f := filepath.Join(w.p.Backups, "global_vector_bak", table+"_"+snapTime+".pgcopy") // snapshots are binary COPY
				if _, err := os.Stat(f); err != nil {
					t.Errorf("snapshot file: %v", err)
				}
			}
			undo, _ := snap["undo"].(map[string]any)
			if undo["backup_path"] != snapPath || undo["timestamp"] != snapTime || undo["truncate_before_restore"] != true {
				t.Errorf("snapshot.undo %v", undo)
			}
			if _, ok := undo["confirm_token"]; ok {
				t.Errorf("undo carries a confirm_token: %v", undo)
			}

			// Replaying the token changes nothing.
			after := w.state(t)
			res, out = s.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
			switch {
			case !res.IsError:
				t.Errorf("a used token ran again: %s", text(res))
			case out["error_type"] == "INVALID_PARAMS":
				cfWantError(t, "replay", res, out, "INVALID_PARAMS", map[string]any{"param": "confirm_token", "reason": "used"})
			default:
				cfWantError(t, "replay", res, out, "CONFLICT", map[string]any{"reason": "state_changed"})
			}
			w.unchanged(t, after, "replay")

			// Undo, confirmed the same way: the seed's rows come back.
			undoToken, undoPlan := s.token(t, undo)
			if got := cfNum(undoPlan, "delete", embT); got != float64(len(w.want.Embeddings)) {
				t.Errorf("undo plan deletes %v embeddings, want %d", got, len(w.want.Embeddings))
			}
			if got := cfNum(undoPlan, "insert", embT); got != float64(len(w.seed.Embeddings)) {
				t.Errorf("undo plan inserts %v embeddings, want %d", got, len(w.seed.Embeddings))
			}
			w.unchanged(t, after, "undo without token")
			res, _ = s.restore(t, cfArgs(undo, map[string]any{"confirm_token": undoToken}))
			if res.IsError {
				t.Fatalf("undo with its token: %s", text(res))
			}
			pgtest.Compare(t, w.db, w.seed, sample.Default)
		})
	}
}

// TestConfirmTokenRefused: a token is refused, and nothing changes, when it
// was altered, expired, or issued for other options, another set, another
// state of the rows or other backup files; refusals do not use it up, and
// the same call spelled differently still matches it.
func TestConfirmTokenRefused(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w, s := cfSeeded(t, protocol)
			token, _ := s.token(t, cfTruncate(nil))
			before := w.state(t)

			refuse := func(name string, args map[string]any, errType string, details map[string]any) {
				t.Helper()
				res, out := s.restore(t, args)
				cfWantError(t, name, res, out, errType, details)
				if res.IsError && !cfNextStep.MatchString(text(res)) {
					t.Errorf("%s: the message gives no next step: %s", name, text(res))
				}
				w.unchanged(t, before, name)
			}
			invalid := func(reason string) map[string]any {
				return map[string]any{"param": "confirm_token", "reason": reason}
			}

			// Altered tokens.
			body := strings.TrimPrefix(token, "vbc1.")
			for _, i := range []int{0, 5, len(body) / 2, len(body) - 2} {
				b := []byte(body)
				if b[i] == 'A' {
					b[i] = 'B'
				} else {
					b[i] = 'A'
				}
				refuse(fmt.Sprintf("token char %d changed", i), cfTruncate(map[string]any{"confirm_token": "vbc1." + string(b)}), "INVALID_PARAMS", invalid("invalid"))
			}
			refuse("token truncated", cfTruncate(map[string]any{"confirm_token": token[:len(token)-6]}), "INVALID_PARAMS", invalid("invalid"))
			refuse("not a token", cfTruncate(map[string]any{"confirm_token": "yes"}), "INVALID_PARAMS", invalid("invalid"))
			refuse("token from another server", cfTruncate(map[string]any{"confirm_token": cfForeignToken(t)}), "INVALID_PARAMS", invalid("invalid"))

			// Expired, then valid again when the clock comes back.
			s.clock.skip(cfTTL + time.Second)
			refuse("expired token", cfTruncate(map[string]any{"confirm_token": token}), "INVALID_PARAMS", invalid("expired"))
			s.clock.skip(-(cfTTL + time.Second))

			// Other options.
			for name, extra := range map[string]map[string]any{
				"collections instead of truncate": {"truncate_before_restore": nil, "collections": []string{"sql"}},
				"tables subset":                   {"tables": []string{embT}},
				"append instead of truncate":      {"truncate_before_restore": nil},
				"on_conflict update":              {"truncate_before_restore": nil, "on_conflict": "update"},
				"snapshot off":                    {"snapshot": false},
			} {
				refuse(name, cfTruncate(cfArgs(extra, map[string]any{"confirm_token": token})), "INVALID_PARAMS", invalid("other_options"))
			}
			// Another set.
			refuse("other set", map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime, "truncate_before_restore": true, "confirm_token": token},
				"INVALID_PARAMS", invalid("other_set"))
			// "latest" names another set once a newer one appears.
			latestToken, _ := s.token(t, cfTruncate(map[string]any{"timestamp": "latest"}))
			taskLog := filepath.Join(w.p.Backups, "task_20250721_213627", "vector_bak", "vector_backup_log.txt")
			logFI, err := os.Stat(taskLog)
			if err != nil {
				t.Fatal(err)
			}
			logText, err := os.ReadFile(taskLog)
			if err != nil {
				t.Fatal(err)
			}
			w.p.Write(t, w.seed, "task_20250721_213627/vector_bak", "20250722_000000")
			before.files = cfFiles(t, w.p.Backups)
			refuse("latest moved on", cfTruncate(map[string]any{"timestamp": "latest", "confirm_token": latestToken}), "INVALID_PARAMS", invalid("other_set"))
			for _, table := range []string{collT, embT} {
				if err := os.Remove(filepath.Join(w.p.Backups, "task_20250721_213627", "vector_bak", table+"_20250722_000000.csv")); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(taskLog, logText, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(taskLog, logFI.ModTime(), logFI.ModTime()); err != nil {
				t.Fatal(err)
			}
			before.files = cfFiles(t, w.p.Backups)

			// Backup file changed: a new time, or bytes appended.
			embFile := filepath.Join(w.p.Backups, "task_20250721_213627", "vector_bak", embT+"_"+cfWantTime+".csv")
			fi, err := os.Stat(embFile)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := os.ReadFile(embFile)
			if err != nil {
				t.Fatal(err)
			}
			putBack := func() {
				t.Helper()
				if err := os.WriteFile(embFile, orig, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(embFile, fi.ModTime(), fi.ModTime()); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chtimes(embFile, fi.ModTime().Add(time.Hour), fi.ModTime().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			before.files = cfFiles(t, w.p.Backups)
			refuse("backup file touched", cfTruncate(map[string]any{"confirm_token": token}), "CONFLICT", map[string]any{"reason": "files_changed"})
			putBack()
			if err := os.WriteFile(embFile, append(slices.Clone(orig), "\r\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(embFile, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			before.files = cfFiles(t, w.p.Backups)
			refuse("bytes appended to the backup file, time kept", cfTruncate(map[string]any{"confirm_token": token}), "CONFLICT", map[string]any{"reason": "files_changed"})
			// Same size and time, other content: only the checksum tells.
			putBack()
			tampered := slices.Clone(orig)
			at := bytes.LastIndex(tampered, []byte(" #")) + 2
			if d := tampered[at]; d < '0' || d > '9' {
				t.Fatalf("no document number to change near byte %d", at)
			}
			tampered[at] = '0' + (tampered[at]-'0'+1)%10
			if err := os.WriteFile(embFile, tampered, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(embFile, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			beforeDump, beforeFiles := pgtest.Dump(t, w.db), cfFiles(t, w.p.Backups)
			res, out := s.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
			cfWantError(t, "backup content changed, size and time kept", res, out, "BACKUP_CORRUPT", map[string]any{"check": "SHA-256"})
			if pgtest.Dump(t, w.db) != beforeDump {
				t.Errorf("backup content changed: the tables changed")
			}
			// The log a failed snapshot leaves is TestConfirmFailedRestoreKeepsBackupLog's.
			if got := cfDropSnapshotLog(cfFiles(t, w.p.Backups)); got != cfDropSnapshotLog(beforeFiles) {
				t.Errorf("backup content changed: files left behind:\n%s", got)
			}
			putBack()
			before = w.state(t)

			// The rows changed between the plan and the call.
			conn := pgtest.Connect(t, w.db)
			ctx := context.Background()
			for _, change := range []struct{ name, do, undo string }{
				{"embedding inserted",
					`INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
					 SELECT 'intruder', uuid, array_fill(0.5, ARRAY[12])::vector, 'added while the user read the plan', '{"source": "app"}' FROM langchain_pg_collection WHERE name = 'sql'`,
					`DELETE FROM langchain_pg_embedding WHERE id = 'intruder'`},
				{"document updated",
					`UPDATE langchain_pg_embedding SET document = document || ' (edited)' WHERE id = (SELECT min(id) FROM langchain_pg_embedding WHERE document IS NOT NULL)`,
					`UPDATE langchain_pg_embedding SET document = left(document, length(document) - 9) WHERE document LIKE '% (edited)'`},
				{"collection inserted",
					`INSERT INTO langchain_pg_collection (uuid, name, cmetadata) VALUES ('00000000-0000-4000-8000-000000000001', 'new_one', NULL)`,
					`DELETE FROM langchain_pg_collection WHERE name = 'new_one'`},
			} {
				if _, err := conn.Exec(ctx, change.do); err != nil {
					t.Fatalf("%s: %v", change.name, err)
				}
				changed := w.state(t)
				res, out := s.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
				cfWantError(t, change.name, res, out, "CONFLICT", map[string]any{"reason": "state_changed"})
				w.unchanged(t, changed, change.name)
				if change.name == "embedding inserted" {
					var n int
					if err := conn.QueryRow(ctx, "SELECT count(*) FROM langchain_pg_embedding WHERE id = 'intruder'").Scan(&n); err != nil || n != 1 {
						t.Errorf("the row inserted after the plan is gone (%d, %v)", n, err)
					}
				}
				if _, err := conn.Exec(ctx, change.undo); err != nil {
					t.Fatalf("%s: undo: %v", change.name, err)
				}
			}
			if got := pgtest.Dump(t, w.db); got != before.dump {
				t.Fatal("the test's own changes were not undone")
			}

			// A dry run needs no token and writes nothing, not even a snapshot.
			res, out = s.restore(t, cfTruncate(map[string]any{"dry_run": true}))
			if res.IsError {
				t.Errorf("dry run: %s", text(res))
			} else if out["dry_run"] != true || out["restore_performed"] != false {
				t.Errorf("dry run: dry_run %v restore_performed %v", out["dry_run"], out["restore_performed"])
			}
			w.unchanged(t, before, "dry run")

			// After all those refusals the token still works, for the same
			// call spelled differently.
			abs := filepath.Join(w.p.Root, "data_pipeline", "training_data", "task_20250721_213627", "vector_bak")
			res, _ = s.restore(t, map[string]any{
				"backup_path":             abs,
				"timestamp":               "latest",
				"truncate_before_restore": true,
				"tables":                  []string{embT, collT},
				"on_conflict":             "error",
				"snapshot":                true,
				"confirm_token":           token,
			})
			if res.IsError {
				t.Fatalf("the token, after refusals, for the same call spelled differently: %s", text(res))
			}
			pgtest.Compare(t, w.db, w.want, sample.Default)
		})
	}
}

// cfForeignToken is a well-formed token from another server's key.
func cfForeignToken(t *testing.T) string {
	other, err := confirm.NewSealer(nil, cfTTL)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := other.Seal(confirm.Claims{Target: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestConfirmOtherTarget: a token issued for one database is refused for
// another, both ways, and neither changes.
func TestConfirmOtherTarget(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w := cfNewWorld(t)
			db2 := pgtest.NewDatabase(t)
			pgtest.Exec(t, db2, sample.Default.DDL(12))
			target2, name2, u := withPassword(t, db2, "hunter2")
			s := cfConnect(t, w.p, protocol, cfOptions{cfg: serverConfig{db: w.db, allow: []string{u.Hostname() + ":" + u.Port() + "/" + name2}}})
			w.seedThrough(t, s)
			if res, _ := s.restore(t, map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime, "db_connection": target2}); res.IsError {
				t.Fatalf("seed db2: %s", text(res))
			}
			before1, before2 := pgtest.Dump(t, w.db), pgtest.Dump(t, db2)

			token1, _ := s.token(t, cfTruncate(nil))
			token2, _ := s.token(t, cfTruncate(map[string]any{"db_connection": target2}))
			for name, args := range map[string]map[string]any{
				"db1 token on db2": cfTruncate(map[string]any{"db_connection": target2, "confirm_token": token1}),
				"db2 token on db1": cfTruncate(map[string]any{"confirm_token": token2}),
				"db2 token on db2 via pg_conn, token from db1": cfTruncate(map[string]any{"pg_conn": target2, "confirm_token": token1}),
			} {
				res, out := s.restore(t, args)
				cfWantError(t, name, res, out, "INVALID_PARAMS", map[string]any{"param": "confirm_token", "reason": "other_target"})
				whole, _ := json.Marshal(res)
				if strings.Contains(string(whole), "hunter2") {
					t.Errorf("%s: the result carries the password", name)
				}
			}
			if pgtest.Dump(t, w.db) != before1 || pgtest.Dump(t, db2) != before2 {
				t.Errorf("a refused token changed a database")
			}
			// Each token works where it was issued, whichever argument names
			// the database.
			if res, _ := s.restore(t, cfTruncate(map[string]any{"pg_conn": target2, "confirm_token": token2})); res.IsError {
				t.Errorf("db2 token on db2 (named by pg_conn): %s", text(res))
			}
			pgtest.Compare(t, db2, w.want, sample.Default)
			if pgtest.Dump(t, w.db) != before1 {
				t.Errorf("restoring db2 changed db1")
			}
		})
	}
}

// TestConfirmOtherModes: per-collection restores and on_conflict=update
// overwrite rows, so they need a token; the token binds only the rows in
// scope; skip and plain appends need none.
func TestConfirmOtherModes(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w, s := cfSeeded(t, protocol)
			before := w.state(t)

			// on_conflict=update overwrites live rows: a token is needed.
			upd := map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime, "on_conflict": "update"}
			_, plan := s.token(t, upd)
			if plan["mode"] != "append" || plan["on_conflict"] != "update" {
				t.Errorf("update plan: mode %v on_conflict %v", plan["mode"], plan["on_conflict"])
			}
			w.unchanged(t, before, "on_conflict=update without token")

			// on_conflict=skip keeps live rows: no token.
			res, out := s.restore(t, map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime, "on_conflict": "skip"})
			if res.IsError {
				t.Errorf("on_conflict=skip asked for more than a call: %s", text(res))
			} else if out["snapshot"] != nil {
				t.Errorf("a restore that replaces nothing took a snapshot: %v", out["snapshot"])
			} else if got := cfNum(out, "restore_results", embT, "rows_skipped"); got != float64(len(w.seed.Embeddings)) {
				t.Errorf("on_conflict=skip skipped %v embeddings, want all %d", got, len(w.seed.Embeddings))
			}
			w.unchanged(t, before, "on_conflict=skip of rows all present")

			// Per collection: the plan names the collection's rows.
			sqlArgs := map[string]any{"backup_path": cfWantDir, "timestamp": cfWantTime, "collections": []string{"sql"}}
			token, plan := s.token(t, sqlArgs)
			w.unchanged(t, before, "collections without token")
			if plan["mode"] != "collections" {
				t.Errorf("plan.mode %v, want collections", plan["mode"])
			}
			if got := cfNum(plan, "delete", embT); got != 5.0 {
				t.Errorf("plan deletes %v embeddings, want the 5 of sql", got)
			}
			if got := cfCollections(t, plan)["sql"]; got != [2]float64{5, 6} {
				t.Errorf("plan for sql: %v, want delete 5 insert 6", got)
			}
			if _, ok := cfCollections(t, plan)["ddl"]; ok {
				t.Errorf("the plan lists ddl, which the restore does not touch: %v", plan["collections"])
			}
			// A change to a collection out of scope does not void the token.
			pgtest.Exec(t, w.db, `UPDATE langchain_pg_embedding SET document = 'ddl edited' WHERE collection_id = (SELECT uuid FROM langchain_pg_collection WHERE name = 'ddl') AND document IS NOT NULL AND id = (
				SELECT min(e.id) FROM langchain_pg_embedding e JOIN langchain_pg_collection c ON c.uuid = e.collection_id WHERE c.name = 'ddl' AND e.document IS NOT NULL)`)
			res, out = s.restore(t, cfArgs(sqlArgs, map[string]any{"confirm_token": token}))
			if res.IsError {
				t.Fatalf("collections restore after an out-of-scope change: %s", text(res))
			}
			if c, _ := out["collections"].([]any); len(c) != 1 || c[0] != "sql" {
				t.Errorf("result collections %v", out["collections"])
			}

			// Truncating empty tables deletes nothing: no token.
			pgtest.Exec(t, w.db, "DELETE FROM langchain_pg_embedding; DELETE FROM langchain_pg_collection")
			if res, _ := s.restore(t, cfTruncate(nil)); res.IsError {
				t.Errorf("a truncate restore into empty tables asked for more than a call: %s", text(res))
			}
			pgtest.Compare(t, w.db, w.want, sample.Default)
		})
	}
}

// TestConfirmConcurrentReplay: the same token used by two calls at once
// restores once; the other call is refused and changes nothing more.
func TestConfirmConcurrentReplay(t *testing.T) {
	w, s := cfSeeded(t, protocols[0])
	token, _ := s.token(t, cfTruncate(nil))
	var wg sync.WaitGroup
	outs := make([]map[string]any, 4)
	errs := make([]bool, 4)
	for i := range outs {
		wg.Go(func() {
			req := mcp.CallToolRequest{}
			req.Params.Name = "restore_vector_backup"
			req.Params.Arguments = cfTruncate(map[string]any{"confirm_token": token})
			res, err := s.c.CallTool(context.Background(), req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := json.Marshal(res.StructuredContent)
			json.Unmarshal(b, &outs[i])
			errs[i] = res.IsError
		})
	}
	wg.Wait()
	ok := 0
	for i, out := range outs {
		if !errs[i] {
			ok++
			continue
		}
		reason := out["reason"]
		if !(out["error_type"] == "INVALID_PARAMS" && reason == "used") && !(out["error_type"] == "CONFLICT" && reason == "state_changed") {
			t.Errorf("concurrent replay refused with %v/%v: %v", out["error_type"], reason, out["message"])
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent calls with one token restored, want exactly 1", ok, len(outs))
	}
	pgtest.Compare(t, w.db, w.want, sample.Default)
	snaps, _ := filepath.Glob(filepath.Join(w.p.Backups, "global_vector_bak", embT+"_*.pgcopy")) // snapshots are binary COPY
	if len(snaps) != 1 {
		t.Errorf("%d snapshot sets, want 1: %v", len(snaps), snaps)
	}
}

// TestConfirmElicitation: a client that declares elicitation is asked
// directly; its answer decides, and nothing changes without approval.
func TestConfirmElicitation(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w := cfNewWorld(t)
			e := &cfElicitor{}
			s := cfConnect(t, w.p, protocol, cfOptions{cfg: serverConfig{db: w.db}, elicitor: e})
			w.seedThrough(t, s)
			if n := e.calls.Load(); n != 0 {
				t.Errorf("appending into empty tables asked the user %d times", n)
			}
			before := w.state(t)

			// First observe: does the server ask in this era?
			e.set(cfReply(mcp.ElicitationResponseActionDecline, nil))
			res, out := s.restore(t, cfTruncate(nil))
			w.unchanged(t, before, "declined")
			if e.calls.Load() == 0 {
				// Not asked: the client must get the token route instead.
				cfWantError(t, "not asked", res, out, "CONFIRMATION_REQUIRED", nil)
				t.Logf("%s in-process: the server did not elicit; answered CONFIRMATION_REQUIRED", protocol)
				return
			}
			t.Logf("%s in-process: the server elicited", protocol)
			cfWantError(t, "declined", res, out, "CANCELLED", nil)
			if n := e.calls.Load(); n != 1 {
				t.Errorf("asked %d times, want once", n)
			}
			req := e.requests()[0]
			msg := req.Params.Message
			for _, want := range []string{cfWantTime, "truncate", "langchain_pg_embedding: delete 10 rows, write 24 rows", "langchain_pg_collection: delete 2 rows, write 4 rows", `collection "sql": 5 embeddings deleted, 6 written`, `collection "error_sql": 0 embeddings deleted, 6 written`, "global_vector_bak", "Approve"} {
				if !strings.Contains(msg, want) {
					t.Errorf("elicitation message lacks %q:\n%s", want, msg)
				}
			}
			b, _ := json.Marshal(req.Params.RequestedSchema)
			var schema map[string]any
			json.Unmarshal(b, &schema)
			if cfNum(schema, "properties", "approve", "type") != "boolean" || schema["type"] != "object" {
				t.Errorf("requestedSchema %s, want an object with boolean approve", b)
			}
			if req.Params.Mode != "" && req.Params.Mode != mcp.ElicitationModeForm {
				t.Errorf("elicitation mode %q, want form", req.Params.Mode)
			}
			if strings.Contains(text(res), "confirm_token") && out["confirm_token"] != nil {
				t.Errorf("a declined restore handed out a token anyway: %v", out)
			}

			for name, answer := range map[string]func(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error){
				"accept, approve false":   cfReply(mcp.ElicitationResponseActionAccept, map[string]any{"approve": false}),
				"accept, no content":      cfReply(mcp.ElicitationResponseActionAccept, nil),
				"accept, approve string":  cfReply(mcp.ElicitationResponseActionAccept, map[string]any{"approve": "true"}),
				"accept, other field":     cfReply(mcp.ElicitationResponseActionAccept, map[string]any{"ok": true}),
				"cancel":                  cfReply(mcp.ElicitationResponseActionCancel, nil),
				"decline with approve":    cfReply(mcp.ElicitationResponseActionDecline, map[string]any{"approve": true}),
				"cancel with approve":     cfReply(mcp.ElicitationResponseActionCancel, map[string]any{"approve": true}),
				"unknown action, approve": cfReply("approve", map[string]any{"approve": true}),
			} {
				e.set(answer)
				res, out := s.restore(t, cfTruncate(nil))
				cfWantError(t, name, res, out, "CANCELLED", nil)
				if n := e.calls.Load(); n != 1 {
					t.Errorf("%s: asked %d times", name, n)
				}
				w.unchanged(t, before, name)
			}

			// The client cannot ask (its handler fails). Before 2026-07-28 the
			// server asked during the call and answers with the token route;
			// from 2026-07-28 the client itself got the question (an
			// input_required answer), and its call fails on its side.
			e.set(func(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
				return nil, fmt.Errorf("no user at this terminal")
			})
			if protocol == mcp.ProtocolVersion20250618 {
				res, out = s.restore(t, cfTruncate(nil))
				cfWantError(t, "elicitation failed", res, out, "CONFIRMATION_REQUIRED", nil)
			} else if err := s.restoreFails(cfTruncate(nil)); err == nil || !strings.Contains(err.Error(), "no user at this terminal") {
				t.Errorf("a client that could not ask: %v, want its own failure", err)
			}
			w.unchanged(t, before, "elicitation failed")

			// The rows change while the user reads the plan: approval is
			// for the plan shown, so the restore is refused.
			conn := pgtest.Connect(t, w.db)
			e.set(func(ctx context.Context, _ mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
				if _, err := conn.Exec(ctx, `INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
					SELECT 'intruder', uuid, array_fill(0.25, ARRAY[12])::vector, 'written while asking', NULL FROM langchain_pg_collection WHERE name = 'ddl'`); err != nil {
					return nil, err
				}
				return cfAnswer(mcp.ElicitationResponseActionAccept, map[string]any{"approve": true}), nil
			})
			res, out = s.restore(t, cfTruncate(nil))
			cfWantError(t, "world changed while asking", res, out, "CONFLICT", map[string]any{"reason": "state_changed"})
			var n int
			if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM langchain_pg_embedding WHERE id = 'intruder'").Scan(&n); err != nil || n != 1 {
				t.Errorf("the row written while asking is gone (%d, %v)", n, err)
			}
			pgtest.Exec(t, w.db, "DELETE FROM langchain_pg_embedding WHERE id = 'intruder'")
			w.unchanged(t, before, "world changed while asking")

			// Dry runs and restores that replace nothing do not ask.
			e.set(cfReply(mcp.ElicitationResponseActionAccept, map[string]any{"approve": true}))
			if res, _ := s.restore(t, cfTruncate(map[string]any{"dry_run": true})); res.IsError {
				t.Errorf("dry run: %s", text(res))
			}
			if res, _ := s.restore(t, map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime, "on_conflict": "skip"}); res.IsError {
				t.Errorf("append with skip: %s", text(res))
			}
			if n := e.calls.Load(); n != 0 {
				t.Errorf("a dry run or a non-destructive restore asked the user (%d times)", n)
			}
			w.unchanged(t, before, "dry run and skip")

			// Approved: the restore runs without a token.
			res, out = s.restore(t, cfTruncate(nil))
			if res.IsError {
				t.Fatalf("approved restore: %s", text(res))
			}
			if n := e.calls.Load(); n != 1 {
				t.Errorf("asked %d times, want once", n)
			}
			pgtest.Compare(t, w.db, w.want, sample.Default)
			if out["snapshot"] == nil {
				t.Errorf("approved restore took no snapshot")
			}
		})
	}
}

// TestConfirmNoElicitationWithoutCapability: a client that did not declare
// elicitation is never sent elicitation/create (a transport-level handler
// counts any), and gets CONFIRMATION_REQUIRED at once rather than a hang. A
// client that declared it but cannot answer also falls back to the token.
func TestConfirmNoElicitationWithoutCapability(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w := cfNewWorld(t)
			bare := &cfElicitor{}
			bare.set(cfReply(mcp.ElicitationResponseActionAccept, map[string]any{"approve": true}))
			s := cfConnect(t, w.p, protocol, cfOptions{cfg: serverConfig{db: w.db}, bare: bare})
			w.seedThrough(t, s)
			before := w.state(t)

			done := make(chan struct{})
			var res *mcp.CallToolResult
			var out map[string]any
			go func() {
				defer close(done)
				req := mcp.CallToolRequest{}
				req.Params.Name = "restore_vector_backup"
				req.Params.Arguments = cfTruncate(nil)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				r, err := s.c.CallTool(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				res = r
				b, _ := json.Marshal(r.StructuredContent)
				json.Unmarshal(b, &out)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the restore hangs for a client without elicitation")
			}
			if res == nil {
				t.FailNow()
			}
			validate(t, s.schema, out)
			cfWantError(t, "no capability", res, out, "CONFIRMATION_REQUIRED", nil)
			if n := bare.calls.Load(); n != 0 {
				t.Errorf("elicitation/create sent %d times to a client that did not declare elicitation", n)
			}
			if strings.Contains(s.logs.String(), "could not ask the user directly") {
				t.Errorf("the server tried to elicit from a client without the capability:\n%s", s.logs.String())
			}
			w.unchanged(t, before, "no capability")

			// Declared, but the client has no handler to answer with: before
			// 2026-07-28 the token route, from it the client's own failure
			// (it was given the question it said it could ask).
			s2 := cfConnect(t, w.p, protocol, cfOptions{cfg: serverConfig{db: w.db}, capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{}}})
			if protocol == mcp.ProtocolVersion20250618 {
				res2, out2 := s2.restore(t, cfTruncate(nil))
				cfWantError(t, "declared, cannot answer", res2, out2, "CONFIRMATION_REQUIRED", nil)
			} else if err := s2.restoreFails(cfTruncate(nil)); err == nil || !strings.Contains(err.Error(), "no elicitation handler") {
				t.Errorf("a client that declared elicitation without a handler: %v, want its own failure", err)
			}
			w.unchanged(t, before, "declared, cannot answer")
		})
	}
}

// TestConfirmOff: with Service.Confirm nil (--confirm=none) a truncate
// restore runs at once, and a stray token is not an obstacle.
func TestConfirmOff(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w := cfNewWorld(t)
			e := &cfElicitor{}
			s := cfConnect(t, w.p, protocol, cfOptions{cfg: serverConfig{db: w.db}, confirmOff: true, elicitor: e})
			w.seedThrough(t, s)
			res, out := s.restore(t, cfTruncate(nil))
			if res.IsError {
				t.Fatalf("truncate restore with confirmations off: %s", text(res))
			}
			pgtest.Compare(t, w.db, w.want, sample.Default)
			if out["snapshot"] == nil {
				t.Errorf("no snapshot with confirmations off")
			}
			if n := e.calls.Load(); n != 0 {
				t.Errorf("confirmations off, yet the user was asked %d times", n)
			}
			// A stray token changes nothing about that.
			if res, _ := s.restore(t, map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime, "truncate_before_restore": true, "confirm_token": "vbc1.stale"}); res.IsError {
				t.Errorf("confirmations off, a stray token: %s", text(res))
			}
			pgtest.Compare(t, w.db, w.seed, sample.Default)
		})
	}
}

// TestConfirmPlanCountsEveryRow: the plan a person approves counts every
// backup row (the first row of each file once went uncounted): per collection, the embeddings written add up to the table's
// insert count, and an on_conflict=update plan counts every conflicting key.
func TestConfirmPlanCountsEveryRow(t *testing.T) {
	_, s := cfSeeded(t, protocols[0])

	_, plan := s.token(t, cfTruncate(nil))
	var sum float64
	var wrong []string
	for name, c := range cfCollections(t, plan) {
		sum += c[1]
		if c[1] != 6 {
			wrong = append(wrong, fmt.Sprintf("%s: %v written, the backup holds 6", name, c[1]))
		}
	}
	slices.Sort(wrong)
	if sum != cfNum(plan, "insert", embT) || len(wrong) > 0 {
		t.Errorf("plan.collections[].insert_embeddings add up to %v, plan.insert.%s is %v (%s): is the first embedding row of the file counted?",
			sum, embT, cfNum(plan, "insert", embT), strings.Join(wrong, "; "))
	}

	_, plan = s.token(t, map[string]any{"backup_path": cfSeedDir, "timestamp": cfSeedTime, "on_conflict": "update"})
	if got, want := fmt.Sprint(plan["conflicts"]), fmt.Sprint(map[string]any{collT: 2.0, embT: 10.0}); got != want {
		t.Errorf("on_conflict=update plan.conflicts %s, want %s (every row of the set is live)", got, want)
	}
}

// TestConfirmFailedRestoreKeepsBackupLog: a confirmed restore that fails
// after its snapshot was written (here: the backup file's content changed
// after the plan, which only the checksum shows) leaves no trace in the
// global location: no snapshot files, and the folder's log still describes
// the set that is really there.
func TestConfirmFailedRestoreKeepsBackupLog(t *testing.T) {
	w := cfNewWorld(t)
	w.p.Write(t, w.seed, "global_vector_bak", "20250719_070000")
	logPath := filepath.Join(w.p.Backups, "global_vector_bak", "vector_backup_log.txt")
	logBefore, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	s := cfConnect(t, w.p, protocols[0], cfOptions{cfg: serverConfig{db: w.db}})
	w.seedThrough(t, s)
	token, _ := s.token(t, cfTruncate(nil))
	before := w.state(t)

	embFile := filepath.Join(w.p.Backups, "task_20250721_213627", "vector_bak", embT+"_"+cfWantTime+".csv")
	fi, err := os.Stat(embFile)
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(embFile)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.LastIndex(content, []byte(" #")) + 2
	content[at] = '0' + (content[at]-'0'+1)%10
	if err := os.WriteFile(embFile, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(embFile, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	before.files = cfFiles(t, w.p.Backups)

	res, out := s.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
	cfWantError(t, "content changed after the plan", res, out, "BACKUP_CORRUPT", nil)
	if pgtest.Dump(t, w.db) != before.dump {
		t.Fatal("the tables changed")
	}
	if got := cfDropSnapshotLog(cfFiles(t, w.p.Backups)); got != cfDropSnapshotLog(before.files) {
		t.Fatalf("snapshot files left behind:\n%s", got)
	}
	logAfter, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(logAfter, logBefore) {
		t.Errorf("the failed restore's snapshot overwrote %s and left it describing a set that was removed:\n%s\nit described the real set 20250719_070000:\n%s",
			"global_vector_bak/vector_backup_log.txt", logAfter, logBefore)
	}
}

// TestConfirmCancelWhileAsking: a call cancelled while the person reads the
// plan changes nothing, even if an approval arrives afterwards.
func TestConfirmCancelWhileAsking(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			w := cfNewWorld(t)
			e := &cfElicitor{}
			s := cfConnect(t, w.p, protocol, cfOptions{cfg: serverConfig{db: w.db}, elicitor: e})
			w.seedThrough(t, s)
			before := w.state(t)
			answered := make(chan struct{})
			e.set(func(ctx context.Context, _ mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
				defer close(answered)
				<-ctx.Done()
				return cfAnswer(mcp.ElicitationResponseActionAccept, map[string]any{"approve": true}), nil
			})
			req := mcp.CallToolRequest{}
			req.Params.Name = "restore_vector_backup"
			req.Params.Arguments = cfTruncate(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			res, err := s.c.CallTool(ctx, req)
			if err == nil && !res.IsError {
				t.Fatalf("a call cancelled while asking restored: %s", text(res))
			}
			if err == nil {
				b, _ := json.Marshal(res.StructuredContent)
				var out map[string]any
				json.Unmarshal(b, &out)
				if out["error_type"] != "CANCELLED" {
					t.Errorf("cancelled while asking: %v, want CANCELLED", out["error_type"])
				}
			}
			select {
			case <-answered:
			case <-time.After(10 * time.Second):
				t.Fatal("the elicitation was not cancelled with the call")
			}
			time.Sleep(200 * time.Millisecond) // let a (wrong) late restore run
			w.unchanged(t, before, "cancelled while asking")
		})
	}
}

// TestConfirmNoSnapshot: with snapshot=false the plan says the replaced rows
// cannot be recovered, and the confirmed restore writes no snapshot.
func TestConfirmNoSnapshot(t *testing.T) {
	w, s := cfSeeded(t, protocols[0])
	args := cfTruncate(map[string]any{"snapshot": false})
	res, out := s.restore(t, args)
	cfWantError(t, "snapshot=false without token", res, out, "CONFIRMATION_REQUIRED", nil)
	if cfNum(out, "plan", "snapshot") != false {
		t.Errorf("plan.snapshot %v, want false", cfNum(out, "plan", "snapshot"))
	}
	if !strings.Contains(text(res), "cannot be recovered") {
		t.Errorf("the plan does not warn that nothing is saved:\n%s", text(res))
	}
	res, out = s.restore(t, cfArgs(args, map[string]any{"confirm_token": out["confirm_token"]}))
	if res.IsError {
		t.Fatalf("confirmed restore without snapshot: %s", text(res))
	}
	if out["snapshot"] != nil {
		t.Errorf("snapshot=false, yet a snapshot: %v", out["snapshot"])
	}
	if _, err := os.Stat(filepath.Join(w.p.Backups, "global_vector_bak")); err == nil {
		t.Errorf("snapshot=false wrote into global_vector_bak")
	}
	pgtest.Compare(t, w.db, w.want, sample.Default)
}

// TestConfirmTokenFitsInputSchema: the token the server hands out must be one
// its own input schema accepts back (confirm_token maxLength), here for a
// per-collection restore of many collections.
func TestConfirmTokenFitsInputSchema(t *testing.T) {
	w := cfNewWorld(t)
	var names []string
	for i := range 120 {
		names = append(names, fmt.Sprintf("tenant_%03d_%s", i, strings.Repeat("q", 50)))
	}
	const dir, ts = "./data_pipeline/training_data/manual_20250722_101500/vector_bak", "20250722_101500"
	w.p.Write(t, sample.Generate(71, names, 1, 12), "manual_20250722_101500/vector_bak", ts)
	s := cfConnect(t, w.p, protocols[0], cfOptions{cfg: serverConfig{db: w.db}})
	if res, _ := s.restore(t, map[string]any{"backup_path": dir, "timestamp": ts}); res.IsError {
		t.Fatalf("seed: %s", text(res))
	}
	args := map[string]any{"backup_path": dir, "timestamp": ts, "collections": names}
	token, _ := s.token(t, args)
	before := w.state(t)
	res, out := s.restore(t, cfArgs(args, map[string]any{"confirm_token": token}))
	if res.IsError {
		w.unchanged(t, before, "token refused")
		if out["param"] == "confirm_token" && len(token) > 8192 {
			t.Fatalf("the server minted a %d-character confirm_token for a restore of %d collections; its own input schema (confirm_token maxLength=8192) refuses it: %s",
				len(token), len(names), text(res))
		}
		t.Fatalf("restore with its token: %s", text(res))
	}
}

// TestConfirmUsedTokenAfterRestart: a server restarted with the same key
// (MCP_CONFIRM_KEY) must not run a token that already ran, even when the
// rows are back in the state it was issued for (here: after an undo).
func TestConfirmUsedTokenAfterRestart(t *testing.T) {
	w := cfNewWorld(t)
	key := bytes.Repeat([]byte{0x5a}, 32)
	withKey := func() *cfServer {
		return cfConnect(t, w.p, protocols[0], cfOptions{cfg: serverConfig{db: w.db}, key: key})
	}
	s1 := withKey()
	w.seedThrough(t, s1)
	token, _ := s1.token(t, cfTruncate(nil))
	res, out := s1.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
	if res.IsError {
		t.Fatalf("restore: %s", text(res))
	}
	undo := out["snapshot"].(map[string]any)["undo"].(map[string]any)
	undoToken, _ := s1.token(t, undo)
	if res, _ := s1.restore(t, cfArgs(undo, map[string]any{"confirm_token": undoToken})); res.IsError {
		t.Fatalf("undo: %s", text(res))
	}
	pgtest.Compare(t, w.db, w.seed, sample.Default)

	// The same server refuses the replay.
	before := w.state(t)
	res, out = s1.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
	cfWantError(t, "replay on the same server", res, out, "INVALID_PARAMS", map[string]any{"reason": "used"})
	w.unchanged(t, before, "replay on the same server")

	// A restarted server with the same key.
	s2 := withKey()
	res, out = s2.restore(t, cfTruncate(map[string]any{"confirm_token": token}))
	cfWantError(t, "replay after a restart with the same key", res, out, "INVALID_PARAMS", map[string]any{"reason": "used"})
	w.unchanged(t, before, "replay after restart")
}
