package legacyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// langchainRepr is the kind of metadata the old pipeline wrote: a LangChain
// document's metadata dict passed through str().
const langchainRepr = `{'source': '/data/docs/产品手册_v2.pdf', 'page': 3, 'total_pages': 120, ` +
	`'producer': 'Microsoft® Word 2016', 'creationdate': '2023-05-04T10:21:33+08:00', ` +
	`'title': '向量数据库 "pgvector" 使用指南', 'summary': '第一章：安装\n第二章：索引\t(HNSW)', ` +
	`'author': 'O\'Brien', 'start_index': 1024, 'relevance_score': 0.8734, 'distance': 1.2e-05, ` +
	`'coordinates': {'points': ((72.0, 96.5), (540.0, 110.25)), 'system': 'PixelSpace', ` +
	`'layout_width': 612, 'layout_height': 792}, 'languages': ['zho', 'eng'], ` +
	`'is_table': False, 'parent_id': None, 'emphasized_text_tags': [], 'links': ()}`

const langchainJSON = `{"source": "/data/docs/产品手册_v2.pdf", "page": 3, "total_pages": 120, ` +
	`"producer": "Microsoft® Word 2016", "creationdate": "2023-05-04T10:21:33+08:00", ` +
	`"title": "向量数据库 \"pgvector\" 使用指南", "summary": "第一章：安装\n第二章：索引\t(HNSW)", ` +
	`"author": "O'Brien", "start_index": 1024, "relevance_score": 0.8734, "distance": 1.2e-05, ` +
	`"coordinates": {"points": [[72.0, 96.5], [540.0, 110.25]], "system": "PixelSpace", ` +
	`"layout_width": 612, "layout_height": 792}, "languages": ["zho", "eng"], ` +
	`"is_table": false, "parent_id": null, "emphasized_text_tags": [], "links": []}`

// benchRepr is a typical ~200-byte metadata row for the benchmarks.
const benchRepr = `{'source': 'docs/产品手册/第三章.pdf', 'page': 12, 'total_pages': 48, ` +
	`'chunk_id': 'c-000123', 'score': 0.8734, 'lang': 'zh', 'tags': ('manual', 'v2'), ` +
	`'reviewed': True, 'author': None, 'title': '安装 "quick" start\n'}`

type convertCase struct {
	name string
	in   string
	want string // expected JSON; "" together with same=true means "unchanged"
	same bool   // input is valid JSON and must come back unchanged
}

var convertCases = []convertCase{
	// Valid JSON passes through byte for byte.
	{name: "json object", in: `{"a": 1, "b": [true, null]}`, same: true},
	{name: "json compact", in: `{"a":1}`, same: true},
	{name: "json with surrounding space", in: " \t{\"a\":1}\r\n", same: true},
	{name: "json empty object", in: `{}`, same: true},
	{name: "json empty array", in: `[]`, same: true},
	{name: "json string", in: `"x"`, same: true},
	{name: "json double-quoted repr with apostrophe", in: `"it's"`, same: true},
	{name: "json null", in: `null`, same: true},
	{name: "json big number", in: `123456789012345678901234567890`, same: true},
	{name: "json exponent", in: `1e5`, same: true},

	// The example from the old pipeline.
	{
		name: "pipeline example",
		in:   `{'source': 'x', 'ok': True, 'n': None, 'tags': ('a', 'b'), 'f': 1e-05, 'name': '中文 \'q\' "d"\n'}`,
		want: `{"source": "x", "ok": true, "n": null, "tags": ["a", "b"], "f": 1e-05, "name": "中文 'q' \"d\"\n"}`,
	},
	{name: "langchain metadata", in: langchainRepr, want: langchainJSON},

	// Scalars at top level.
	{name: "True", in: `True`, want: `true`},
	{name: "False", in: `False`, want: `false`},
	{name: "None", in: `None`, want: `null`},
	{name: "single-quoted string", in: `'abc'`, want: `"abc"`},
	{name: "surrounding whitespace", in: " \n\t{'a': 1}\r\n ", want: `{"a": 1}`},
	{name: "JSON-like with Python constant", in: `{"a": True, "b": [1, 2]}`, want: `{"a": true, "b": [1, 2]}`},

	// Containers.
	{name: "nested", in: `{'a': {'b': [1, (2, 3), {'c': ()}]}}`, want: `{"a": {"b": [1, [2, 3], {"c": []}]}}`},
	{name: "empty tuple", in: `()`, want: `[]`},
	{name: "one-tuple", in: `(1,)`, want: `[1]`},
	{name: "tuple trailing comma", in: `(1, 2,)`, want: `[1, 2]`},
	{name: "parenthesized value is not a tuple", in: `(1)`, want: `1`},
	{name: "nested parentheses", in: `[((1, 2)), ('a')]`, want: `[[1, 2], "a"]`},
	{name: "list trailing comma", in: `[1, 2,]`, want: `[1, 2]`},
	{name: "dict trailing comma", in: `{'a': 1,}`, want: `{"a": 1}`},
	{name: "empty tuple in list", in: `[ ( ) ]`, want: `[[]]`},
	{name: "whitespace between tokens", in: "{\n\t'a' :\r\n 1 ,\n 'b':[ 2 , ( 3 , ) ] ,\n}", want: `{"a": 1, "b": [2, [3]]}`},
	{name: "nested empty dict", in: `{'a': {}}`, want: `{"a": {}}`},

	// Strings.
	{name: "double quotes with apostrophe", in: `{'k': "it's"}`, want: `{"k": "it's"}`},
	{name: "u prefix", in: `{u'k': U"v"}`, want: `{"k": "v"}`},
	{name: "non-ASCII kept", in: `['中文', 'é', '😀']`, want: `["中文", "é", "😀"]`},
	{
		name: "simple escapes",
		in:   `'\\ \' \" \n \r \t \b \f \v \a'`,
		want: `"\\ ' \" \n \r \t \b \f \u000b \u0007"`,
	},
	{name: "octal escapes", in: `'\0 \101 \1234 \7 \777'`, want: `"\u0000 A S4 \u0007 ǿ"`},
	{name: "hex escapes", in: `'\x41\xe9\x00\x7f\x1f'`, want: "\"A\u00e9\\u0000\x7f\\u001f\""},
	{name: "unicode escapes", in: `'\u4e2d\u00E9\U0001F600\U0010ffff'`, want: "\"中é😀\U0010ffff\""},
	{name: "surrogate pair escapes", in: `'\ud83d\ude00 \U0000D83D\U0000DE00'`, want: `"😀 😀"`},
	{name: "unknown escapes keep backslash", in: `'\q \8 \/ \中'`, want: `"\\q \\8 \\/ \\中"`},
	{name: "line continuation", in: "'ab\\\ncd'", want: `"abcd"`},
	{name: "line continuation CRLF", in: "'ab\\\r\ncd'", want: `"abcd"`},
	{name: "raw control characters", in: "'a\tb\x01c\x7f\x08'", want: "\"a\\tb\\u0001c\x7f\\b\""},
	{name: "quote and backslash escaped in JSON", in: `'say "hi" \\o/'`, want: `"say \"hi\" \\o/"`},
	{name: "line separator kept", in: "'a\u2028b'", want: "\"a\u2028b\""},
	{name: "empty strings", in: `{'': ''}`, want: `{"": ""}`},

	// Numbers.
	{name: "ints", in: `[1, -2, +3, 0, -0, 00, True]`, want: `[1, -2, 3, 0, -0, 0, true]`},
	{name: "big int", in: `[123456789012345678901234567890, None]`, want: `[123456789012345678901234567890, null]`},
	{
		name: "floats",
		in:   `[1.5, -0.0, 1e-05, 1.5E+10, .5, 5., -.5, 5.e3, 007.5, 1e5, 0.0, 2.5e-308]`,
		want: `[1.5, -0.0, 1e-05, 1.5E+10, 0.5, 5.0, -0.5, 5.0e3, 7.5, 1e5, 0.0, 2.5e-308]`,
	},
	{name: "sign followed by space", in: `[- 1, + 2.5]`, want: `[-1, 2.5]`},

	// Dict keys are coerced as json.dumps does.
	{
		name: "key coercion",
		in:   `{1: 'a', -2: 'b', 1.5: 'c', .5: 'd', True: 'e', False: 'f', None: 'g', 1e-05: 'h', +7: 'i'}`,
		want: `{"1": "a", "-2": "b", "1.5": "c", "0.5": "d", "true": "e", "false": "f", "null": "g", "1e-05": "h", "7": "i"}`,
	},
	{name: "duplicate keys kept in order", in: `{'a': 1, 'a': 2, 1: 3, '1': 4}`, want: `{"a": 1, "a": 2, "1": 3, "1": 4}`},

	// Depth limit: exactly MaxDepth levels are fine.
	{name: "max depth", in: strings.Repeat("[", MaxDepth) + "None" + strings.Repeat("]", MaxDepth), want: strings.Repeat("[", MaxDepth) + "null" + strings.Repeat("]", MaxDepth)},
}

func TestConvert(t *testing.T) {
	for _, tc := range convertCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			out, converted, err := Convert(in)
			if err != nil {
				t.Fatalf("Convert(%q) error: %v", tc.in, err)
			}
			want := tc.want
			if tc.same {
				want = tc.in
			}
			if string(out) != want {
				t.Fatalf("Convert(%q)\n got %s\nwant %s", tc.in, out, want)
			}
			if converted == tc.same {
				t.Errorf("converted = %v, want %v", converted, !tc.same)
			}
			if tc.same && &out[0] != &in[0] {
				t.Errorf("valid JSON was copied; want the input slice itself")
			}
			if !json.Valid(out) {
				t.Errorf("output is not valid JSON: %s", out)
			}
		})
	}
}

func TestAppendConvert(t *testing.T) {
	prefix := []byte("row:")
	for _, tc := range convertCases {
		t.Run(tc.name, func(t *testing.T) {
			dst := append(make([]byte, 0, 8), prefix...)
			out, converted, err := AppendConvert(dst, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.same {
				want = tc.in
			}
			if string(out) != string(prefix)+want || converted == tc.same {
				t.Fatalf("AppendConvert = %q, %v; want %q, %v", out, converted, string(prefix)+want, !tc.same)
			}
		})
	}
	t.Run("nil dst", func(t *testing.T) {
		out, converted, err := AppendConvert(nil, []byte(`{'a': None}`))
		if err != nil || !converted || string(out) != `{"a": null}` {
			t.Fatalf("got %q, %v, %v", out, converted, err)
		}
	})
	t.Run("error leaves dst unchanged", func(t *testing.T) {
		dst := append(make([]byte, 0, 64), prefix...)
		out, converted, err := AppendConvert(dst, []byte(`{'a': [1, 2, nan]}`))
		if err == nil || converted || string(out) != string(prefix) {
			t.Fatalf("got %q, %v, %v", out, converted, err)
		}
	})
	t.Run("reused buffer", func(t *testing.T) {
		var buf []byte
		for i := 0; i < 3; i++ {
			var err error
			buf, _, err = AppendConvert(buf[:0], []byte(langchainRepr))
			if err != nil || string(buf) != langchainJSON {
				t.Fatalf("iteration %d: got %s, %v", i, buf, err)
			}
		}
	})
}

// TestAppendConvertNoAllocs guards the hot loop: converting a typical repr
// into a reused buffer must not allocate.
func TestAppendConvertNoAllocs(t *testing.T) {
	in := []byte(benchRepr)
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, _, err = AppendConvert(buf[:0], in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendConvert allocates %.1f times per call, want 0", allocs)
	}
}

type errorCase struct {
	name   string
	in     string
	reason string // substring of Reason
	offset int
}

var errorCases = []errorCase{
	{name: "empty", in: ``, reason: "empty value", offset: 0},
	{name: "only whitespace", in: " \n\t", reason: "empty value", offset: 0},

	// Python values JSON cannot hold.
	{name: "set", in: `{1, 2}`, reason: "set literals have no JSON form", offset: 0},
	{name: "set of one string", in: `{'a'}`, reason: "set literals have no JSON form", offset: 0},
	{name: "set of tuples", in: `[{(1, 2), (3, 4)}]`, reason: "set literals have no JSON form", offset: 1},
	{name: "empty set", in: `set()`, reason: "sets have no JSON form", offset: 0},
	{name: "frozenset", in: `{'k': frozenset({1})}`, reason: "sets have no JSON form", offset: 6},
	{name: "tuple key", in: `{(1, 2): 3}`, reason: "tuple as dict key has no JSON form", offset: 1},
	{name: "bad value inside tuple key", in: `{(1, nan): 2}`, reason: "NaN has no JSON form", offset: 5},
	{name: "list key", in: `{[1]: 3}`, reason: "list as dict key has no JSON form", offset: 1},
	{name: "dict key", in: `{'a': 1, {}: 2}`, reason: "dict as dict key has no JSON form", offset: 9},
	{name: "bytes", in: `b'abc'`, reason: "bytes literals have no JSON form", offset: 0},
	{name: "bytes in dict", in: `{'k': b'x'}`, reason: "bytes literals have no JSON form", offset: 6},
	{name: "raw bytes", in: `rb'x'`, reason: "bytes literals have no JSON form", offset: 0},
	{name: "bytes() call", in: `bytes(3)`, reason: "bytes have no JSON form", offset: 0},
	{name: "raw string", in: `r'x'`, reason: "raw string literals are not supported", offset: 0},
	{name: "f-string", in: `f'{x}'`, reason: "f-strings are not Python literals", offset: 0},
	{name: "unknown prefix", in: `x'a'`, reason: "unknown string prefix", offset: 0},
	{name: "nan", in: `nan`, reason: "NaN has no JSON form", offset: 0},
	{name: "nan in list", in: `[1.0, nan]`, reason: "NaN has no JSON form", offset: 6},
	{name: "NaN from json.dumps", in: `{"a": NaN}`, reason: "NaN has no JSON form", offset: 6},
	{name: "inf", in: `inf`, reason: "Infinity has no JSON form", offset: 0},
	{name: "minus inf", in: `{'x': -inf}`, reason: "Infinity has no JSON form", offset: 6},
	{name: "Infinity", in: `[Infinity]`, reason: "Infinity has no JSON form", offset: 1},
	{name: "minus Infinity", in: `[-Infinity]`, reason: "Infinity has no JSON form", offset: 1},
	{name: "float nan", in: `float('nan')`, reason: "float('nan') have no JSON form", offset: 0},
	{name: "float minus inf", in: `{'x': float("-inf")}`, reason: "float('nan') have no JSON form", offset: 6},
	{name: "complex", in: `1j`, reason: "complex numbers have no JSON form", offset: 0},
	{name: "complex repr", in: `[(1+2j)]`, reason: "expected ',' or ')'", offset: 3},
	{name: "Decimal", in: `{'price': Decimal('9.99')}`, reason: "Decimal(...) is not a Python literal", offset: 10},
	{name: "datetime", in: `{'t': datetime.datetime(2020, 1, 1, 0, 0)}`, reason: "datetime.datetime(...) is not a Python literal", offset: 6},
	{name: "UUID", in: `UUID('12345678-1234-5678-1234-567812345678')`, reason: "UUID(...) is not a Python literal", offset: 0},
	{name: "unknown name", in: `{'a': foo}`, reason: `name "foo" is not a Python literal`, offset: 6},
	{name: "JSON true in Python dict", in: `{'a': true}`, reason: "Python writes True, False, None", offset: 6},
	{name: "long name clipped", in: strings.Repeat("x", 100), reason: strings.Repeat("x", 40) + `..."`, offset: 0},

	// Strings.
	{name: "unterminated", in: `'abc`, reason: "unterminated string", offset: 0},
	{name: "unterminated in dict", in: `{'a': 'b}`, reason: "unterminated string", offset: 6},
	{name: "raw newline in string", in: "'ab\ncd'", reason: "unterminated string", offset: 0},
	{name: "raw CR in string", in: "['ab\rcd']", reason: "unterminated string", offset: 1},
	{name: "backslash at end", in: `'abc\`, reason: "unterminated string", offset: 0},
	{name: "triple-quoted", in: `'''abc'''`, reason: "triple-quoted strings are not supported", offset: 0},
	{name: "short hex escape", in: `'\x4'`, reason: `truncated \xXX escape`, offset: 1},
	{name: "bad hex escape", in: `'\xg0'`, reason: `truncated \xXX escape`, offset: 1},
	{name: "short u escape", in: `'\u12'`, reason: `truncated \uXXXX escape`, offset: 1},
	{name: "short U escape", in: `'ab\U0001F60'`, reason: `truncated \UXXXXXXXX escape`, offset: 3},
	{name: "U escape too big", in: `'\U00110000'`, reason: "beyond U+10FFFF", offset: 1},
	{name: "U escape beyond int32", in: `'\U80000080'`, reason: "beyond U+10FFFF", offset: 1},
	{name: "U escape max", in: `'\Uffffffff'`, reason: "beyond U+10FFFF", offset: 1},
	{name: "lone high surrogate", in: `'\ud800'`, reason: "lone surrogate", offset: 1},
	{name: "lone low surrogate", in: `'x\udc00'`, reason: "lone surrogate", offset: 2},
	{name: "high surrogate then text", in: `'\ud800x'`, reason: "lone surrogate", offset: 1},
	{name: "two high surrogates", in: `'\ud800\ud800'`, reason: "lone surrogate", offset: 1},
	{name: "low before high surrogate", in: `'\udc00\ud800'`, reason: "lone surrogate", offset: 1},
	{name: "high surrogate then other escape", in: `'\ud800\x41'`, reason: "lone surrogate", offset: 1},
	{name: "named escape", in: `'\N{DASH}'`, reason: `\N{...} escapes are not supported`, offset: 1},
	{name: "invalid UTF-8 in string", in: "'a\xffb'", reason: "invalid UTF-8 in string", offset: 2},
	{name: "UTF-8 encoded surrogate", in: "'\xed\xa0\x80'", reason: "invalid UTF-8 in string", offset: 1},
	{name: "invalid UTF-8 outside string", in: "[\xff]", reason: "invalid UTF-8 byte 0xff", offset: 1},

	// Numbers.
	{name: "hex int", in: `0x1F`, reason: "hexadecimal, octal and binary integers are not supported", offset: 0},
	{name: "leading zeros", in: `[007]`, reason: "leading zeros in integers are not allowed", offset: 1},
	{name: "underscore separator", in: `1_000`, reason: "underscores in numbers are not supported", offset: 0},
	{name: "missing exponent digits", in: `[1e]`, reason: "invalid exponent", offset: 2},
	{name: "exponent sign only", in: `1e+`, reason: "invalid exponent", offset: 1},
	{name: "two dots", in: `1.2.3`, reason: "invalid number", offset: 0},
	{name: "Python 2 long", in: `[1L]`, reason: "invalid number", offset: 1},
	{name: "lone minus", in: `-`, reason: "expected a number", offset: 0},
	{name: "lone dot", in: `[.]`, reason: "expected a number", offset: 1},
	{name: "minus name", in: `-foo`, reason: "expected a number after '-'", offset: 0},
	{name: "negated constant", in: `-True`, reason: "expected a number after '-'", offset: 0},

	// Structure.
	{name: "unclosed list", in: `[1, 2`, reason: "'[' was never closed", offset: 0},
	{name: "unclosed list after comma", in: `[1, `, reason: "unexpected end of value", offset: 4},
	{name: "unclosed tuple", in: `(1, 2`, reason: "'(' was never closed", offset: 0},
	{name: "unclosed dict", in: `{`, reason: "'{' was never closed", offset: 0},
	{name: "unclosed dict after key", in: `{'a'`, reason: "'{' was never closed", offset: 0},
	{name: "unclosed dict after comma", in: `{'a': 1,`, reason: "'{' was never closed", offset: 0},
	{name: "dict missing value", in: `{'a':`, reason: "unexpected end of value", offset: 5},
	{name: "missing comma in list", in: `[1 2]`, reason: "expected ',' or ']', found character '2'", offset: 3},
	{name: "missing comma in tuple", in: `(1, 2 3)`, reason: "expected ',' or ')'", offset: 6},
	{name: "missing colon", in: `{'a' 1}`, reason: "expected ':' after dict key", offset: 5},
	{name: "missing colon later", in: `{'a': 1, 'b'}`, reason: "expected ':' after dict key", offset: 12},
	{name: "missing comma in dict", in: `{'a': 1 'b': 2}`, reason: "expected ',' or '}'", offset: 8},
	{name: "double comma", in: `[1,,2]`, reason: "unexpected character ','", offset: 3},
	{name: "leading comma", in: `(,)`, reason: "unexpected character ','", offset: 1},
	{name: "stray character", in: `@`, reason: "unexpected character '@'", offset: 0},
	{name: "bad key", in: `{@: 1}`, reason: "unexpected character '@'", offset: 1},
	{name: "trailing garbage", in: `{'a': 1} x`, reason: "unexpected character 'x' after the value", offset: 9},
	{name: "trailing bracket", in: `{'a': 1}}`, reason: "after the value", offset: 8},
	{name: "adjacent strings", in: `'a' 'b'`, reason: "after the value", offset: 4},
	{name: "bare tuple", in: `1, 2`, reason: "after the value", offset: 1},
}

func TestConvertErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			out, converted, err := Convert([]byte(tc.in))
			if err == nil {
				t.Fatalf("Convert(%q) = %s, want error containing %q", tc.in, out, tc.reason)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			if !strings.Contains(se.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", se.Reason, tc.reason)
			}
			if se.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (reason %q)", se.Offset, tc.offset, se.Reason)
			}
			if out != nil || converted {
				t.Errorf("got out=%q converted=%v with error", out, converted)
			}
			if want := fmt.Sprintf("offset %d: %s", se.Offset, se.Reason); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

// TestConvertSemantics checks meaning rather than bytes: the output, decoded
// by encoding/json, equals the Go value the Python literal denotes.
func TestConvertSemantics(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`{'source': 'x', 'ok': True, 'n': None, 'tags': ('a', 'b'), 'f': 1e-05, 'name': '中文 \'q\' "d"\n'}`,
			map[string]any{"source": "x", "ok": true, "n": nil, "tags": []any{"a", "b"}, "f": 1e-05, "name": "中文 'q' \"d\"\n"}},
		{langchainRepr, map[string]any{
			"source": "/data/docs/产品手册_v2.pdf", "page": 3.0, "total_pages": 120.0,
			"producer": "Microsoft® Word 2016", "creationdate": "2023-05-04T10:21:33+08:00",
			"title": `向量数据库 "pgvector" 使用指南`, "summary": "第一章：安装\n第二章：索引\t(HNSW)",
			"author": "O'Brien", "start_index": 1024.0, "relevance_score": 0.8734, "distance": 1.2e-05,
			"coordinates": map[string]any{
				"points": []any{[]any{72.0, 96.5}, []any{540.0, 110.25}}, "system": "PixelSpace",
				"layout_width": 612.0, "layout_height": 792.0,
			},
			"languages": []any{"zho", "eng"}, "is_table": false, "parent_id": nil,
			"emphasized_text_tags": []any{}, "links": []any{},
		}},
		{`{1: 'a', 1.5: 'b', True: 'c', None: 'd', -3: ()}`, map[string]any{"1": "a", "1.5": "b", "true": "c", "null": "d", "-3": []any{}}},
		{`[.5, 5., -1.5E+10, 007.25, +4, - 2]`, []any{0.5, 5.0, -1.5e10, 7.25, 4.0, -2.0}},
		{`'\x00\a\v\101\u00e9\U0001F600\ud83d\ude00\q'`, "\x00\a\vAé😀😀\\q"},
		{`('tab\there', "quote'", 'dq"', 'bs\\')`, []any{"tab\there", "quote'", `dq"`, `bs\`}},
		{`(((1,),),)`, []any{[]any{[]any{1.0}}}},
		{`{'a': {'b': {'c': [None, False]}}}`, map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{nil, false}}}}},
	}
	for _, tc := range tests {
		out, _, err := Convert([]byte(tc.in))
		if err != nil {
			t.Errorf("Convert(%q): %v", tc.in, err)
			continue
		}
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("Convert(%q) = %s: %v", tc.in, out, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Convert(%q) = %s\n decodes to %#v\n want       %#v", tc.in, out, got, tc.want)
		}
	}
}

// TestConvertRandom renders random values as Python literals, choosing among
// the equivalent spellings Python allows (quote style, escape forms, tuple vs
// list, spacing), and checks that the JSON decodes back to the same value.
func TestConvertRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		v := randomValue(rng, 0)
		var repr bytes.Buffer
		writeRepr(&repr, rng, v)
		out, _, err := Convert(repr.Bytes())
		if err != nil {
			t.Fatalf("Convert(%q): %v", repr.Bytes(), err)
		}
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("Convert(%q) = %q: %v", repr.Bytes(), out, err)
		}
		if want := jsonValue(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("Convert(%q) = %s\n decodes to %#v\n want       %#v", repr.Bytes(), out, got, want)
		}
	}
}

type pyTuple []any

// pyKey is a dict key; its JSON form is a string, as json.dumps makes it.
type pyKey struct {
	v    any // string, int64, bool or nil
	json string
}

type pyDict []struct {
	k pyKey
	v any
}

var runePool = []rune("aZ09 _-'\"\\/{}[](),:\n\r\t\x00\x07\x0b\x0c\x1f\x7f\u0080\u00a0é中文\u2028\u200b\ufeff😀\U0010FFFF")

func randomValue(rng *rand.Rand, depth int) any {
	k := rng.IntN(10)
	if depth > 3 {
		k = rng.IntN(5)
	}
	switch k {
	case 0, 1:
		return randomString(rng)
	case 2:
		return int64(rng.IntN(2_000_000) - 1_000_000)
	case 3:
		return (rng.Float64() - 0.5) * float64(rng.IntN(1_000_000))
	case 4:
		return []any{true, false, nil}[rng.IntN(3)]
	case 5, 6:
		d := pyDict{}
		for range rng.IntN(4) {
			d = append(d, struct {
				k pyKey
				v any
			}{randomKey(rng), randomValue(rng, depth+1)})
		}
		return d
	case 7:
		l := []any{}
		for range rng.IntN(4) {
			l = append(l, randomValue(rng, depth+1))
		}
		return l
	default:
		tu := pyTuple{}
		for range rng.IntN(4) {
			tu = append(tu, randomValue(rng, depth+1))
		}
		return tu
	}
}

func randomString(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(10) {
		b.WriteRune(runePool[rng.IntN(len(runePool))])
	}
	return b.String()
}

func randomKey(rng *rand.Rand) pyKey {
	switch rng.IntN(6) {
	case 0:
		n := int64(rng.IntN(1000) - 500)
		return pyKey{n, strconv.FormatInt(n, 10)}
	case 1:
		b := rng.IntN(2) == 0
		return pyKey{b, strconv.FormatBool(b)}
	case 2:
		return pyKey{nil, "null"}
	}
	s := randomString(rng)
	return pyKey{s, s}
}

// jsonValue is what encoding/json should decode the converted value to.
func jsonValue(v any) any {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case pyTuple:
		return jsonValue([]any(v))
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case pyDict:
		out := map[string]any{}
		for _, e := range v {
			out[e.k.json] = jsonValue(e.v)
		}
		return out
	}
	return v
}

func writeRepr(b *bytes.Buffer, rng *rand.Rand, v any) {
	space := func() {
		b.WriteString([]string{"", " ", " ", "\n\t", "\r\n "}[rng.IntN(5)])
	}
	switch v := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		b.WriteString(map[bool]string{true: "True", false: "False"}[v])
	case int64:
		if v >= 0 && rng.IntN(4) == 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(v, []byte("efg")[rng.IntN(3)], -1, 64))
	case string:
		writeStringRepr(b, rng, v)
	case []any, pyTuple:
		open, close := "[", "]"
		items, _ := v.([]any)
		if tu, ok := v.(pyTuple); ok {
			open, close, items = "(", ")", tu
		}
		b.WriteString(open)
		for i, e := range items {
			if i > 0 {
				b.WriteByte(',')
				space()
			}
			writeRepr(b, rng, e)
		}
		if open == "(" && len(items) == 1 || len(items) > 0 && rng.IntN(4) == 0 {
			b.WriteByte(',')
		}
		b.WriteString(close)
	case pyDict:
		b.WriteByte('{')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
				space()
			}
			writeRepr(b, rng, e.k.v)
			space()
			b.WriteByte(':')
			space()
			writeRepr(b, rng, e.v)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("unexpected %T", v))
	}
}

// writeStringRepr writes s as a Python string literal, spelling each
// character in one of the ways Python accepts.
func writeStringRepr(b *bytes.Buffer, rng *rand.Rand, s string) {
	quote := []byte(`'"`)[rng.IntN(2)]
	if rng.IntN(5) == 0 {
		b.WriteByte('u')
	}
	b.WriteByte(quote)
	for _, r := range s {
		short := map[rune]string{'\n': `\n`, '\r': `\r`, '\t': `\t`, '\a': `\a`, '\v': `\v`, '\f': `\f`, '\\': `\\`, '\'': `\'`, '"': `\"`}
		switch {
		case r == '\\' || r == rune(quote) || r == '\n' || r == '\r' || rng.IntN(3) == 0:
			if e, ok := short[r]; ok && rng.IntN(2) == 0 {
				b.WriteString(e)
			} else {
				writeEscape(b, rng, r)
			}
		default:
			b.WriteRune(r)
		}
		if rng.IntN(20) == 0 {
			b.WriteString("\\\n") // line continuation adds nothing
		}
	}
	b.WriteByte(quote)
}

func writeEscape(b *bytes.Buffer, rng *rand.Rand, r rune) {
	switch {
	case r < 0x100 && rng.IntN(2) == 0:
		fmt.Fprintf(b, `\x%02x`, r)
	case r < 0x200 && rng.IntN(2) == 0:
		fmt.Fprintf(b, `\%03o`, r)
	case r < 0x10000:
		fmt.Fprintf(b, `\u%04X`, r)
	case rng.IntN(2) == 0:
		hi, lo := (r-0x10000)>>10+0xD800, (r-0x10000)&0x3FF+0xDC00
		fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
	default:
		fmt.Fprintf(b, `\U%08x`, r)
	}
}

func FuzzConvert(f *testing.F) {
	for _, tc := range convertCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range errorCases {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	for _, tc := range limitCases() {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	f.Add([]byte(benchRepr))
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, converted, err := Convert(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("Convert modified its input")
		}
		if err != nil {
			offset, reason, ok := errorPosition(err)
			if !ok || reason == "" || offset < 0 || offset > len(in) {
				t.Fatalf("bad error %#v for %q", err, in)
			}
			if !utf8.ValidString(reason) {
				t.Fatalf("Reason is not valid UTF-8: %q", reason)
			}
			if out != nil || converted {
				t.Fatalf("error %v with out=%q converted=%v", err, out, converted)
			}
		} else {
			if !json.Valid(out) {
				t.Fatalf("Convert(%q) = %q: not valid JSON", in, out)
			}
			if converted && len(out) > MaxOutputBytes(len(in)) {
				t.Fatalf("Convert(%q) = %q: %d bytes, over MaxOutputBytes", in, out, len(out))
			}
			if converted == json.Valid(in) {
				t.Fatalf("converted=%v but json.Valid(in)=%v", converted, !converted)
			}
			if !converted && !bytes.Equal(out, in) {
				t.Fatalf("valid JSON %q changed to %q", in, out)
			}
			// json.Valid tolerates invalid UTF-8 in strings, so only
			// converted output is guaranteed to be UTF-8.
			if converted && !utf8.Valid(out) {
				t.Fatalf("Convert(%q) = %q: invalid UTF-8", in, out)
			}
		}

		// Deterministic, and AppendConvert agrees with Convert.
		prefix := []byte("prefix")
		out2, converted2, err2 := AppendConvert(prefix, in)
		if (err == nil) != (err2 == nil) || converted != converted2 {
			t.Fatalf("AppendConvert disagrees: %v/%v vs %v/%v", converted, err, converted2, err2)
		}
		if err != nil {
			if err.Error() != err2.Error() || string(out2) != "prefix" {
				t.Fatalf("AppendConvert error %v, out %q; Convert error %v", err2, out2, err)
			}
			return
		}
		if !bytes.Equal(out2, append([]byte("prefix"), out...)) {
			t.Fatalf("AppendConvert = %q, Convert = %q", out2, out)
		}

		// The output is JSON, so converting it again changes nothing.
		if again, conv, err := Convert(out); err != nil || conv || !bytes.Equal(again, out) {
			t.Fatalf("Convert(Convert(%q)) = %q, %v, %v", in, again, conv, err)
		}
	})
}

func BenchmarkConvertLegacy(b *testing.B) {
	in := []byte(benchRepr)
	b.Run("Convert", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Convert(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendConvert", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, _, err = AppendConvert(buf[:0], in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkConvertValidJSON(b *testing.B) {
	in, _, err := Convert([]byte(benchRepr))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Convert", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Convert(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendConvert", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, _, err = AppendConvert(buf[:0], in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
