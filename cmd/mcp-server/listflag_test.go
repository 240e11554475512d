package main

import (
	"slices"
	"testing"
)

// TestListFlag reads lists as --collections and --tables take them, and
// checks that every name, whatever it holds, is read back exactly from what
// a printed command gives for it.
func TestListFlag(t *testing.T) {
	for in, want := range map[string][]string{
		"":                         nil,
		"sql":                      {"sql"},
		"sql,ddl":                  {"sql", "ddl"},
		`"a,b",q"uote`:             {"a,b", `q"uote`},
		`"say ""hi""",x`:           {`say "hi"`, "x"},
		"sql,":                     {"sql", ""},
		`""`:                       {""},
		"two\r\nlines,x":           {"two\r\nlines", "x"},
		`"two` + "\r\n" + `lines"`: {"two\r\nlines"},
	} {
		got, err := parseList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseList(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"open`, `"a"b`} {
		if _, err := parseList(bad); err == nil {
			t.Errorf("parseList(%q) accepted", bad)
		}
	}
	for _, name := range []string{"sql", "a,b", `q"uote`, `"lead`, "", "x\r\ny", ",", `""`} {
		got, err := parseList(listItem(name))
		if err != nil || len(got) != 1 || got[0] != name {
			t.Errorf("%q written as %q reads back as %q, %v", name, listItem(name), got, err)
		}
	}

	var v []string
	f := &listFlag{values: &v}
	for _, s := range []string{"sql,ddl", `"a,b"`} {
		if err := f.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(v, []string{"sql", "ddl", "a,b"}) {
		t.Errorf("repeated flag: %q", v)
	}
}
