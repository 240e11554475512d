package backupfile_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/backupfile"
	"github.com/vectorops/pgvector-backup-mcp/internal/pgtest"
)

// elementCases are float texts where a client parser could round
// differently from pgvector's vector_in (strtof): subnormals, signed zeros,
// the float4 range's ends, halfway cases on the 24th bit, more than 19
// digits, and the shortest and the long forms of random values.
func elementCases(rng *rand.Rand) []string {
	cases := []string{
		"0", "-0", "+0", "0.0", "-0.0", "1", "-1", "1.", ".5", "-.5", "+2.5",
		"3.4028235e38", "-3.4028235e38", "3.40282346e38", "3.4028234663852886e38",
		"1.17549435e-38", "1.1754942e-38", "1.4e-45", "1.401298464324817e-45", "-1.4e-45",
		"7.1e-46", "7e-46", "1e-50", "-1e-50", "1E-7", "1e+10", "123456789012345678901234567890",
		"0.000000000000000000000000000000000000001", "16777216", "16777217", "16777218", "16777219",
		"0.30000000000000004", "0.1", "0.2", "0.7", "9.999999e-39",
	}
	for range 300 {
		// Halfway between two adjacent float4s, exactly and just off it:
		// where a double rounding through float64 would go wrong.
		a := math.Float32frombits(rng.Uint32() & 0x7f7fffff)
		b := math.Nextafter32(a, float32(math.Inf(1)))
		mid := (float64(a) + float64(b)) / 2
		cases = append(cases,
			strconv.FormatFloat(mid, 'g', -1, 64),
			strconv.FormatFloat(mid, 'e', 25, 64),
			strconv.FormatFloat(math.Nextafter(mid, math.Inf(1)), 'g', -1, 64),
			strconv.FormatFloat(math.Nextafter(mid, math.Inf(-1)), 'g', -1, 64))
	}
	for range 2000 {
		f := math.Float32frombits(rng.Uint32())
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		cases = append(cases,
			strconv.FormatFloat(float64(f), 'g', -1, 32),
			strconv.FormatFloat(float64(f), 'g', 17, 64),
			strconv.FormatFloat(float64(f), 'f', -1, 64),
			strconv.FormatFloat(rng.NormFloat64()/10, 'g', -1, 64)) // numpy's float64 text
	}
	for range 200 { // subnormals
		f := math.Float32frombits(rng.Uint32() & 0x807fffff)
		cases = append(cases, strconv.FormatFloat(float64(f), 'g', -1, 32), strconv.FormatFloat(float64(f), 'e', 20, 64))
	}
	return cases
}

// TestAppendVectorMatchesVectorIn loads every case through pgvector's
// vector_in and compares its binary form (vector_send) with AppendVector's,
// byte for byte: the binary COPY path stores exactly what text COPY would.
func TestAppendVectorMatchesVectorIn(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
		t.Fatal(err)
	}
	cases := elementCases(rand.New(rand.NewPCG(1, 2)))
	const perVector = 100
	for start := 0; start < len(cases); start += perVector {
		elems := cases[start:min(start+perVector, len(cases))]
		text := "[" + strings.Join(elems, ",") + "]"
		var want []byte
		if err := conn.QueryRow(ctx, "SELECT vector_send($1::vector)", text).Scan(&want); err != nil {
			t.Fatalf("vector_in refused %s: %v", text, err)
		}
		got, dim, reason := backupfile.AppendVector(nil, []byte(text))
		if reason != "" || dim != len(elems) {
			t.Fatalf("AppendVector: %d dims, %q", dim, reason)
		}
		if !bytes.Equal(got, want) {
			for i, e := range elems {
				g, w := got[4+4*i:8+4*i], want[4+4*i:8+4*i]
				if !bytes.Equal(g, w) {
					t.Errorf("%q: got %x, vector_in stores %x", e, g, w)
				}
			}
		}
	}
}

// TestAppendVectorRefuses checks that what pgvector refuses is refused with
// the same reasons VectorDims gives, and that nothing is appended.
func TestAppendVectorRefuses(t *testing.T) {
	for _, v := range []string{
		"", "[]", "1,2", "[1,,2]", "[1,NaN]", "[inf]", "[1e39]", "[-3.4028236e38]", "[1e]", "[0x10]", "[1 2]", "[--1]",
		"[" + strings.Repeat("1,", backupfile.MaxVectorDims) + "1]",
	} {
		prefix := []byte("keep")
		out, _, reason := backupfile.AppendVector(prefix, []byte(v))
		_, textReason := backupfile.VectorDims([]byte(v))
		if reason == "" || reason != textReason || string(out) != "keep" {
			t.Errorf("%.40q: reason %q (text %q), out %q", v, reason, textReason, out)
		}
	}
}

func TestAppendUUID(t *testing.T) {
	want := []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
	for _, ok := range []string{
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
		"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
	} {
		got, valid := backupfile.AppendUUID(nil, []byte(ok))
		if !valid || !bytes.Equal(got, want) {
			t.Errorf("%s: %x %v", ok, got, valid)
		}
	}
	for _, bad := range []string{
		"", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
	} {
		if got, valid := backupfile.AppendUUID([]byte("x"), []byte(bad)); valid || string(got) != "x" {
			t.Errorf("%q accepted: %x", bad, got)
		}
	}
}

// TestAppendUUIDMatchesUUIDIn checks the same forms against uuid_in.
func TestAppendUUIDMatchesUUIDIn(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.NewDatabase(t))
	for _, s := range []string{
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
		"a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
	} {
		var want []byte
		err := conn.QueryRow(context.Background(), "SELECT uuid_send($1::uuid)", s).Scan(&want)
		got, valid := backupfile.AppendUUID(nil, []byte(s))
		if (err == nil) != valid || valid && !bytes.Equal(got, want) {
			t.Errorf("%s: uuid_in %x (%v), AppendUUID %x (%v)", s, want, err, got, valid)
		}
	}
}

func BenchmarkAppendVector(b *testing.B) {
	for _, form := range []string{"shortest", "python"} {
		b.Run(form, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			elems := make([]string, 1024)
			for i := range elems {
				f := rng.NormFloat64() / 10
				if form == "shortest" {
					elems[i] = strconv.FormatFloat(float64(float32(f)), 'g', -1, 32)
				} else {
					elems[i] = strconv.FormatFloat(f, 'g', -1, 64)
				}
			}
			text := []byte("[" + strings.Join(elems, ",") + "]")
			buf := make([]byte, 0, 4+4*1024)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _, _ = backupfile.AppendVector(buf[:0], text)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1024), "ns/element")
		})
	}
}

func ExampleAppendVector() {
	out, dim, _ := backupfile.AppendVector(nil, []byte("[1,-0.5]"))
	fmt.Printf("%d dims: %x\n", dim, out)
	// Output: 2 dims: 000200003f800000bf000000
}
