package csvstream_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vectorops/pgvector-backup-mcp/csvstream"
)

func TestReadRecordLimit(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		maxRecord  int
		maxField   int
		want       []record
		line, col  int
		err        error
		msg        string
		afterBytes int64 // Offset must not pass this: reading stops at the limit
	}{
		{name: "record too long", input: "ab,cd,ef\n", maxRecord: 5, line: 1, col: 3, err: csvstream.ErrRecordTooLong,
			msg: "line 1, field 3: record too long: over the limit of 5 bytes for one record"},
		{name: "reports the record's first line", input: "x\n\"a\nb\",\"c\nd\",\"e\nf\"\n", maxRecord: 7, want: []record{rec(1, "x")},
			line: 2, col: 3, err: csvstream.ErrRecordTooLong},
		{name: "a field's own limit first", input: "abc,defgh\n", maxRecord: 8, maxField: 4, line: 1, col: 2, err: csvstream.ErrFieldTooLong,
			msg: "line 1, field 2: field too long: over the limit of 4 bytes for one field"},
		{name: "record limit within a field", input: "abc,def,ghi\n", maxRecord: 8, maxField: 4, line: 1, col: 3, err: csvstream.ErrRecordTooLong},
		{name: "record full before its next field", input: "abcd,e\n", maxRecord: 4, maxField: 4, line: 1, col: 2, err: csvstream.ErrRecordTooLong},
		{name: "both limits reached at once name the field", input: "abcde\n", maxRecord: 4, maxField: 4, line: 1, col: 1, err: csvstream.ErrFieldTooLong},
		{name: "doubled quotes count once", input: `"a""b","""",""""` + "\n", maxRecord: 4, line: 1, col: 3, err: csvstream.ErrRecordTooLong},
		{name: "limits in KiB", input: strings.Repeat("x", 3<<10) + "\n", maxRecord: 2 << 10, line: 1, col: 1, err: csvstream.ErrRecordTooLong,
			msg: "line 1, field 1: record too long: over the limit of 2 KiB for one record"},
		{name: "stops at the limit", input: "id,doc\n1," + strings.Repeat("x", 1<<20) + "\n", maxRecord: 4 << 10, want: []record{rec(1, "id", "doc")},
			line: 2, col: 2, err: csvstream.ErrRecordTooLong, afterBytes: 4<<10 + 64<<10},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := csvstream.NewReader(rd.wrap(strings.NewReader(tt.input)))
				r.MaxRecordBytes, r.MaxFieldBytes = tt.maxRecord, tt.maxField
				got, err := readAll(t, r)
				if !equalRecords(got, tt.want) {
					t.Errorf("records before error: got %v, want %v", got, tt.want)
				}
				var pe *csvstream.ParseError
				if !errors.As(err, &pe) || pe.Line != tt.line || pe.Column != tt.col || !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want line %d, field %d: %v", err, tt.line, tt.col, tt.err)
				}
				if tt.msg != "" && err.Error() != tt.msg {
					t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
				}
				if tt.afterBytes > 0 && r.Offset() > tt.afterBytes {
					t.Errorf("consumed %d bytes before failing, want at most %d", r.Offset(), tt.afterBytes)
				}
				if r.Line() != tt.line {
					t.Errorf("Line() = %d, want the failed record's %d", r.Line(), tt.line)
				}
				if _, again := r.Read(); again != err {
					t.Errorf("second Read = %v, want the same error", again)
				}
			})
		}
	}
}

func TestReadRecordLimitAtBoundary(t *testing.T) {
	r := csvstream.NewReader(strings.NewReader("ab,\"c\r\n\",,\"\"\n"))
	r.MaxRecordBytes = 5
	fields, err := r.Read()
	if err != nil {
		t.Fatalf("record exactly at the limit: %v", err)
	}
	if got, want := strs(fields), []string{"ab", "c\r\n", null, ""}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestReadLimitsChangeBetweenRecords: a header read under tight limits,
// then data records bounded by its width, as backupfile does.
func TestReadLimitsChangeBetweenRecords(t *testing.T) {
	input := "a,b\n" + strings.Repeat("x", 100) + ",y\n1,2,3\n"
	r := csvstream.NewReader(strings.NewReader(input))
	r.MaxRecordBytes, r.MaxFields = 8, 10
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	r.MaxRecordBytes, r.MaxFields = 1000, len(header)
	if _, err := r.Read(); err != nil {
		t.Fatalf("a long record under the raised limit: %v", err)
	}
	_, err = r.Read()
	var pe *csvstream.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, csvstream.ErrTooManyFields) || pe.Line != 3 || pe.Column != 3 {
		t.Fatalf("error = %v, want line 3, field 3: too many fields", err)
	}
	if want := "line 3, field 3: too many fields: more than 2"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// TestReadTooManyFieldsStopsEarly: the field beyond the limit is not read.
func TestReadTooManyFieldsStopsEarly(t *testing.T) {
	r := csvstream.NewReader(io.MultiReader(strings.NewReader("a,b,\""), &repeatReader{c: 'x', n: 10 << 20}, strings.NewReader("\"\n")))
	r.MaxFields = 2
	if _, err := r.Read(); !errors.Is(err, csvstream.ErrTooManyFields) {
		t.Fatalf("error = %v, want too many fields", err)
	}
	if r.Offset() > 4 {
		t.Errorf("consumed %d bytes, want to stop before the third field", r.Offset())
	}
}

// TestReadRecordMemory: a record of many fields, each under the field
// limit, costs no more than the record's limit (twice, growing by doubling).
func TestReadRecordMemory(t *testing.T) {
	const field, limit = 512 << 10, 4 << 20
	var readers []io.Reader
	for range 64 { // 32 MiB in all
		readers = append(readers, strings.NewReader(`"`), &repeatReader{c: 'x', n: field}, strings.NewReader(`",`))
	}
	r := csvstream.NewReader(io.MultiReader(readers...))
	r.MaxRecordBytes, r.MaxFields = limit, 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := r.Read()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, csvstream.ErrRecordTooLong) {
		t.Fatalf("error = %v, want record too long", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*limit+256<<10 {
		t.Errorf("allocated %d KiB for a record limited to %d KiB", alloc>>10, limit>>10)
	}
}

// fuzzLimits are small enough that fuzzed inputs cross them.
const fuzzMaxFieldBytes, fuzzMaxRecordBytes, fuzzMaxFields = 8, 16, 3

// checkLimits reads data again under fuzzLimits, whole and one byte at a
// time, and checks that the limits change nothing but where reading stops:
// the records within them come back as without limits (recs, ending in
// err), and the first record beyond them is refused with the error for
// the limit it crosses.
func checkLimits(t *testing.T, data []byte, recs []record, err error) {
	t.Helper()
	var results [2]struct {
		recs []record
		err  error
	}
	for i, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader} {
		r := csvstream.NewReader(wrap(bytes.NewReader(data)))
		r.MaxFieldBytes, r.MaxRecordBytes, r.MaxFields = fuzzMaxFieldBytes, fuzzMaxRecordBytes, fuzzMaxFields
		results[i].recs, results[i].err = readAll(t, r)
	}
	if !equalRecords(results[0].recs, results[1].recs) || errString(results[0].err) != errString(results[1].err) {
		t.Fatalf("split reads under limits differ:\nwhole   %v, %v\nonebyte %v, %v", results[0].recs, results[0].err, results[1].recs, results[1].err)
	}
	limited, limitErr := results[0].recs, results[0].err
	within := 0
	for within < len(recs) && withinLimits(recs[within]) {
		within++
	}
	if !equalRecords(limited, recs[:within]) {
		t.Fatalf("under limits read %v, want %v", limited, recs[:within])
	}
	isLimit := errors.Is(limitErr, csvstream.ErrFieldTooLong) || errors.Is(limitErr, csvstream.ErrRecordTooLong) ||
		errors.Is(limitErr, csvstream.ErrTooManyFields)
	switch {
	case within < len(recs) && !isLimit:
		t.Fatalf("record %v is over the limits, but reading it gave %v", recs[within], limitErr)
	case within == len(recs) && !isLimit && errString(limitErr) != errString(err):
		// The record that failed without limits may cross one before its
		// syntax error; otherwise the error is the same.
		t.Fatalf("under limits the error is %v, want %v", limitErr, err)
	}
}

func withinLimits(r record) bool {
	if len(r.fields) > fuzzMaxFields {
		return false
	}
	total := 0
	for _, f := range r.fields {
		n := len(f)
		if f == null {
			n = 0
		}
		if n > fuzzMaxFieldBytes {
			return false
		}
		total += n
	}
	return total <= fuzzMaxRecordBytes
}
