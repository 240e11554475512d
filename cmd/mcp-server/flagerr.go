package main

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// maxSuggestions bounds the flags one mistake suggests: a short prefix can
// begin many ("--t": --tables, --task-id, --timestamp, ...).
const maxSuggestions = 4

// maxFlagEdits is how far a mistyped flag may be from the one suggested:
// two edits catch a slip of the keyboard (--dry-rn, --backup_path) without
// suggesting flags that merely share letters.
const maxFlagEdits = 2

// flagError turns a flag that could not be parsed into a usage error that
// points to the help of the command it was given to; for a flag the command
// does not have, it says which flag was probably meant. Cobra suggests
// commands for a mistyped command name, but no flags.
func flagError(cmd *cobra.Command, err error) error {
	u := usageError{error: err, command: cmd.CommandPath()}
	var unknown *pflag.NotExistError
	if errors.As(err, &unknown) {
		typed := unknown.GetSpecifiedName()
		if short := unknown.GetSpecifiedShortnames(); short != "" {
			// -truncate: a long name written with one dash, which pflag
			// reads as shorthands; the person meant a long flag. A single
			// letter is too little to guess from.
			typed = short
			if len(short) == 1 {
				return u
			}
		}
		u.hint = meantFlag(cmd, typed)
	}
	return u
}

// meantFlag says which flag the person probably meant by --typed: one of
// cmd's flags that it begins, else the commands that have --typed (a flag
// given to a command that does not read it), else one of cmd's flags a slip
// of the keyboard away.
func meantFlag(cmd *cobra.Command, typed string) string {
	typed = strings.ToLower(strings.ReplaceAll(typed, "_", "-"))
	names := suggestFlags(cmd.Flags(), typed)
	if len(names) == 0 || !strings.HasPrefix(names[0], typed) {
		if owners := commandsWithFlag(cmd.Root(), typed); len(owners) > 0 {
			return "--" + typed + " is a flag of " + wordList(owners, "and") + ", not of " + cmd.CommandPath() + "."
		}
	}
	if len(names) == 0 {
		return ""
	}
	for i, n := range names {
		names[i] = "--" + n
	}
	return "Did you mean " + wordList(names, "or") + "?"
}

// suggestFlags returns the flags of fs that typed most likely meant: those
// it begins (--truncate for --truncate-before-restore), shortest first;
// else those within maxFlagEdits edits of it, nearest first. typed is in
// lower case with dashes for underscores, since the tools' arguments are
// spelt with them (--backup_path). Hidden flags are not suggested.
func suggestFlags(fs *pflag.FlagSet, typed string) []string {
	var prefixed []string
	type near struct {
		name  string
		edits int
	}
	var nearby []near
	fs.VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Hidden:
		case strings.HasPrefix(f.Name, typed):
			prefixed = append(prefixed, f.Name)
		default:
			if d := editDistance(typed, f.Name); d <= maxFlagEdits {
				nearby = append(nearby, near{f.Name, d})
			}
		}
	})
	if len(prefixed) > 0 {
		slices.SortFunc(prefixed, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
		return prefixed[:min(len(prefixed), maxSuggestions)]
	}
	slices.SortFunc(nearby, func(a, b near) int { return cmp.Or(cmp.Compare(a.edits, b.edits), strings.Compare(a.name, b.name)) })
	var names []string
	for _, n := range nearby[:min(len(nearby), maxSuggestions)] {
		names = append(names, n.name)
	}
	return names
}

// commandsWithFlag lists the commands under root (root included) that have
// the flag name: a flag moved to the commands that read it is then found
// where it went.
func commandsWithFlag(root *cobra.Command, name string) []string {
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if f := c.Flags().Lookup(name); f != nil && !f.Hidden {
			out = append(out, c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// editDistance is the Levenshtein distance between a and b: the fewest
// inserted, deleted or replaced characters that turn one into the other.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(t)]
}

// wordList joins names as a sentence does: "a", "a or b", "a, b or c".
func wordList(names []string, conjunction string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + conjunction + " " + names[len(names)-1]
}
