package csvstream_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vectorops/pgvector-backup-mcp/csvstream"
)

// null stands for a NULL field in expected records. A real value cannot
// contain NUL, so it cannot be confused with one.
const null = "\x00"

type record struct {
	line   int
	fields []string
}

func (r record) String() string { return fmt.Sprintf("line %d: %q", r.line, r.fields) }

// rec builds an expected record starting on line.
func rec(line int, fields ...string) record { return record{line, fields} }

// readers feeds each input both whole and one byte per Read, so that every
// look-ahead also runs across a buffer boundary.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
}

// readAll reads input to the first error, which it returns unless it is
// io.EOF.
func readAll(t testing.TB, r *csvstream.Reader) ([]record, error) {
	t.Helper()
	var got []record
	for {
		fields, err := r.Read()
		if err == io.EOF {
			if fields != nil {
				t.Errorf("Read at EOF returned fields %v", fields)
			}
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, record{r.Line(), strs(fields)})
	}
}

// strs renders fields with NULL as null.
func strs(fields []csvstream.Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		if f.IsNull() {
			out[i] = null
		} else {
			out[i] = string(f.Value)
		}
	}
	return out
}

func TestRead(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []record
	}{
		{"empty input", "", nil},
		{"LF", "id,name\n1,alice\n2,bob\n", []record{
			rec(1, "id", "name"), rec(2, "1", "alice"), rec(3, "2", "bob"),
		}},
		{"CRLF", "id,name\r\n1,alice\r\n2,bob\r\n", []record{
			rec(1, "id", "name"), rec(2, "1", "alice"), rec(3, "2", "bob"),
		}},
		{"lone CR ends a record", "a,b\rc,d\r", []record{
			rec(1, "a", "b"), rec(2, "c", "d"),
		}},
		{"quoted LF", "h,x\n\"a\nb\",1\nnext,2\n", []record{
			rec(1, "h", "x"), rec(2, "a\nb", "1"), rec(4, "next", "2"),
		}},
		{"quoted CRLF is one line", "\"a\r\nb\",1\r\nnext,2\r\n", []record{
			rec(1, "a\r\nb", "1"), rec(3, "next", "2"),
		}},
		{"quoted lone CR", "\"a\rb\",1\nnext\n", []record{
			rec(1, "a\rb", "1"), rec(3, "next"),
		}},
		{"quoted mixed breaks", "\"a\r\r\n\n\rb\"\nnext", []record{
			rec(1, "a\r\r\n\n\rb"), rec(6, "next"),
		}},
		{"quoted field ends in CR", "\"a\r\"\nnext\n", []record{
			rec(1, "a\r"), rec(3, "next"),
		}},
		{"commas and doubled quotes", `"a,b","say ""hi""",""""` + "\n", []record{
			rec(1, "a,b", `say "hi"`, `"`),
		}},
		{"JSON metadata", `1,"{""source"": ""a.pdf"", ""page"": 3}"` + "\r\n", []record{
			rec(1, "1", `{"source": "a.pdf", "page": 3}`),
		}},
		{"NULL and empty text", "1,,\"\",x\n", []record{
			rec(1, "1", null, "", "x"),
		}},
		{"trailing NULL", "a,\n", []record{rec(1, "a", null)}},
		{"trailing empty text", "a,\"\"\n", []record{rec(1, "a", "")}},
		{"only commas", ",,\n", []record{rec(1, null, null, null)}},
		{"quoted empty alone is not blank", "\"\"\n\"\"", []record{
			rec(1, ""), rec(2, ""),
		}},
		{"spaces are kept", " a , b \n \n", []record{
			rec(1, " a ", " b "), rec(2, " "),
		}},
		{"no final newline", "a,b\nc,d", []record{rec(1, "a", "b"), rec(2, "c", "d")}},
		{"no final newline after quote", "a\n\"c\nd\"", []record{rec(1, "a"), rec(2, "c\nd")}},
		{"no final newline after comma", "a,", []record{rec(1, "a", null)}},
		{"quoted field then lone CR at EOF", "\"a\"\r", []record{rec(1, "a")}},
		{"blank lines skipped but counted", "\n\na\n\r\n\rb\n\n", []record{
			rec(3, "a"), rec(6, "b"),
		}},
		{"only blank lines", "\r\n\n\r", nil},
		{"BOM", "\xef\xbb\xbfid,name\n1,x\n", []record{rec(1, "id", "name"), rec(2, "1", "x")}},
		{"only BOM", "\xef\xbb\xbf", nil},
		{"BOM then blank line", "\xef\xbb\xbf\na", []record{rec(2, "a")}},
		{"BOM later is data", "a\n\xef\xbb\xbfb\n", []record{rec(1, "a"), rec(2, "\xef\xbb\xbfb")}},
		{"partial BOM is data", "\xef\xbbx\n", []record{rec(1, "\xef\xbbx")}},
		{"backslash dot is data", "\\.\n\"\\.\"\n", []record{rec(1, `\.`), rec(2, `\.`)}},
		{"UTF-8", "\"héllo, wörld\",日本\n", []record{rec(1, "héllo, wörld", "日本")}},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := csvstream.NewReader(rd.wrap(strings.NewReader(tt.input)))
				got, err := readAll(t, r)
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if !equalRecords(got, tt.want) {
					t.Errorf("got  %v\nwant %v", got, tt.want)
				}
				if r.Offset() != int64(len(tt.input)) {
					t.Errorf("Offset at EOF = %d, want %d", r.Offset(), len(tt.input))
				}
			})
		}
	}
}

func equalRecords(a, b []record) bool {
	return slices.EqualFunc(a, b, func(x, y record) bool {
		return x.line == y.line && slices.Equal(x.fields, y.fields)
	})
}

func TestReadQuotedFlag(t *testing.T) {
	r := csvstream.NewReader(strings.NewReader(`a,"b",,"",` + "\n"))
	fields, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := []csvstream.Field{
		{Value: []byte("a")},
		{Value: []byte("b"), Quoted: true},
		{Value: []byte{}},
		{Value: []byte{}, Quoted: true},
		{Value: []byte{}},
	}
	if len(fields) != len(want) {
		t.Fatalf("got %d fields, want %d", len(fields), len(want))
	}
	for i, f := range fields {
		if !bytes.Equal(f.Value, want[i].Value) || f.Quoted != want[i].Quoted {
			t.Errorf("field %d = %q quoted=%v, want %q quoted=%v", i+1, f.Value, f.Quoted, want[i].Value, want[i].Quoted)
		}
	}
	if !fields[2].IsNull() || fields[3].IsNull() || fields[0].IsNull() {
		t.Errorf("IsNull wrong: %v %v %v", fields[0].IsNull(), fields[2].IsNull(), fields[3].IsNull())
	}
}

// Appending to one field's Value must not overwrite the next field, since
// all values share one buffer.
func TestReadValueCapacity(t *testing.T) {
	r := csvstream.NewReader(strings.NewReader("ab,cd\n"))
	fields, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	_ = append(fields[0].Value, 'X')
	if got := string(fields[1].Value); got != "cd" {
		t.Errorf("second field = %q after append to first, want %q", got, "cd")
	}
}

func TestReadOffset(t *testing.T) {
	input := "\xef\xbb\xbfab\r\n\r\n\"c\nd\",e\nf"
	wantOffsets := []int64{7, 17, 18}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			r := csvstream.NewReader(rd.wrap(strings.NewReader(input)))
			for i, want := range wantOffsets {
				if _, err := r.Read(); err != nil {
					t.Fatalf("record %d: %v", i+1, err)
				}
				if got := r.Offset(); got != want {
					t.Errorf("record %d: Offset = %d, want %d", i+1, got, want)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		maxFields int
		maxBytes  int
		want      []record // records read before the error
		line, col int
		err       error
		msg       string // substring of Error(), if set
	}{
		{name: "bare quote", input: `a"b`, line: 1, col: 1, err: csvstream.ErrBareQuote,
			msg: "line 1, field 1: bare quote in unquoted field"},
		{name: "bare quote later", input: "x\ny,a\"b\n", want: []record{rec(1, "x")},
			line: 2, col: 2, err: csvstream.ErrBareQuote},
		{name: "space before quote", input: `a, "b"`, line: 1, col: 2, err: csvstream.ErrBareQuote},
		{name: "bare quote after quoted newline", input: "\"a\nb\",c\"", line: 2, col: 2, err: csvstream.ErrBareQuote},
		{name: "text after closing quote", input: `"a"b`, line: 1, col: 1, err: csvstream.ErrQuote},
		{name: "text after closing quote on later line", input: "h\n\"a\nb\nc\"x,y\n", want: []record{rec(1, "h")},
			line: 4, col: 1, err: csvstream.ErrQuote},
		{name: "unescaped quote inside quotes", input: `1,"say "hi""`, line: 1, col: 2, err: csvstream.ErrQuote},
		{name: "quote not closed", input: "h\n1,\"abc\ndef\n", want: []record{rec(1, "h")},
			line: 2, col: 2, err: csvstream.ErrQuote, msg: "line 2, field 2: quoted field not closed at end of file"},
		{name: "lone quote", input: `"`, line: 1, col: 1, err: csvstream.ErrQuote},
		{name: "NUL unquoted", input: "a,b\x00", line: 1, col: 2, err: csvstream.ErrNUL},
		{name: "NUL quoted", input: "\"a\n\x00\"", line: 2, col: 1, err: csvstream.ErrNUL},
		{name: "NUL after closing quote", input: "\"a\"\x00", line: 1, col: 1, err: csvstream.ErrNUL},
		{name: "NUL at line start", input: "a\n\n\x00", want: []record{rec(1, "a")}, line: 3, col: 1, err: csvstream.ErrNUL},
		{name: "too many fields", input: "a,b,c\na,b,c,d\n", maxFields: 3, want: []record{rec(1, "a", "b", "c")},
			line: 2, col: 4, err: csvstream.ErrTooManyFields},
		{name: "too many NULL fields", input: ",,,", maxFields: 3, line: 1, col: 4, err: csvstream.ErrTooManyFields},
		{name: "field too long", input: "abcd,abcde\n", maxBytes: 4, line: 1, col: 2, err: csvstream.ErrFieldTooLong},
		{name: "quoted field too long", input: `"ab""cd"`, maxBytes: 4, line: 1, col: 1, err: csvstream.ErrFieldTooLong},
		{name: "long field reports its first line", input: "x\n\"ab\ncd\"", maxBytes: 4, want: []record{rec(1, "x")},
			line: 2, col: 1, err: csvstream.ErrFieldTooLong},
		{name: "CRLF counts toward the limit", input: "\"abc\r\n\"", maxBytes: 4, line: 1, col: 1, err: csvstream.ErrFieldTooLong},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := csvstream.NewReader(rd.wrap(strings.NewReader(tt.input)))
				r.MaxFields = tt.maxFields
				r.MaxFieldBytes = tt.maxBytes
				got, err := readAll(t, r)
				if !equalRecords(got, tt.want) {
					t.Errorf("records before error: got %v, want %v", got, tt.want)
				}
				var pe *csvstream.ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error = %v (%T), want *ParseError", err, err)
				}
				if pe.Line != tt.line || pe.Column != tt.col || !errors.Is(err, tt.err) {
					t.Errorf("error = %v, want line %d, field %d: %v", err, tt.line, tt.col, tt.err)
				}
				if tt.msg != "" && err.Error() != tt.msg {
					t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
				}
				if _, again := r.Read(); again != err {
					t.Errorf("second Read = %v, want the same error", again)
				}
			})
		}
	}
}

func TestReadIOError(t *testing.T) {
	errBoom := errors.New("boom")
	r := csvstream.NewReader(io.MultiReader(strings.NewReader("a,b\n\"c\n"), iotest.ErrReader(errBoom)))
	got, err := readAll(t, r)
	if want := []record{rec(1, "a", "b")}; !equalRecords(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if err != errBoom {
		t.Errorf("error = %v, want %v", err, errBoom)
	}
	if _, again := r.Read(); again != errBoom {
		t.Errorf("second Read = %v, want %v", again, errBoom)
	}
}

func TestReadLimitsAtBoundary(t *testing.T) {
	r := csvstream.NewReader(strings.NewReader(`abcd,"ab""c",,` + "\"a\r\nb\"\n"))
	r.MaxFieldBytes = 4
	r.MaxFields = 4
	fields, err := r.Read()
	if err != nil {
		t.Fatalf("fields exactly at the limits: %v", err)
	}
	if got, want := strs(fields), []string{"abcd", `ab"c`, null, "a\r\nb"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadDefaultMaxFields(t *testing.T) {
	for _, n := range []int{4096, 4097} {
		input := strings.Repeat("x,", n-1) + "x\n"
		r := csvstream.NewReader(strings.NewReader(input))
		fields, err := r.Read()
		switch {
		case n <= 4096 && (err != nil || len(fields) != n):
			t.Errorf("%d fields: got %d fields, error %v", n, len(fields), err)
		case n > 4096 && !errors.Is(err, csvstream.ErrTooManyFields):
			t.Errorf("%d fields: error = %v, want ErrTooManyFields", n, err)
		}
	}
}

// repeatReader yields n copies of c without holding them in memory.
type repeatReader struct {
	c byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	for i := range p {
		p[i] = r.c
	}
	r.n -= int64(len(p))
	return len(p), nil
}

func hugeFieldInput(size int64) io.Reader {
	return io.MultiReader(
		strings.NewReader("id,doc\n1,\""),
		&repeatReader{c: 'x', n: size},
		strings.NewReader("\"\n2,y\n"),
	)
}

func TestReadHugeFieldOverLimit(t *testing.T) {
	const size = 10 << 20
	r := csvstream.NewReader(hugeFieldInput(size))
	r.MaxFieldBytes = 1 << 20
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Read()
	var pe *csvstream.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, csvstream.ErrFieldTooLong) || pe.Line != 2 || pe.Column != 2 {
		t.Fatalf("error = %v, want line 2, field 2: field too long", err)
	}
	// Reader must stop at the limit rather than buffer the whole field.
	if r.Offset() > 1<<20+64<<10 {
		t.Errorf("consumed %d bytes before failing, want about 1 MiB", r.Offset())
	}
}

func TestReadHugeFieldUnderLimit(t *testing.T) {
	const size = 10 << 20
	r := csvstream.NewReader(hugeFieldInput(size))
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[1].fields[1]) != size || got[2].line != 3 || got[2].fields[1] != "y" {
		t.Errorf("got %d records, want 3 with a %d-byte field", len(got), size)
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name   string
		fields []csvstream.Field
		want   string
	}{
		{"plain", fields("1", "abc"), "1,abc\n"},
		{"NULL and empty text", []csvstream.Field{{}, {Quoted: true}, {Value: []byte{}}}, `,"",` + "\n"},
		{"quoted plain value needs no quotes", []csvstream.Field{{Value: []byte("a"), Quoted: true}}, "a\n"},
		{"comma", fields("a,b"), `"a,b"` + "\n"},
		{"quotes doubled", fields(`say "hi"`, `"`), `"say ""hi""",""""` + "\n"},
		{"line breaks", fields("a\nb", "c\r\nd", "e\r"), "\"a\nb\",\"c\r\nd\",\"e\r\"\n"},
		{"spaces kept bare", fields(" a ", " "), " a , \n"},
		{"end-of-data marker", fields(`\.`), `"\."` + "\n"},
		{"backslash otherwise bare", fields(`\.x`, `a\.`), `\.x,a\.` + "\n"},
		{"leading BOM quoted", fields("\xef\xbb\xbfx"), "\"\xef\xbb\xbfx\"\n"},
		{"vector", fields("[0.1,-0.2]"), `"[0.1,-0.2]"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := csvstream.NewWriter(&buf)
			if err := w.Write(tt.fields); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("wrote %q, want %q", buf.String(), tt.want)
			}
			if got := string(csvstream.AppendRecord([]byte("prefix:"), tt.fields)); got != "prefix:"+tt.want {
				t.Errorf("AppendRecord = %q", got)
			}
		})
	}
}

func fields(values ...string) []csvstream.Field {
	out := make([]csvstream.Field, len(values))
	for i, v := range values {
		out[i] = csvstream.Field{Value: []byte(v)}
	}
	return out
}

func TestWriteNUL(t *testing.T) {
	w := csvstream.NewWriter(io.Discard)
	err := w.Write(fields("ok", "a\x00b"))
	if !errors.Is(err, csvstream.ErrNUL) {
		t.Errorf("error = %v, want ErrNUL", err)
	}
}

// roundTrip reads input, writes every record with Writer and reads the
// result back; both reads must agree on every value and on NULL-ness.
func roundTrip(t testing.TB, input []byte) {
	t.Helper()
	first, err := readAll(t, csvstream.NewReader(bytes.NewReader(input)))
	if err != nil {
		t.Fatalf("first read: %v", err)
	}
	written := writeAll(t, first)
	second, err := readAll(t, csvstream.NewReader(bytes.NewReader(written)))
	if err != nil {
		t.Fatalf("reading back %q: %v", written, err)
	}
	if len(first) != len(second) {
		t.Fatalf("read back %d records, want %d\ninput   %q\nwritten %q", len(second), len(first), input, written)
	}
	for i := range first {
		if !slices.Equal(first[i].fields, second[i].fields) {
			t.Fatalf("record %d: read back %q, want %q\ninput   %q\nwritten %q",
				i+1, second[i].fields, first[i].fields, input, written)
		}
	}
}

// writeAll writes records, whose fields use the null notation, with Writer.
func writeAll(t testing.TB, recs []record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csvstream.NewWriter(&buf)
	for _, rc := range recs {
		fs := make([]csvstream.Field, len(rc.fields))
		for i, v := range rc.fields {
			if v != null {
				fs[i] = csvstream.Field{Value: []byte(v), Quoted: true}
			}
		}
		if err := w.Write(fs); err != nil {
			t.Fatalf("Write(%q): %v", rc.fields, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	inputs := []string{
		"id,doc,meta\r\n1,\"a, b\r\nc\",\"{\"\"k\"\": 1}\"\r\n2,,\"\"\r\n",
		"1,,\"\",\\.\n\"\\.\",\" \"\n",
		"\"\xef\xbb\xbfx\",y\n",
		"a\rb\r\n\"\r\",\"\n\"\n",
		"\"\"\n,\n\"\",\n",
		"x,\"line1\nline2\"",
	}
	for i, in := range inputs {
		t.Run(fmt.Sprint(i), func(t *testing.T) { roundTrip(t, []byte(in)) })
	}
}

// TestAgainstEncodingCSV compares values and line numbers with encoding/csv
// on random input that both must read the same way: no CR inside quotes and
// no lone CR, which encoding/csv treats differently by design.
func TestAgainstEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		input := randomCSV(rng)
		std := csv.NewReader(strings.NewReader(input))
		std.FieldsPerRecord = -1
		r := csvstream.NewReader(strings.NewReader(input))
		for n := 1; ; n++ {
			want, wantErr := std.Read()
			got, err := r.Read()
			if wantErr == io.EOF && err == io.EOF {
				break
			}
			if err != nil || wantErr != nil {
				t.Fatalf("input %d %q, record %d: csvstream error %v, encoding/csv error %v", i, input, n, err, wantErr)
			}
			gotValues := make([]string, len(got))
			for j, f := range got {
				gotValues[j] = string(f.Value)
			}
			if !slices.Equal(gotValues, want) {
				t.Fatalf("input %d %q, record %d: got %q, encoding/csv %q", i, input, n, gotValues, want)
			}
			if line, _ := std.FieldPos(0); r.Line() != line {
				t.Fatalf("input %d %q, record %d: Line = %d, encoding/csv %d", i, input, n, r.Line(), line)
			}
		}
	}
}

func randomCSV(rng *rand.Rand) string {
	const bare = "ab xyz019.-[]{}:é"
	const inQuotes = bare + ",\"\n"
	randomText := func(alphabet string) string {
		runes := []rune(alphabet)
		var sb strings.Builder
		for range rng.IntN(8) {
			sb.WriteRune(runes[rng.IntN(len(runes))])
		}
		return sb.String()
	}
	var sb strings.Builder
	for range rng.IntN(6) {
		if rng.IntN(8) == 0 {
			sb.WriteString("\n") // blank line
		}
		for j := range 1 + rng.IntN(5) {
			if j > 0 {
				sb.WriteByte(',')
			}
			if rng.IntN(2) == 0 {
				sb.WriteString(randomText(bare))
			} else {
				sb.WriteString(`"` + strings.ReplaceAll(randomText(inQuotes), `"`, `""`) + `"`)
			}
		}
		if rng.IntN(2) == 0 {
			sb.WriteString("\r\n")
		} else {
			sb.WriteString("\n")
		}
	}
	return sb.String()
}
