package legacyjson

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

type limitCase struct {
	name   string
	in     string
	reason string
	offset int
}

// items writes n elements, each made by elem(i), between open and close,
// and returns the text and the offset of the last element.
func items(open, close, sep string, n int, elem func(i int) string) (string, int) {
	var b strings.Builder
	b.WriteString(open)
	last := 0
	for i := range n {
		if i > 0 {
			b.WriteString(sep)
		}
		last = b.Len()
		b.WriteString(elem(i))
	}
	b.WriteString(close)
	return b.String(), last
}

// limitCases are values over a bound, Python and JSON alike, with where
// the bound is crossed: the first nesting level, key or element too many,
// or the input byte whose JSON form does not fit.
func limitCases() []limitCase {
	zero := func(int) string { return "0" }
	key := func(i int) string { return strconv.Itoa(i) + ": 0" }
	jsonKey := func(i int) string { return `"` + strconv.Itoa(i) + `": 0` }
	dict, dictLast := items("{", "}", ", ", MaxItems+1, key)
	list, listLast := items("[", "]", ", ", MaxItems+1, zero)
	tuple, tupleLast := items("(", ")", ",", MaxItems+1, zero)
	nested, nestedLast := items("{'a': [", "]}", ",", MaxItems, zero)
	object, objectLast := items("{", "}", ", ", MaxItems+1, jsonKey)
	array, arrayLast := items("[", "]", ",\n ", MaxItems+1, zero)
	// The first element of a tuple is counted at the comma after it; of
	// (0) none is, since it is only parentheses around 0.
	parens, parensLast := items("[", "]", ",", MaxItems+1, func(int) string { return "(0)" })

	// 100 raw control characters: the quote and 44 of them (6 bytes
	// each) fit in 2*102+64 = 268 bytes, the 45th does not.
	raw := "'" + strings.Repeat("\x01", 100) + "'"
	// 100 \0 escapes: 2*202+64 = 468 bytes hold the quote and 77 of them.
	octal := "'" + strings.Repeat(`\0`, 100) + "'"
	// Control characters first, then a run that no longer fits: 2*288+64
	// = 640 bytes hold `["`, 80 escapes of 6 bytes, `", "` (486 in all)
	// and 154 of the 200 x's, which start at offset 86.
	run := "['" + strings.Repeat("\x01", 80) + "', '" + strings.Repeat("x", 200) + "']"

	return []limitCase{
		{name: "too deep", in: strings.Repeat("[", MaxDepth+1) + "None" + strings.Repeat("]", MaxDepth+1), reason: "nesting deeper than 1000 levels", offset: MaxDepth},
		{name: "far too deep", in: strings.Repeat("(", 100000), reason: "nesting deeper than 1000 levels", offset: MaxDepth},
		{name: "deep dicts", in: strings.Repeat("{'a': ", MaxDepth+1), reason: "nesting deeper than 1000 levels", offset: MaxDepth * 6},
		{name: "JSON too deep", in: strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), reason: "nesting deeper than 1000 levels", offset: MaxDepth},
		{name: "too many keys", in: dict, reason: "more than 100000 keys and items", offset: dictLast},
		{name: "too many list items", in: list, reason: "more than 100000 keys and items", offset: listLast},
		{name: "too many tuple items", in: tuple, reason: "more than 100000 keys and items", offset: tupleLast},
		{name: "parentheses are no tuple", in: parens, reason: "more than 100000 keys and items", offset: parensLast},
		{name: "items counted across containers", in: nested, reason: "more than 100000 keys and items", offset: nestedLast},
		{name: "too many JSON keys", in: object, reason: "more than 100000 keys and items", offset: objectLast},
		{name: "too many JSON items", in: array, reason: "more than 100000 keys and items", offset: arrayLast},
		{name: "raw control characters", in: raw, reason: "longer than twice the value plus 64 bytes", offset: 45},
		{name: "octal escapes", in: octal, reason: "longer than twice the value plus 64 bytes", offset: 1 + 2*77},
		{name: "run that does not fit", in: run, reason: "longer than twice the value plus 64 bytes", offset: 86 + 154},
	}
}

func TestConvertLimits(t *testing.T) {
	for _, tc := range limitCases() {
		t.Run(tc.name, func(t *testing.T) {
			out, converted, err := Convert([]byte(tc.in))
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Convert = %.40q, %v, want a *LimitError", out, err)
			}
			if !strings.Contains(le.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", le.Reason, tc.reason)
			}
			if le.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (reason %q)", le.Offset, tc.offset, le.Reason)
			}
			if want := fmt.Sprintf("offset %d: %s", le.Offset, le.Reason); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if out != nil || converted {
				t.Errorf("got %d bytes, converted=%v with error", len(out), converted)
			}
			dst := []byte("prefix")
			if out, _, err := AppendConvert(dst, []byte(tc.in)); !errors.As(err, &le) || string(out) != "prefix" {
				t.Errorf("AppendConvert = %.40q, %v", out, err)
			}
		})
	}
}

// TestConvertAtLimits: values right at each bound, and the expansions real
// input makes, are accepted.
func TestConvertAtLimits(t *testing.T) {
	zero := func(int) string { return "0" }
	dict, _ := items("{", "}", ", ", MaxItems, func(i int) string { return strconv.Itoa(i) + ": None" })
	object, _ := items("{", "}", ", ", MaxItems, func(i int) string { return `"` + strconv.Itoa(i) + `": null` })
	list, _ := items("[", "]", ",", MaxItems, zero)
	parens, _ := items("[", "]", ",", MaxItems, func(int) string { return "(0)" })
	tests := []struct{ name, in string }{
		{"deepest list", strings.Repeat("[", MaxDepth) + "None" + strings.Repeat("]", MaxDepth)},
		{"deepest JSON", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)},
		{"most keys", dict},
		{"most JSON keys", object},
		{"most list items", list},
		{"most items in parentheses", parens},
		{"empty containers count no item", "[" + strings.Repeat("[], ", MaxItems-1) + "{}]"},
		{"repr's \\x escapes", "'" + strings.Repeat(`\x01`, 100000) + "'"},
		{"compact dict at twice its length", "{" + strings.Repeat(".5:.5,", 100000) + "}"},
		{"raw control characters within the slack", "'" + strings.Repeat("\x01", 12) + "'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := Convert([]byte(tc.in))
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if len(out) > MaxOutputBytes(len(tc.in)) {
				t.Errorf("output %d bytes, over MaxOutputBytes(%d)", len(out), len(tc.in))
			}
			if again, _, err := Convert(out); err != nil || !bytes.Equal(again, out) {
				t.Errorf("converting the output again: %v", err)
			}
		})
	}
}

// TestConvertCasesWithinOutputBound: every accepted test value stays
// within MaxOutputBytes.
func TestConvertCasesWithinOutputBound(t *testing.T) {
	for _, tc := range convertCases {
		if len(tc.want) > MaxOutputBytes(len(tc.in)) {
			t.Errorf("%s: %d bytes of JSON from %d", tc.name, len(tc.want), len(tc.in))
		}
	}
}

// TestConvertExpansionStopsEarly: a value whose JSON form would be six
// times as long is refused before its output outgrows the bound, so the
// conversion allocates in proportion to the bound, not to the expansion.
func TestConvertExpansionStopsEarly(t *testing.T) {
	const n = 4 << 20
	in := make([]byte, n+2)
	in[0], in[n+1] = '\'', '\''
	for i := 1; i <= n; i++ {
		in[i] = 1
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Convert(in)
	runtime.ReadMemStats(&after)
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("Convert: %v, want a *LimitError", err)
	}
	// Growing to twice n by append copies about as much again and a bit;
	// the unbounded six times n would cost some 30 times n.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*n {
		t.Errorf("allocated %d MiB converting %d MiB, want at most %d MiB", alloc>>20, n>>20, 8*n>>20)
	}
}

// errorPosition takes apart either error Convert returns.
func errorPosition(err error) (offset int, reason string, ok bool) {
	var se *SyntaxError
	if errors.As(err, &se) {
		return se.Offset, se.Reason, true
	}
	var le *LimitError
	if errors.As(err, &le) {
		return le.Offset, le.Reason, true
	}
	return 0, "", false
}
