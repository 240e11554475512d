package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// bucketListResult is list over the 10,000-set tree, from the folder and
// from the bucket, through the CLI (a new process each time) and through
// the MCP list tool of one running server.
type bucketListResult struct {
	Sets      int          `json:"sets"`
	Locations int          `json:"locations"`
	Objects   int          `json:"objects"`
	UploadS   float64      `json:"upload_s"`
	CLI       []listTiming `json:"cli"`
	Tool      []toolTiming `json:"tool"`
}

// toolTiming is a running server's answers to tools/call
// list_vector_backups with no arguments (the first page, default limit).
type toolTiming struct {
	Name     string    `json:"name"`
	StartMS  float64   `json:"start_ms"` // the process's start to its answer to initialize
	FirstMS  float64   `json:"first_call_ms"`
	Calls    []float64 `json:"later_calls_ms"`
	MedianMS float64   `json:"median_later_ms"`
	MinMS    float64   `json:"min_later_ms"`
	MaxMS    float64   `json:"max_later_ms"`
}

const listToolName = "list_vector_backups"

func (b *bencher) bucketList(ctx context.Context, env *bucketEnv, proxy *countingProxy, res *bucketResult) (*bucketListResult, error) {
	project, err := listTree(b.cfg.dataDir, listFolders, listPerFolder)
	if err != nil {
		return nil, err
	}
	local := filepath.Join(project, "data_pipeline", "training_data")
	out := &bucketListResult{Sets: listFolders * listPerFolder, Locations: listFolders}
	const prefix = "listtree"
	t0 := time.Now()
	n, _, err := upload(ctx, env, prefix, local, "", 16)
	if err != nil {
		return nil, err
	}
	out.Objects, out.UploadS = n, time.Since(t0).Seconds()
	logf("bucket: uploaded the list tree (%d objects) to s3://%s/%s in %.1f s", n, env.bucket, prefix, out.UploadS)

	roots := []struct{ name, root string }{{"folder", local}, {"bucket", env.url(env.endpoint, prefix)}}
	for _, r := range roots {
		for _, c := range []struct {
			name  string
			extra []string
		}{{"first page (default limit)", nil}, {"page of 1,000 (--limit 1000)", []string{"--limit", "1000"}}} {
			args := append([]string{"list", "--project-root", project, "--backup-root", r.root, "--json"}, c.extra...)
			t, err := b.timeList(ctx, r.name+": "+c.name, args, fmt.Sprintf("bucket-list-%s-%d", r.name, len(c.extra)), out)
			if err != nil {
				return nil, err
			}
			t.Args = nil // the URL is this run's only
			out.CLI = append(out.CLI, t)
		}
		t, err := b.timeTool(ctx, r.name, []string{"--project-root", project, "--backup-root", r.root}, b.cfg.listRuns, nil)
		if err != nil {
			return nil, err
		}
		out.Tool = append(out.Tool, t)
	}

	// The requests of each, through the counting proxy.
	proxied := env.url(proxy.endpoint, prefix)
	proxy.reset()
	ps, err := timed(ctx, b.cfg.timeout, filepath.Join(b.runsDir, "bucket-list-counted"), os.Environ(), b.cfg.binary,
		"list", "--project-root", project, "--backup-root", proxied, "--json")
	if err != nil {
		return nil, err
	}
	if ps.ExitCode != 0 {
		return nil, fmt.Errorf("list exited with status %d:\n%s", ps.ExitCode, tail(ps.Stderr))
	}
	res.Requests = append(res.Requests, newRequestCounts("mcp-server list (CLI), first page, 10,000 sets in 2,000 prefixes", proxy.reset()))
	var startup, call map[string]int
	if _, err := b.timeTool(ctx, "bucket (counted)", []string{"--project-root", project, "--backup-root", proxied}, 1, func(phase string) {
		switch phase {
		case "started":
			startup = proxy.reset()
		case "called":
			call = proxy.reset()
		}
	}); err != nil {
		return nil, err
	}
	res.Requests = append(res.Requests,
		newRequestCounts("MCP server start (stdio): its check of the bucket", startup),
		newRequestCounts("MCP list tool, first page (default limit), first call", call))
	for _, rc := range res.Requests[len(res.Requests)-3:] {
		logf("bucket: %s: %d requests: %s", rc.Name, rc.Total, rc)
	}
	return out, nil
}

// timeList times the list command: one warm-up run, then --list-runs runs.
func (b *bencher) timeList(ctx context.Context, name string, args []string, log string, want *bucketListResult) (listTiming, error) {
	t := listTiming{Name: name, Args: args[1:]}
	for i := 0; i <= b.cfg.listRuns; i++ {
		ps, err := timed(ctx, b.cfg.timeout, filepath.Join(b.runsDir, fmt.Sprintf("%s-%d", log, i)), os.Environ(), b.cfg.binary, args...)
		if err != nil {
			return t, err
		}
		if ps.ExitCode != 0 {
			return t, fmt.Errorf("list exited with status %d:\n%s%s", ps.ExitCode, tail(ps.Stdout), tail(ps.Stderr))
		}
		if err := checkListSummary(ps.Stdout, want.Sets, want.Locations); err != nil {
			return t, err
		}
		if i == 0 {
			continue
		}
		t.Runs = append(t.Runs, ps.WallS)
		t.PeakRSSMiB = max(t.PeakRSSMiB, float64(ps.MaxRSSKiB)/1024)
		t.Bytes = len(ps.Stdout)
	}
	t.MedianS, t.MinS, t.MaxS = median(t.Runs), slices.Min(t.Runs), slices.Max(t.Runs)
	logf("list, %s: median %.0f ms (%.0f-%.0f)", name, t.MedianS*1000, t.MinS*1000, t.MaxS*1000)
	return t, nil
}

func checkListSummary(answer []byte, sets, locations int) error {
	var out struct {
		Summary struct {
			TotalBackupSets int `json:"total_backup_sets"`
			TotalLocations  int `json:"total_locations"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return fmt.Errorf("list printed no result JSON: %w", err)
	}
	if out.Summary.TotalBackupSets != sets || out.Summary.TotalLocations != locations {
		return fmt.Errorf("list counts %d sets in %d locations, want %d in %d", out.Summary.TotalBackupSets, out.Summary.TotalLocations, sets, locations)
	}
	return nil
}

// timeTool starts `mcp-server serve --read-only` on stdio with rootArgs,
// initializes it, and calls the list tool with no arguments calls+1 times,
// timing each call (the first separately). phase, when given, is told
// "started" after the answer to initialize and "called" after the first
// call.
func (b *bencher) timeTool(ctx context.Context, name string, rootArgs []string, calls int, phase func(string)) (toolTiming, error) {
	t := toolTiming{Name: name}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	args := append([]string{"serve", "--read-only", "--database-url", b.db.url}, rootArgs...)
	cmd := exec.CommandContext(ctx, b.cfg.binary, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return t, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return t, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return t, err
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	rd := bufio.NewReaderSize(stdout, 1<<20)
	id := 0
	call := func(method string, params any) (json.RawMessage, error) {
		id++
		req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		if _, err := stdin.Write(append(req, '\n')); err != nil {
			return nil, fmt.Errorf("%s: %w (stderr: %s)", method, err, stderr.String())
		}
		for {
			line, err := rd.ReadBytes('\n')
			if err != nil {
				if err == io.EOF {
					err = fmt.Errorf("the server ended (stderr: %s)", stderr.String())
				}
				return nil, fmt.Errorf("%s: %w", method, err)
			}
			var msg struct {
				ID     *int            `json:"id"`
				Result json.RawMessage `json:"result"`
				Error  json.RawMessage `json:"error"`
			}
			if json.Unmarshal(line, &msg) != nil || msg.ID == nil || *msg.ID != id {
				continue // a notification
			}
			if len(msg.Error) > 0 {
				return nil, fmt.Errorf("%s: %s", method, msg.Error)
			}
			return msg.Result, nil
		}
	}
	if _, err := call("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "bench", "version": "1"}}); err != nil {
		return t, err
	}
	t.StartMS = msSince(start)
	if _, err := stdin.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")); err != nil {
		return t, err
	}
	if phase != nil {
		phase("started")
	}
	for i := 0; i <= calls; i++ {
		t0 := time.Now()
		res, err := call("tools/call", map[string]any{"name": listToolName, "arguments": map[string]any{}})
		ms := msSince(t0)
		if err != nil {
			return t, err
		}
		if err := checkToolList(res); err != nil {
			return t, err
		}
		if i == 0 {
			t.FirstMS = ms
			if phase != nil {
				phase("called")
				return t, nil
			}
			continue
		}
		t.Calls = append(t.Calls, ms)
	}
	t.MedianMS, t.MinMS, t.MaxMS = median(t.Calls), slices.Min(t.Calls), slices.Max(t.Calls)
	logf("list tool, %s: server answered initialize in %.0f ms; first call %.0f ms, later calls median %.0f ms (%.0f-%.0f)",
		name, t.StartMS, t.FirstMS, t.MedianMS, t.MinMS, t.MaxMS)
	return t, nil
}

// checkToolList checks a tools/call answer of the list tool: no error, and
// the summary counts the whole tree.
func checkToolList(res json.RawMessage) error {
	var r struct {
		IsError           bool            `json:"isError"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		Content           []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.IsError {
		return fmt.Errorf("the list tool answered an error: %.2000s", res)
	}
	body := []byte(r.StructuredContent)
	if len(body) == 0 && len(r.Content) > 0 {
		body = []byte(r.Content[0].Text)
	}
	return checkListSummary(body, listFolders*listPerFolder, listFolders)
}
