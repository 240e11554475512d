package backupfile_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/backupfile"
)

// maxPeakRSS is what reading any one hostile file may cost the process at
// its peak, the test binary's own few MB included.
const maxPeakRSS = 160 << 20

// hostileFiles are files built to make a reader hold as much memory as
// possible, each with what reading it must report: the reason of its first
// row error, and the error that ends it (both empty: read to its end).
var hostileFiles = []struct {
	name     string
	write    func(w *bufio.Writer)
	rowError string
	endError string
	line     int
}{
	{
		name:     "one row of 23 fields of 15 MiB",
		write:    func(w *bufio.Writer) { wideRow(w, 23, 15<<20) },
		endError: "line 2: record is over the 32 MiB limit for one row", line: 2,
	},
	{
		name:     "one row of 63 fields of 15 MiB",
		write:    func(w *bufio.Writer) { wideRow(w, 63, 15<<20) },
		endError: "line 2: record is over the 32 MiB limit for one row", line: 2,
	},
	{
		name:     "one row of a million fields",
		write:    func(w *bufio.Writer) { wideRow(w, 1_000_000, 1) },
		endError: "line 2: row has at least 6 fields, the header has 5", line: 2,
	},
	{
		name: "one quoted field of 100 MB",
		write: func(w *bufio.Writer) {
			w.WriteString(goodRow("1") + `2,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"[1,2,3]","`)
			repeat(w, "0123456789abcdef", 100_000_000)
			w.WriteString("\",{}\r\n" + goodRow("3"))
		},
		endError: "line 3, column document: field too long: over the 16 MiB limit for one field", line: 3,
	},
	{
		name:     "a 15 MB Python dict of 1.2 million keys",
		write:    func(w *bufio.Writer) { bigDict(w, "'%x': %d") },
		rowError: "JSON value over a limit: more than 100000 keys and items",
	},
	{
		name:     "a 15 MB JSON object of 1.2 million keys",
		write:    func(w *bufio.Writer) { bigDict(w, `""%x"": %d`) },
		rowError: "JSON value over a limit: more than 100000 keys and items",
	},
	{
		name:  "rows at the limits: 16 MiB document, 16 MiB dict",
		write: func(w *bufio.Writer) { maxRow(w, 4, "metadata") },
	},
	{
		name:     "a 32 MiB row whose dict's JSON form is 6 times as long",
		write:    func(w *bufio.Writer) { maxRow(w, 1, "\x01"); w.WriteString(goodRow("2")) },
		rowError: "JSON value over a limit: its JSON form would be longer than twice the value plus 64 bytes",
	},
	{
		name: "a vector of 8 million dimensions",
		write: func(w *bufio.Writer) {
			w.WriteString(`1,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"[`)
			repeat(w, "0,", 16<<20-8)
			w.WriteString("0]\",d,{}\r\n" + goodRow("2"))
		},
		rowError: "vector has more than pgvector's 16000 dimensions",
	},
	{
		name: "999 parentheses around a 15 MiB string",
		write: func(w *bufio.Writer) {
			w.WriteString(`1,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"[1,2,3]",d,"{'k': `)
			w.WriteString(strings.Repeat("(", 999) + "'")
			repeat(w, "x", 15<<20)
			w.WriteString("'" + strings.Repeat(")", 999) + "}\"\r\n")
		},
	},
}

// wideRow writes one row of n quoted fields of size bytes each.
func wideRow(w *bufio.Writer, n, size int) {
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('"')
		repeat(w, "x", size)
		w.WriteByte('"')
	}
	w.WriteString("\r\n")
}

// maxRow writes n rows as large as a row may be: 32 MiB less a few bytes,
// of which a 16 MiB dict of one string made of text.
func maxRow(w *bufio.Writer, n int, text string) {
	const prefix = `,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"[1,2,3]",`
	for i := range n {
		id := strconv.Itoa(i + 1)
		w.WriteString(id + prefix)
		repeat(w, "a document ", backupfile.MaxRecordBytes-backupfile.MaxFieldBytes-len(id)-len(prefix))
		w.WriteString(`,"{'k': '`)
		repeat(w, text, backupfile.MaxFieldBytes-len("{'k': ''}"))
		w.WriteString("'}\"\r\n")
	}
}

// bigDict writes a row whose metadata is a dict of 1.2 million keys, each
// entry written by format (in CSV quoting), then a good row.
func bigDict(w *bufio.Writer, format string) {
	w.WriteString(`1,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"[1,2,3]",d,"{`)
	for i := range 1_200_000 {
		if i > 0 {
			w.WriteString(", ")
		}
		fmt.Fprintf(w, format, i, i%10)
	}
	w.WriteString("}\"\r\n" + goodRow("2"))
}

// repeat writes n bytes of s over and over, without holding them.
func repeat(w *bufio.Writer, s string, n int) {
	chunk := bytes.Repeat([]byte(s), min(n, 64<<10)/len(s)+1)
	for n > 0 {
		k, _ := w.Write(chunk[:min(n, len(chunk))])
		n -= k
	}
}

// readResult is what a child process found reading one file.
type readResult struct {
	Records   int64   `json:"records"`
	RowErrors int     `json:"row_errors"`
	FirstRow  string  `json:"first_row_error"`
	EndError  string  `json:"end_error"`
	EndLine   any     `json:"end_line"`
	PeakRSS   int64   `json:"peak_rss"`
	Seconds   float64 `json:"seconds"`
}

const childEnv = "BACKUPFILE_HOSTILE_FILE"

// TestHostileMemory reads each hostile file through backupfile as inspect
// does (binary, as against a live table, and text), each in a process of
// its own so that its peak resident memory is its alone. Not parallel: the
// files take some disk and the children a core each.
func TestHostileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 1.5 GB of files")
	}
	if raceEnabled {
		t.Skip("the race detector's memory would be measured, not the reader's")
	}
	for _, hf := range hostileFiles {
		t.Run(hf.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "langchain_pg_embedding_20250721_215758.csv")
			writeStreamed(t, path, func(w *bufio.Writer) {
				w.WriteString(embeddingHeader)
				hf.write(w)
			})
			for _, mode := range []string{"binary", "text"} {
				res := readInChild(t, path, mode)
				t.Logf("%s: peak RSS %.1f MB in %.2fs; %d records, %d row errors; end: %s",
					mode, float64(res.PeakRSS)/(1<<20), res.Seconds, res.Records, res.RowErrors, orEOF(res.EndError))
				if res.PeakRSS > maxPeakRSS {
					t.Errorf("%s: peak RSS %.1f MB, want at most %d MB", mode, float64(res.PeakRSS)/(1<<20), maxPeakRSS>>20)
				}
				if !strings.Contains(res.FirstRow, hf.rowError) || (hf.rowError == "") != (res.RowErrors == 0) {
					t.Errorf("%s: %d row errors, the first %q, want %q", mode, res.RowErrors, res.FirstRow, hf.rowError)
				}
				if !strings.Contains(res.EndError, hf.endError) || (hf.endError == "") != (res.EndError == "") {
					t.Errorf("%s: ended with %q, want %q", mode, res.EndError, hf.endError)
				}
				if hf.line != 0 && res.EndLine != float64(hf.line) {
					t.Errorf("%s: error's line detail %v, want %d", mode, res.EndLine, hf.line)
				}
			}
		})
	}
}

func orEOF(s string) string {
	if s == "" {
		return "EOF"
	}
	return s
}

func writeStreamed(t *testing.T, path string, write func(w *bufio.Writer)) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	write(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readInChild runs TestHostileMemoryChild on path in a new process of this
// test binary, with the runtime's default memory settings.
func readInChild(t *testing.T, path, mode string) readResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileMemoryChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(withoutGCSettings(os.Environ()), childEnv+"="+mode+":"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	const marker = "HOSTILE-RESULT "
	for _, line := range strings.Split(stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, marker); ok {
			var res readResult
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatal(err)
			}
			return res
		}
	}
	t.Fatalf("child printed no result:\n%s%s", stdout.Bytes(), stderr.Bytes())
	return readResult{}
}

func withoutGCSettings(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, childEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestHostileMemoryChild is the child's side of TestHostileMemory: it reads
// the file named in its environment to the end as inspect does (going on
// past row errors, stopping at any other), then prints what it found and
// its peak resident memory.
func TestHostileMemoryChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("run by TestHostileMemory")
	}
	mode, path, _ := strings.Cut(spec, ":")
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res readResult
	r, err := backupfile.Open(context.Background(), object(t, f), embeddingColumns)
	if err == nil {
		if mode == "binary" {
			r.EncodeBinary()
		}
		for {
			_, err = r.Next()
			var re *backupfile.RowError
			if errors.As(err, &re) {
				if res.RowErrors++; res.RowErrors == 1 {
					res.FirstRow = re.Reason
				}
				continue
			}
			if err != nil {
				break
			}
		}
		res.Records = r.Records()
	}
	if err != nil && err != io.EOF {
		res.EndError = apierr.MessageOf(err)
		if e, ok := apierr.As(err); ok {
			res.EndLine = e.Details["line"]
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.PeakRSS = peakRSS(t)
	out, _ := json.Marshal(res)
	fmt.Printf("HOSTILE-RESULT %s\n", out)
}

// peakRSS is the process's peak resident set size (VmHWM), in bytes.
func peakRSS(t *testing.T) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("no /proc/self/status (this test runs on Linux): %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
