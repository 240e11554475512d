package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// TestLoad sends 50 list requests and 8 truncating restores of different
// sets into one database at once, over HTTP. Every answer must be right:
// each list holds every set; the restores run one after the other (each
// truncated exactly the rows the previous one left), and the tables end
// holding the last one's set. Afterwards no goroutine is left behind.
func TestLoad(t *testing.T) {
	const lists, restores = 50, 8
	pgtest.URL(t)
	http.DefaultClient.CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	r := newRig(t, rigOptions{})
	// Set i has 4×(3+i) embeddings, so a row count tells which set it is.
	sets := make([]*sample.Dataset, restores+1)
	for i := range sets {
		sets[i] = sample.Generate(uint64(100+i), names, 3+i, dim)
		if err := sets[i].WriteLegacy(filepath.Join(r.backups, "load"), loadTS(i), sample.Default); err != nil {
			t.Fatal(err)
		}
	}
	// "load" holds no vector_bak: it is no location, so list's answer stays
	// the same while the restores write their snapshots into global_vector_bak.
	seed := r.call(t, "POST", restore, restoreBody("./data_pipeline/training_data/load", loadTS(0), `"truncate_before_restore": true`))
	seed.ok(t, "Vector表恢复完成")

	listAnswers := make([]answer, lists)
	restoreAnswers := make([]answer, restores+1)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	launch := func(fn func()) {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn()
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range lists {
		launch(func() { listAnswers[i] = r.callQuiet(ctx, list+"?task_id=task_20250721_213627", "") })
	}
	for i := 1; i <= restores; i++ {
		launch(func() {
			restoreAnswers[i] = r.callQuiet(ctx, restore, restoreBody("./data_pipeline/training_data/load", loadTS(i), `"truncate_before_restore": true`))
		})
	}
	ready.Wait()
	close(start)
	done.Wait()

	for i, a := range listAnswers {
		if a.status != 200 || a.data["response"] != "成功扫描到 1 个备份位置，共 1 个备份集" {
			t.Errorf("list %d: %d %s", i, a.status, a.raw)
		}
	}
	// Rebuild the commit order from what each restore truncated.
	embeddings := func(a answer) int {
		n, _ := strconv.Atoi(fmt.Sprint(a.data["truncate_results"].(map[string]any)["langchain_pg_embedding"].(map[string]any)["rows_before"]))
		return n
	}
	next := map[int]int{} // rows before → restore
	for i := 1; i <= restores; i++ {
		a := restoreAnswers[i]
		if a.status != 200 || a.data["response"] != "Vector表恢复完成" {
			t.Fatalf("restore %d: %d %s", i, a.status, a.raw)
		}
		n := embeddings(a)
		if j, ok := next[n]; ok {
			t.Fatalf("restores %d and %d both found %d embeddings: they overlapped", j, i, n)
		}
		next[n] = i
	}
	order := []int{0}
	for len(order) <= restores {
		prev := order[len(order)-1]
		i, ok := next[len(sets[prev].Embeddings)]
		if !ok {
			t.Fatalf("no restore truncated the %d embeddings set %d left (order so far %v)", len(sets[prev].Embeddings), prev, order)
		}
		order = append(order, i)
	}
	t.Logf("commit order %v", order[1:])
	pgtest.Compare(t, r.db, sets[order[restores]], sample.Default)

	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	if got, stacks := goroutines(baseline); stacks != "" {
		t.Errorf("%d goroutines after the server stopped, %d before it started:\n%s", got, baseline, stacks)
	}
}

func loadTS(i int) string { return fmt.Sprintf("20250801_0000%02d", i) }
