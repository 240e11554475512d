package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

var update = flag.Bool("update", false, "rewrite testdata snapshots")

// TestToolSnapshots fails when a tool's name, description, hints or schemas
// change unnoticed: each tool as tools/list sends it is compared with its
// own snapshot, testdata/<tool>.json, and a change is shown as a diff. Run
// go test ./tools -run Snapshot -update after an intended change and review
// the diff. The read-only server must serve exactly the tools whose
// snapshot is annotated read-only.
func TestToolSnapshots(t *testing.T) {
	for _, readOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("read_only=%v", readOnly), func(t *testing.T) {
			for _, protocol := range protocols {
				c := connect(t, newProject(t), serverConfig{readOnly: readOnly}, protocol)
				var served []string
				for _, tool := range servedTools(t, c) {
					served = append(served, tool.name)
					checkSnapshot(t, tool, protocol)
				}
				if want := snapshotNames(t, readOnly); !slices.Equal(served, want) {
					t.Errorf("protocol %s: served tools %v, want %v", protocol, served, want)
				}
			}
		})
	}
}

// servedTool is a tool as tools/list sends it: the SDK's client decodes a
// tool's output schema into a struct that drops all but its top-level
// properties (oneOf, and so both branches, among them), so the tests read
// the answer's bytes.
type servedTool struct {
	name string
	raw  json.RawMessage
}

// servedTools lists the tools c's server serves, as sent.
func servedTools(t *testing.T, c *client.Client) []servedTool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.GetTransport().SendRequest(ctx, transport.JSONRPCRequest{
		JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId("raw-tools-list"), Method: string(mcp.MethodToolsList),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("tools/list: %+v", res.Error)
	}
	var list struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(res.Result, &list); err != nil {
		t.Fatalf("tools/list answer: %v", err)
	}
	var out []servedTool
	for _, raw := range list.Tools {
		var tool struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &tool); err != nil {
			t.Fatal(err)
		}
		out = append(out, servedTool{name: tool.Name, raw: raw})
	}
	return out
}

// checkSnapshot compares tool with testdata/<name>.json, or writes it there
// with -update.
func checkSnapshot(t *testing.T, tool servedTool, protocol string) {
	t.Helper()
	var gotValue any
	if err := json.Unmarshal(tool.raw, &gotValue); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", tool.name+".json")
	if *update {
		got, err := json.MarshalIndent(gotValue, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: no snapshot (%v); run go test ./tools -run Snapshot -update and review it", tool.name, err)
	}
	var wantValue any
	if err := json.Unmarshal(raw, &wantValue); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := cmp.Diff(wantValue, gotValue); diff != "" {
		t.Errorf("%s changed (protocol %s; -snapshot +served); if intended, run go test ./tools -run Snapshot -update and review:\n%s", tool.name, protocol, diff)
	}
}

// snapshotNames lists the snapshotted tools, sorted as tools/list sorts
// them: all, or those annotated read-only.
func snapshotNames(t *testing.T, readOnly bool) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*_vector_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		var tool mcp.Tool
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &tool); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if ro := tool.Annotations.ReadOnlyHint; readOnly && (ro == nil || !*ro) {
			continue
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// TestAnnotations pins every tool's four hints: mcp-go would otherwise call
// every tool destructive and open-world.
func TestAnnotations(t *testing.T) {
	want := map[string][4]bool{ // readOnly, destructive, idempotent, openWorld
		"list_vector_backups":   {true, false, true, false},
		"inspect_vector_backup": {true, false, true, false},
		"restore_vector_backup": {false, true, false, false},
		"create_vector_backup":  {false, false, false, false},
	}
	c := connect(t, newProject(t), serverConfig{}, protocols[0])
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != len(want) {
		t.Fatalf("%d tools, want %d", len(res.Tools), len(want))
	}
	for _, tool := range res.Tools {
		a := tool.Annotations
		if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Fatalf("%s: a hint is unset: %+v", tool.Name, a)
		}
		got := [4]bool{*a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint}
		if got != want[tool.Name] {
			t.Errorf("%s: hints %v, want %v", tool.Name, got, want[tool.Name])
		}
	}
}

func TestReadOnlyServesNoRestore(t *testing.T) {
	c := connect(t, newProject(t), serverConfig{readOnly: true}, protocols[0])
	req := mcp.CallToolRequest{}
	req.Params.Name = "restore_vector_backup"
	req.Params.Arguments = map[string]any{"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "latest"}
	res, err := c.CallTool(context.Background(), req)
	if err == nil && !res.IsError {
		t.Fatal("read-only server ran restore_vector_backup")
	}
}

// TestListAndRestore drives the server as an agent would, in both protocol
// eras: list the backups, restore one, and compare every row with the source.
func TestListAndRestore(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			p := pgtest.NewProject(t, pgtest.ProjectOptions{Dim: 12})
			db := p.DB
			old := sample.Generate(10, []string{"sql", "ddl"}, 5, 12)
			want := sample.Generate(11, []string{"sql", "ddl", "documentation", "error_sql"}, 25, 12)
			p.Write(t, old, "vector_bak", "20250720_080000")
			p.Write(t, old, "global_vector_bak", "20250722_010318")
			p.Write(t, want, "task_20250721_213627/vector_bak", "20250721_215758")
			p.Write(t, old, "manual_20250722_101500/vector_bak", "20250722_101500")
			// A half-written set must be listed as incomplete, not hidden.
			if err := os.WriteFile(filepath.Join(p.Backups, "global_vector_bak", "langchain_pg_embedding_20250723_000000.csv.tmp"), []byte("id\r\n"), 0o644); err != nil {
				t.Fatal(err)
			}

			c := connect(t, p, serverConfig{db: db}, protocol)
			schemasByTool := outputSchemas(t, c)

			res, list := call(t, c, "list_vector_backups", map[string]any{})
			if res.IsError {
				t.Fatalf("list failed: %s", text(res))
			}
			validate(t, schemasByTool["list_vector_backups"], list)
			summary := list["summary"].(map[string]any)
			if summary["total_backup_sets"] != 4.0 || summary["global_backups"] != 2.0 || summary["task_backups"] != 2.0 {
				t.Errorf("summary %v", summary)
			}
			var paths []string
			for _, l := range list["backup_locations"].([]any) {
				paths = append(paths, l.(map[string]any)["relative_path"].(string))
			}
			// Locations in the order of their newest set: sets newest first
			// across all locations.
			wantPaths := []string{
				"./data_pipeline/training_data/manual_20250722_101500/vector_bak",
				"./data_pipeline/training_data/global_vector_bak",
				"./data_pipeline/training_data/task_20250721_213627/vector_bak",
				"./data_pipeline/training_data/vector_bak",
			}
			if strings.Join(paths, " ") != strings.Join(wantPaths, " ") {
				t.Errorf("locations\n got %v\nwant %v", paths, wantPaths)
			}
			if inc := list["incomplete"].([]any); len(inc) != 1 {
				t.Errorf("incomplete %v, want the .tmp set", inc)
			}
			if !strings.Contains(text(res), "timestamp=20250721_215758") {
				t.Errorf("summary text lacks the sets:\n%s", text(res))
			}

			// Page through one set at a time: the same four sets in order.
			var paged []string
			cursor := ""
			for range 10 {
				args := map[string]any{"limit": 1}
				if cursor != "" {
					args["cursor"] = cursor
				}
				_, page := call(t, c, "list_vector_backups", args)
				for _, l := range page["backup_locations"].([]any) {
					for _, b := range l.(map[string]any)["backups"].([]any) {
						paged = append(paged, b.(map[string]any)["timestamp"].(string))
					}
				}
				next, _ := page["next_cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			if got := strings.Join(paged, " "); got != "20250722_101500 20250722_010318 20250721_215758 20250720_080000" {
				t.Errorf("paged order %s", got)
			}

			// Restore the task's set over the older data, with progress.
			if _, r := call(t, c, "restore_vector_backup", map[string]any{
				"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250720_080000",
			}); r["restore_performed"] != true {
				t.Fatalf("seed restore: %v", r)
			}
			var mu sync.Mutex
			var progress []float64
			c.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == string(mcp.MethodNotificationProgress) {
					mu.Lock()
					progress = append(progress, n.Params.AdditionalFields["progress"].(float64))
					mu.Unlock()
				}
			})
			req := mcp.CallToolRequest{}
			req.Params.Name = "restore_vector_backup"
			req.Params.Arguments = map[string]any{
				"backup_path":             "./data_pipeline/training_data/task_20250721_213627/vector_bak",
				"timestamp":               "latest",
				"truncate_before_restore": true,
			}
			req.Params.Meta = &mcp.Meta{ProgressToken: "restore-1"}
			res, err := c.CallTool(context.Background(), req)
			if err != nil || res.IsError {
				t.Fatalf("restore: %v %s", err, text(res))
			}
			out := structured(t, res)
			validate(t, schemasByTool["restore_vector_backup"], out)
			pgtest.Compare(t, db, want, sample.Default)
			emb := out["restore_results"].(map[string]any)["langchain_pg_embedding"].(map[string]any)
			if emb["rows_restored"] != float64(len(want.Embeddings)) {
				t.Errorf("rows_restored %v, want %d", emb["rows_restored"], len(want.Embeddings))
			}
			trunc := out["truncate_results"].(map[string]any)["langchain_pg_embedding"].(map[string]any)
			if trunc["rows_before"] != float64(len(old.Embeddings)) || trunc["rows_after"] != 0.0 {
				t.Errorf("truncate_results %v", trunc)
			}
			if info := out["backup_info"].(map[string]any); info["timestamp"] != "20250721_215758" || info["backup_date"] != "2025-07-21 21:57:58" {
				t.Errorf("backup_info %v", info)
			}
			if snap, _ := out["snapshot"].(map[string]any); snap == nil || snap["undo"] == nil {
				t.Errorf("restore result without snapshot.undo: %v", out["snapshot"])
			}

			// Inspect, with a plan and a diff (the parts the output schema
			// defines once under $defs), and a new backup: each result
			// matches its output schema as a client compiles it.
			res, inspected := call(t, c, "inspect_vector_backup", map[string]any{
				"backup_path": "./data_pipeline/training_data/vector_bak", "timestamp": "20250720_080000",
				"truncate_before_restore": true, "diff": true,
			})
			if res.IsError {
				t.Fatalf("inspect: %s", text(res))
			}
			validate(t, schemasByTool["inspect_vector_backup"], inspected)
			for _, part := range []string{"target", "plan", "diff"} {
				if inspected[part] == nil {
					t.Errorf("inspect result without %s: %v", part, inspected)
				}
			}
			if diff, _ := inspected["diff"].(map[string]any); diff != nil {
				if cols, _ := diff["collections"].([]any); len(cols) == 0 {
					t.Errorf("inspect diff without collections: %v", diff)
				}
			}
			res, created := call(t, c, "create_vector_backup", map[string]any{})
			if res.IsError {
				t.Fatalf("create: %s", text(res))
			}
			validate(t, schemasByTool["create_vector_backup"], created)
			mu.Lock()
			defer mu.Unlock()
			if len(progress) == 0 {
				t.Errorf("no progress notifications for a call with a progress token")
			}
		})
	}
}

// outputSchemas compiles each tool's output schema as tools/list sends it,
// as official SDK clients do to check structured content (both branches:
// the result and the error object).
func outputSchemas(t *testing.T, c *client.Client) map[string]*jsonschema.Schema {
	t.Helper()
	out := map[string]*jsonschema.Schema{}
	for _, tool := range servedTools(t, c) {
		var def struct {
			OutputSchema json.RawMessage `json:"outputSchema"`
		}
		if err := json.Unmarshal(tool.raw, &def); err != nil {
			t.Fatal(err)
		}
		if len(def.OutputSchema) == 0 {
			t.Fatalf("%s has no output schema", tool.name)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(def.OutputSchema))
		if err != nil {
			t.Fatalf("%s output schema: %v", tool.name, err)
		}
		comp := jsonschema.NewCompiler()
		if err := comp.AddResource("mem:///"+tool.name, doc); err != nil {
			t.Fatal(err)
		}
		s, err := comp.Compile("mem:///" + tool.name)
		if err != nil {
			t.Fatalf("%s output schema: %v", tool.name, err)
		}
		out[tool.name] = s
	}
	return out
}

func validate(t *testing.T, s *jsonschema.Schema, content map[string]any) {
	t.Helper()
	b, _ := json.Marshal(content)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("structured content does not match the output schema: %v\n%s", err, b)
	}
}

// TestOutputSchemasBite: the output schemas a client compiles from
// tools/list accept the error object and reject what is neither a result
// nor an error, so that the tests validating results against them test
// something.
func TestOutputSchemasBite(t *testing.T) {
	c := connect(t, newProject(t), serverConfig{}, protocols[0])
	for name, s := range outputSchemas(t, c) {
		for _, tc := range []struct {
			content string
			valid   bool
		}{
			{`{"error_type": "INVALID_PARAMS", "message": "argument limit: want at most 1000", "param": "limit"}`, true},
			{`{"error_type": "NO_SUCH_TYPE", "message": "x"}`, false},
			{`{"message": "x"}`, false},
			{`{}`, false},
			{`{"nonsense": 1}`, false},
		} {
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(v); (err == nil) != tc.valid {
				t.Errorf("%s: %s: valid=%v, want %v (%v)", name, tc.content, err == nil, tc.valid, err)
			}
		}
	}
	_, list := call(t, c, "list_vector_backups", map[string]any{})
	validate(t, outputSchemas(t, c)["list_vector_backups"], list)
	list["summary"].(map[string]any)["total_locations"] = "four"
	b, _ := json.Marshal(list)
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err := outputSchemas(t, c)["list_vector_backups"].Validate(v); err == nil {
		t.Errorf("a list result with a string count passed the output schema")
	}
}
