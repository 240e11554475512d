package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/vectorops/pgvector-backup-mcp/display"
)

// toolArgs gives a command one flag per argument of its tool, named as the
// argument with - for _ (--backup-path, --truncate-before-restore), typed
// and described as the argument's Go type says. It turns the flags a person
// set into the tool's JSON arguments, which then pass the tools' own
// validator: the command line and the MCP tools take the same arguments
// with the same rules, from one definition.
type toolArgs struct {
	fs    *pflag.FlagSet
	names map[string]string // flag → argument
	get   map[string]func() any
}

// bindToolArgs declares on fs a flag for each argument of the struct args,
// but those in skip.
func bindToolArgs(fs *pflag.FlagSet, args any, skip ...string) *toolArgs {
	ta := &toolArgs{fs: fs, names: map[string]string{}, get: map[string]func() any{}}
	t := reflect.TypeOf(args)
	for i := range t.NumField() {
		f := t.Field(i)
		arg, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if arg == "" || arg == "-" || slices.Contains(skip, arg) {
			continue
		}
		flag := strings.ReplaceAll(arg, "_", "-")
		usage := f.Tag.Get("jsonschema_description") // whole: examples included
		switch f.Type.Kind() {
		case reflect.String:
			v := fs.String(flag, "", usage)
			ta.get[flag] = func() any { return *v }
		case reflect.Bool:
			v := fs.Bool(flag, false, usage)
			ta.get[flag] = func() any { return *v }
		case reflect.Int:
			v := fs.Int(flag, 0, usage)
			ta.get[flag] = func() any { return *v }
		case reflect.Slice:
			var v []string
			fs.Var(&listFlag{values: &v}, flag, usage+` Comma-separated, or the flag repeated; "a,b" in double quotes is one name.`)
			ta.get[flag] = func() any { return append([]string{}, v...) }
		case reflect.Pointer: // *bool: an argument whose default is true
			def := strings.Contains(f.Tag.Get("jsonschema"), "default=true")
			v := fs.Bool(flag, def, usage)
			ta.get[flag] = func() any { return *v }
		default:
			panic(fmt.Sprintf("no flag for argument %s of type %s", arg, f.Type)) // a new argument type: caught by any test
		}
		ta.names[flag] = arg
	}
	return ta
}

// json returns the tool's arguments as a JSON object: the flags the person
// set, and no others, so the tool's own defaults apply to the rest.
func (ta *toolArgs) json() []byte {
	args := map[string]any{}
	ta.fs.Visit(func(f *pflag.Flag) {
		if arg, ok := ta.names[f.Name]; ok {
			args[arg] = ta.get[f.Name]()
		}
	})
	b, _ := json.Marshal(args) // strings, bools, ints and string slices
	return b
}

// commandLine renders tool arguments as this command's flags, for a person
// to run (an undo).
func commandLine(command string, args any) string {
	var parts []string
	v := reflect.ValueOf(args)
	t := v.Type()
	for i := range t.NumField() {
		arg, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		flag := "--" + strings.ReplaceAll(arg, "_", "-")
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			if f.String() != "" {
				parts = append(parts, flag+" "+shellQuote(f.String()))
			}
		case reflect.Bool:
			if f.Bool() {
				parts = append(parts, flag)
			}
		case reflect.Slice:
			// One flag per value: it parses back as exactly that value,
			// whatever commas or quotes it holds.
			for _, item := range f.Interface().([]string) {
				parts = append(parts, flag+" "+shellQuote(listItem(item)))
			}
		case reflect.Pointer:
			if !f.IsNil() && !f.Elem().Bool() {
				parts = append(parts, flag+"=false")
			}
		}
	}
	return "mcp-server " + command + " " + strings.Join(parts, " ")
}

// shellQuote quotes s for a shell when it needs it. A value with a control
// character (or a byte that is not UTF-8) goes in $'...', with those
// characters as escapes: the printed command shows them as data (no escape
// sequence reaches the terminal), and bash, zsh, ksh and POSIX.1-2024 sh
// give back exactly the value. Their bytes are written as \xHH, not \uHHHH,
// which a shell decodes by its locale.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,@=") == "" {
		return s
	}
	if !display.NeedsEscape(s) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case size == 1 && r == utf8.RuneError || display.IsControl(r):
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}
