package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vectorops/pgvector-backup-mcp/sample"
)

// genVersion changes when this file changes what it writes, so cached data
// is regenerated.
const genVersion = 1

// The set's place and name, as the old pipeline named them.
const (
	setTimestamp = "20250721_215758"
	taskFolder   = "task_20250721_213627"
)

// collectionNames are vanna's collections, then more if asked for.
var collectionNames = []string{"sql", "ddl", "documentation", "error_sql", "extra_4", "extra_5", "extra_6", "extra_7"}

// benchLayout is langchain_postgres 0.0.13's schema: vector(n), JSONB
// cmetadata with a GIN index, and the extra unique index on id.
var benchLayout = sample.Layouts[1]

// dataset is the generated data: the truth in memory and its files on disk.
type dataset struct {
	truth  *sample.Dataset
	layout sample.Layout

	root        string // the data of this N x D
	projectRoot string // --project-root
	backupRoot  string // --backup-root: projectRoot/data_pipeline/training_data
	setDir      string // --backup-path (absolute)
	snapshotDir string // where restores save their snapshots

	legacyColl, legacyEmb string // the legacy set's two files
	twinColl, twinEmb     string // the same rows, metadata as JSON, for psql \copy
	binaryEmb             string // the embeddings as a binary COPY file

	legacyBytes, twinBytes, binaryBytes int64
}

// genParams identify generated data; a cached copy is used only when they
// match.
type genParams struct {
	Version     int    `json:"version"`
	Rows        int    `json:"rows"`
	Dims        int    `json:"dims"`
	Collections int    `json:"collections"`
	Seed        uint64 `json:"seed"`
	Layout      string `json:"layout"`
	Timestamp   string `json:"timestamp"`
	Generator   string `json:"generator"` // SHA-256 of the sample package's source, when found
}

func prepareData(cfg *config) (*dataset, error) {
	root, err := filepath.Abs(filepath.Join(cfg.dataDir, "sets", fmt.Sprintf("%dx%d", cfg.rows, cfg.dims)))
	if err != nil {
		return nil, err
	}
	ds := &dataset{
		truth:       sample.Generate(cfg.seed, collectionNames[:cfg.collections], cfg.rows/cfg.collections, cfg.dims),
		layout:      benchLayout,
		root:        root,
		projectRoot: filepath.Join(root, "project"),
	}
	ds.backupRoot = filepath.Join(ds.projectRoot, "data_pipeline", "training_data")
	ds.setDir = filepath.Join(ds.backupRoot, taskFolder, "vector_bak")
	ds.snapshotDir = filepath.Join(ds.backupRoot, "global_vector_bak")
	ds.legacyColl = filepath.Join(ds.setDir, "langchain_pg_collection_"+setTimestamp+".csv")
	ds.legacyEmb = filepath.Join(ds.setDir, "langchain_pg_embedding_"+setTimestamp+".csv")
	ds.twinColl = filepath.Join(root, "twin", "langchain_pg_collection.csv")
	ds.twinEmb = filepath.Join(root, "twin", "langchain_pg_embedding.csv")
	ds.binaryEmb = filepath.Join(root, "binary", "langchain_pg_embedding.copy")

	params := genParams{
		Version: genVersion, Rows: cfg.rows, Dims: cfg.dims, Collections: cfg.collections,
		Seed: cfg.seed, Layout: ds.layout.Name, Timestamp: setTimestamp, Generator: generatorHash(),
	}
	marker := filepath.Join(root, "gen.json")
	var cached genParams
	if b, err := os.ReadFile(marker); err == nil && json.Unmarshal(b, &cached) == nil && cached == params {
		logf("reusing the generated files in %s", root)
	} else {
		logf("writing the legacy set, its JSON twin and the binary COPY file to %s", root)
		if err := os.RemoveAll(root); err != nil {
			return nil, err
		}
		if err := ds.truth.WriteLegacy(ds.setDir, setTimestamp, ds.layout); err != nil {
			return nil, fmt.Errorf("legacy set: %w", err)
		}
		if err := ds.writeTwin(); err != nil {
			return nil, fmt.Errorf("JSON twin: %w", err)
		}
		if err := ds.writeBinary(); err != nil {
			return nil, fmt.Errorf("binary COPY file: %w", err)
		}
		// Last: the marker says the files are complete.
		if err := writeJSON(marker, params); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		n     *int64
		paths []string
	}{
		{&ds.legacyBytes, []string{ds.legacyColl, ds.legacyEmb}},
		{&ds.twinBytes, []string{ds.twinColl, ds.twinEmb}},
		{&ds.binaryBytes, []string{ds.binaryEmb}},
	} {
		for _, p := range f.paths {
			st, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("%w (delete %s to regenerate)", err, root)
			}
			*f.n += st.Size()
		}
	}
	return ds, nil
}

// generatorHash fingerprints the sample package's source (found from the
// repository root, where bench runs), so a changed generator regenerates.
func generatorHash() string {
	files, _ := filepath.Glob(filepath.Join("sample", "*.go"))
	if len(files) == 0 {
		return ""
	}
	slices.Sort(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeTwin writes the set's rows as CSV that COPY (FORMAT csv, HEADER)
// loads: metadata as JSON text, NULL as an unquoted empty field, empty text
// as "".
func (ds *dataset) writeTwin() error {
	d := ds.truth
	err := writeCSVFile(ds.twinColl, ds.layout.CollectionColumns(), len(d.Collections), func(i int, col string) *string {
		c := d.Collections[i]
		switch col {
		case "uuid":
			return &c.UUID
		case "name":
			return &c.Name
		case "cmetadata":
			return jsonText(c.Metadata)
		}
		panic("unknown collection column " + col)
	})
	if err != nil {
		return err
	}
	return writeCSVFile(ds.twinEmb, ds.layout.EmbeddingColumns(), len(d.Embeddings), func(i int, col string) *string {
		e := &d.Embeddings[i]
		switch col {
		case "id":
			return &e.ID
		case "collection_id":
			return &e.CollectionID
		case "embedding":
			s := sample.VectorText(e.Vector)
			return &s
		case "document":
			return e.Document
		case "cmetadata":
			return jsonText(e.Metadata)
		}
		panic("unknown embedding column " + col)
	})
}

// jsonText is v's JSON, nil for NULL.
func jsonText(v sample.Value) *string {
	j := sample.JSON(v)
	if j == nil {
		return nil
	}
	s := string(j)
	return &s
}

func writeCSVFile(path string, cols []string, n int, field func(i int, col string) *string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rec := make([]*string, len(cols))
	for j := range cols {
		rec[j] = &cols[j]
	}
	w.Write(appendCSVRow(nil, rec))
	var row []byte
	for i := 0; i < n; i++ {
		for j, c := range cols {
			rec[j] = field(i, c)
		}
		row = appendCSVRow(row[:0], rec)
		w.Write(row)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// appendCSVRow appends one row in COPY's CSV format: nil (NULL) as nothing,
// a field quoted when it is empty or holds a delimiter, quote, CR, LF or
// backslash (so no line is ever a bare \.), quotes doubled; LF row end.
func appendCSVRow(b []byte, fields []*string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if f == nil {
			continue
		}
		if *f == "" || strings.ContainsAny(*f, ",\"\r\n\\") {
			b = append(b, '"')
			b = append(b, strings.ReplaceAll(*f, `"`, `""`)...)
			b = append(b, '"')
		} else {
			b = append(b, *f...)
		}
	}
	return append(b, '\n')
}

// writeBinary writes the embedding rows as a PostgreSQL binary COPY file,
// columns in table order: varchar as UTF-8, uuid as 16 bytes, pgvector's
// vector as int16 dimensions, int16 0 and big-endian float4s, jsonb as
// version 1 and the JSON text.
func (ds *dataset) writeBinary() error {
	cols := ds.layout.EmbeddingColumns()
	if !slices.Equal(cols, []string{"id", "collection_id", "embedding", "document", "cmetadata"}) {
		return fmt.Errorf("binary writer knows langchain_postgres's columns, not %v", cols)
	}
	if err := os.MkdirAll(filepath.Dir(ds.binaryEmb), 0o755); err != nil {
		return err
	}
	f, err := os.Create(ds.binaryEmb)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("PGCOPY\n\xff\r\n\x00")
	var buf []byte
	buf = binary.BigEndian.AppendUint32(buf, 0) // flags
	buf = binary.BigEndian.AppendUint32(buf, 0) // header extension length
	w.Write(buf)
	for i := range ds.truth.Embeddings {
		e := &ds.truth.Embeddings[i]
		buf = binary.BigEndian.AppendUint16(buf[:0], uint16(len(cols)))
		buf = appendField(buf, []byte(e.ID))
		u, err := parseUUID(e.CollectionID)
		if err != nil {
			return err
		}
		buf = appendField(buf, u[:])
		buf = binary.BigEndian.AppendUint32(buf, uint32(4+4*len(e.Vector)))
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(e.Vector)))
		buf = binary.BigEndian.AppendUint16(buf, 0)
		for _, x := range e.Vector {
			buf = binary.BigEndian.AppendUint32(buf, math.Float32bits(x))
		}
		if e.Document == nil {
			buf = appendNull(buf)
		} else {
			buf = appendField(buf, []byte(*e.Document))
		}
		if j := sample.JSON(e.Metadata); j == nil {
			buf = appendNull(buf)
		} else {
			buf = appendField(buf, append([]byte{1}, j...))
		}
		w.Write(buf)
	}
	w.Write([]byte{0xff, 0xff}) // trailer: int16 -1
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func appendField(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, math.MaxUint32) }

func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("bad uuid %q", s)
	}
	_, err := hex.Decode(u[:], []byte(h))
	return u, err
}

// listTree makes (once) a backup root of folders x perFolder tiny sets for
// the list measurement: task_<n>/vector_bak folders, each set two small
// legacy CSV files, each folder the pipeline's log of its last set.
func listTree(dataDir string, folders, perFolder int) (projectRoot string, err error) {
	root, err := filepath.Abs(filepath.Join(dataDir, "listtree", fmt.Sprintf("%dx%d", folders, perFolder)))
	if err != nil {
		return "", err
	}
	projectRoot = filepath.Join(root, "project")
	marker := filepath.Join(root, "tree.json")
	type treeParams struct {
		Version, Folders, PerFolder int
		Generator                   string
	}
	want := treeParams{genVersion, folders, perFolder, generatorHash()}
	var have treeParams
	if b, err := os.ReadFile(marker); err == nil && json.Unmarshal(b, &have) == nil && have == want {
		return projectRoot, nil
	}
	logf("writing %d sets in %d folders to %s", folders*perFolder, folders, root)
	if err := os.RemoveAll(root); err != nil {
		return "", err
	}
	tiny := sample.Generate(7, []string{"sql", "ddl"}, 2, 8)
	backups := filepath.Join(projectRoot, "data_pipeline", "training_data")
	for f := range folders {
		dir := filepath.Join(backups, fmt.Sprintf("task_2025%04d_000000", f), "vector_bak")
		for s := range perFolder {
			ts := fmt.Sprintf("2025%02d%02d_%02d%02d%02d", 1+f%12, 1+f%28, s, f/60%60, f%60)
			if err := tiny.WriteLegacy(dir, ts, benchLayout); err != nil {
				return "", err
			}
		}
	}
	return projectRoot, writeJSON(marker, want)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
