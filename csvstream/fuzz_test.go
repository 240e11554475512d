package csvstream_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/vectorops/pgvector-backup-mcp/csvstream"
)

// FuzzReader checks that Reader never panics or loops, fails only with
// *ParseError, does not depend on how the input is split into reads, that
// its limits change nothing but where it stops, and that whatever it
// accepts survives a trip through Writer unchanged.
// Seeds live in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readChecked(t, bytes.NewReader(data), len(data))
		recs1, err1 := readChecked(t, iotest.OneByteReader(bytes.NewReader(data)), len(data))
		if !equalRecords(recs, recs1) || errString(err) != errString(err1) {
			t.Fatalf("split reads differ:\nwhole   %v, %v\nonebyte %v, %v", recs, err, recs1, err1)
		}
		checkLimits(t, data, recs, err)

		written := writeAll(t, recs)
		back, err := readAll(t, csvstream.NewReader(bytes.NewReader(written)))
		if err != nil {
			t.Fatalf("reading back %q: %v", written, err)
		}
		if len(back) != len(recs) {
			t.Fatalf("read back %d records, want %d\nwritten %q", len(back), len(recs), written)
		}
		for i := range recs {
			if !slices.Equal(back[i].fields, recs[i].fields) {
				t.Fatalf("record %d: read back %q, want %q\nwritten %q", i+1, back[i].fields, recs[i].fields, written)
			}
		}
	})
}

// readChecked reads everything from r, which holds size bytes, checking the
// invariants that hold for any input along the way.
func readChecked(t *testing.T, r io.Reader, size int) ([]record, error) {
	t.Helper()
	cr := csvstream.NewReader(r)
	var recs []record
	prevLine, prevOffset := 0, int64(0)
	// Every record consumes at least one byte, so more reads than bytes
	// means Read has stopped making progress.
	for range size + 2 {
		fields, err := cr.Read()
		if err == io.EOF {
			if cr.Offset() != int64(size) {
				t.Fatalf("Offset at EOF = %d, want %d", cr.Offset(), size)
			}
			return recs, nil
		}
		if err != nil {
			var pe *csvstream.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("error %v has no position", err)
			}
			return recs, err
		}
		if cr.Line() <= prevLine || cr.Offset() <= prevOffset || cr.Offset() > int64(size) {
			t.Fatalf("record %d: Line %d after %d, Offset %d after %d of %d",
				len(recs)+1, cr.Line(), prevLine, cr.Offset(), prevOffset, size)
		}
		prevLine, prevOffset = cr.Line(), cr.Offset()
		recs = append(recs, record{cr.Line(), strs(fields)})
	}
	t.Fatalf("more than %d records from %d bytes", size+1, size)
	return nil, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
