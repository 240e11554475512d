package archtest

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vectorops/pgvector-backup-mcp/"

// TestLayoutTableOrdersImports reads the layout table of
// docs/architecture.md and checks that it names every package of the module
// (test helpers in the second table) and that each package of the first
// table imports only packages listed below it.
func TestLayoutTableOrdersImports(t *testing.T) {
	root := filepath.Join("..", "..")
	flow, beside := layoutTables(t, filepath.Join(root, "docs", "architecture.md"))
	if len(flow) < 10 {
		t.Fatalf("found %d packages in the layout table; has its form changed?", len(flow))
	}

	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				imports[name] = append(imports[name], strings.TrimPrefix(imp, module))
			}
		}
		if _, ok := imports[name]; !ok {
			imports[name] = nil
		}
	}

	for name := range imports {
		if !slices.Contains(flow, name) && !slices.Contains(beside, name) {
			t.Errorf("package %s is not in docs/architecture.md's layout table", name)
		}
	}
	for _, name := range append(slices.Clone(flow), beside...) {
		if _, ok := imports[name]; !ok {
			t.Errorf("docs/architecture.md lists %s, which is not a package of the module", name)
		}
	}
	for i, name := range flow {
		for _, imp := range imports[name] {
			j := slices.Index(flow, imp)
			switch {
			case j < 0:
				t.Errorf("%s imports %s, which is not in the layout table's first part", name, imp)
			case j <= i:
				t.Errorf("%s imports %s, which the layout table lists above it: move %s below %s", name, imp, imp, name)
			}
		}
	}
}

// layoutTables returns the package names of the two tables under
// "## Layout", in order.
func layoutTables(t *testing.T, path string) (flow, beside []string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([^`]+)` \\|")
	var tables [][]string
	in, inTable := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Layout"
		case !in:
		case strings.HasPrefix(line, "| package |"):
			tables = append(tables, nil)
			inTable = true
		case inTable && row.MatchString(line):
			tables[len(tables)-1] = append(tables[len(tables)-1], row.FindStringSubmatch(line)[1])
		case !strings.HasPrefix(line, "|"):
			inTable = false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 {
		t.Fatalf("%s: want two tables under ## Layout, found %d", path, len(tables))
	}
	return tables[0], tables[1]
}
