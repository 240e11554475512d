package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/catalog"
	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// BackupRoot is where the pipeline keeps its backups, relative to the
// project root: the server's default backup root.
const BackupRoot = "data_pipeline/training_data"

// Project is the fixture the service, tool, HTTP and command-line tests
// start from: a project root with a backup root to write sets into, and
// (unless asked otherwise) a fresh database with a layout's tables.
type Project struct {
	// Root is the project root, its symlinks resolved, so that paths the
	// catalog returns compare equal to the ones a test builds.
	Root string
	// Backups is the backup root: Root/BackupRoot unless the options say
	// otherwise.
	Backups string
	// Layout is the layout of the tables and of the sets Write writes.
	Layout sample.Layout
	// DB is the database's URL; "" when the project has none.
	DB string

	rel string // the backup root relative to Root, as catalog.New takes it
}

// ProjectOptions configure NewProject. The zero value is a project with the
// default backup root, sample.Default's layout, and no database.
type ProjectOptions struct {
	// Layout of the tables and sets; sample.Default when its Name is "".
	Layout sample.Layout
	// Dim, when positive, gives the project a fresh database (NewDatabase)
	// holding Layout's tables with vectors of Dim dimensions.
	Dim int
	// DB, when set, is the project's database as it is (no tables are
	// created), instead of a fresh one.
	DB string
	// BackupRoot is the backup root relative to Root: BackupRoot when "",
	// Root itself when ".".
	BackupRoot string
}

// NewProject makes a project in a temporary directory removed when the test
// ends; its backup root exists, empty.
func NewProject(t testing.TB, o ProjectOptions) *Project {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := &Project{Root: root, Layout: o.Layout, DB: o.DB, rel: o.BackupRoot}
	if p.Layout.Name == "" {
		p.Layout = sample.Default
	}
	if p.rel == "" {
		p.rel = BackupRoot
	}
	p.Backups = filepath.Join(root, filepath.FromSlash(p.rel))
	if err := os.MkdirAll(p.Backups, 0o755); err != nil {
		t.Fatal(err)
	}
	if p.DB == "" && o.Dim > 0 {
		p.DB = NewDatabase(t)
		Exec(t, p.DB, p.Layout.DDL(o.Dim))
	}
	return p
}

// Path is dir in the backup root (dir as it is when absolute).
func (p *Project) Path(dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(p.Backups, filepath.FromSlash(dir))
}

// Write writes d as a set of the old pipeline's, stamped ts, in dir
// (relative to the backup root, or absolute).
func (p *Project) Write(t testing.TB, d *sample.Dataset, dir, ts string) {
	t.Helper()
	if err := d.WriteLegacy(p.Path(dir), ts, p.Layout); err != nil {
		t.Fatal(err)
	}
}

// Catalog is a catalog of the project's backup root, as the server opens
// it.
func (p *Project) Catalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.New(p.Root, p.rel)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// Find returns the set stamped ts in dir (relative to the backup root, or
// absolute) as the catalog finds it.
func (p *Project) Find(t testing.TB, dir, ts string) catalog.Set {
	t.Helper()
	cat := p.Catalog(t)
	set, err := cat.FindSet(context.Background(), Key(t, cat, p.Path(dir)), ts)
	if err != nil {
		t.Fatalf("FindSet(%s, %s): %v", p.Path(dir), ts, err)
	}
	return set
}

// Legacy writes d as a legacy set (Write) and returns it as the catalog
// finds it.
func (p *Project) Legacy(t testing.TB, d *sample.Dataset, dir, ts string) catalog.Set {
	t.Helper()
	p.Write(t, d, dir, ts)
	return p.Find(t, dir, ts)
}

// Seed makes the project's tables hold exactly d, the way users load them:
// a truncating restore of a legacy set of d, written stamped ts in dir.
func (p *Project) Seed(t testing.TB, d *sample.Dataset, dir, ts string) {
	t.Helper()
	Seed(t, p.DB, p.Legacy(t, d, dir, ts))
}
