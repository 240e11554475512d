package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"yes", "yes", 0},
		{"", "yes", 3},
		{"dry-rn", "dry-run", 1},
		{"timestmap", "timestamp", 2},
		{"http", "help", 2},
		{"colour", "json", 5},
		{"ünïcode", "unicode", 2}, // characters, not bytes
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestSuggestFlags: flags the typed name begins come first, shortest first;
// else the nearest within two edits; hidden flags never.
func TestSuggestFlags(t *testing.T) {
	fs := pflag.NewFlagSet("restore", pflag.ContinueOnError)
	for _, name := range []string{"truncate-before-restore", "tables", "timestamp", "task-id", "dry-run", "db-connection", "backup-path", "yes", "help"} {
		fs.Bool(name, false, "")
	}
	fs.String("database-url", "", "")
	fs.MarkHidden("database-url")
	for _, tc := range []struct {
		typed string
		want  []string
	}{
		{"truncate", []string{"truncate-before-restore"}},
		{"t", []string{"tables", "task-id", "timestamp", "truncate-before-restore"}}, // at most four
		{"ta", []string{"tables", "task-id"}},
		{"backup-path", []string{"backup-path"}}, // typed as backup_path
		{"dry-rn", []string{"dry-run"}},
		{"yess", []string{"yes"}},
		{"timestmap", []string{"timestamp"}},
		{"data", nil}, // only a hidden flag begins with it
		{"colour", nil},
	} {
		if got := suggestFlags(fs, tc.typed); !slices.Equal(got, tc.want) {
			t.Errorf("suggestFlags(%q) = %v, want %v", tc.typed, got, tc.want)
		}
	}
}

func TestWordList(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "b"}, "a or b"},
		{[]string{"a", "b", "c"}, "a, b or c"},
	} {
		if got := wordList(tc.in, "or"); got != tc.want {
			t.Errorf("wordList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
