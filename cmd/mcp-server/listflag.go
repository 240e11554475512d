package main

import (
	"errors"
	"strings"
)

// listFlag is the flag of an argument that is a list of names
// (--collections, --tables): comma-separated, or the flag repeated, or
// both. A name that holds a comma, or starts with a double quote, is written
// in double quotes with "" for each quote in it, as in CSV: --collections
// '"a,b"' is the one collection a,b. Unlike pflag's StringSlice (which reads
// through encoding/csv, and turns a CR LF inside quotes into LF), it gives
// back every name exactly, so that the commands this program prints (an
// undo) parse back to exactly their values.
type listFlag struct {
	values *[]string
	set    bool // by the command line: the first value replaces the default
}

func (l *listFlag) Type() string { return "strings" }

func (l *listFlag) String() string {
	items := make([]string, len(*l.values))
	for i, v := range *l.values {
		items[i] = listItem(v)
	}
	return strings.Join(items, ",")
}

func (l *listFlag) Set(s string) error {
	names, err := parseList(s)
	if err != nil {
		return err
	}
	if !l.set {
		*l.values, l.set = nil, true
	}
	*l.values = append(*l.values, names...)
	return nil
}

// parseList splits a flag's value into names: at commas, but not inside
// double quotes. Outside quotes, a quote is an ordinary character (q"uote).
// An empty value holds no names.
func parseList(s string) ([]string, error) {
	var names []string
	for s != "" {
		var name string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return nil, errors.New(`a name opened with " is not closed; write a quote inside a quoted name as ""`)
				}
				b.WriteString(s[i : i+j])
				i += j + 1
				if !strings.HasPrefix(s[i:], `"`) {
					break
				}
				b.WriteByte('"') // "" stands for one quote
				i++
			}
			name, s = b.String(), s[i:]
			if s != "" && s[0] != ',' {
				return nil, errors.New(`a quoted name must be followed by a comma or the end of the value`)
			}
		} else {
			j := strings.IndexByte(s, ',')
			if j < 0 {
				j = len(s)
			}
			name, s = s[:j], s[j:]
		}
		names = append(names, name)
		if s == "" {
			break
		}
		s = s[1:] // the comma
		if s == "" {
			names = append(names, "") // a trailing comma: an empty name, which validation refuses
		}
	}
	return names, nil
}

// listItem writes one name as parseList reads it back alone: quoted when it
// holds a comma, starts with a quote, or is empty.
func listItem(name string) string {
	if name != "" && !strings.HasPrefix(name, `"`) && !strings.Contains(name, ",") {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
