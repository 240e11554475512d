package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Validator checks a tool's raw arguments against its published input schema
// and decodes them, so that every front end rejects the same calls with the
// same errors before any handler runs.
type Validator struct {
	compiled map[string]*jsonschema.Schema
	props    map[string][]string          // tool → its argument names, for messages
	types    map[string]map[string]string // tool → argument → JSON type, for query strings
}

// NewValidator compiles the input schema of every tool in Tools and every
// body in HTTPBodies.
func NewValidator() (*Validator, error) {
	v := &Validator{compiled: map[string]*jsonschema.Schema{}, props: map[string][]string{}, types: map[string]map[string]string{}}
	for _, t := range append(Tools(), HTTPBodies()...) {
		raw := Input(t.Args)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("decode input schema of %s: %w", t.Name, err)
		}
		c := jsonschema.NewCompiler()
		url := "mem:///" + t.Name + ".input.json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("add input schema of %s: %w", t.Name, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compile input schema of %s: %w", t.Name, err)
		}
		v.compiled[t.Name] = s
		var shape struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		}
		_ = json.Unmarshal(raw, &shape)
		v.types[t.Name] = map[string]string{}
		for name, p := range shape.Properties {
			v.props[t.Name] = append(v.props[t.Name], name)
			v.types[t.Name][name] = p.Type
		}
		sort.Strings(v.props[t.Name])
	}
	return v, nil
}

// Decode validates raw (a JSON object; empty means {}) against tool's schema
// and decodes it into dst. Failures are MISSING_REQUIRED_PARAMS or
// INVALID_PARAMS naming the argument.
func (v *Validator) Decode(tool string, raw []byte, dst any) error {
	s, ok := v.compiled[tool]
	if !ok {
		return apierr.New(apierr.InvalidParams, "unknown tool %q", tool)
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		raw = []byte("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return apierr.New(apierr.InvalidParams, "arguments are not valid JSON: %v", err)
	}
	if err := s.Validate(inst); err != nil {
		return v.explain(tool, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return apierr.New(apierr.InvalidParams, "arguments do not fit %s: %v", tool, err)
	}
	return nil
}

// DecodeQuery validates and decodes a URL query as tool's arguments: each
// parameter is read as its argument's JSON type (booleans as true/false or
// 1/0, integers in decimal), then checked exactly as Decode checks a body.
// An empty value counts as absent, as the old service read it.
func (v *Validator) DecodeQuery(tool string, q url.Values, dst any) error {
	args := map[string]any{}
	for name, values := range q {
		if len(values) > 1 {
			return apierr.New(apierr.InvalidParams, "argument %s is given %d times; give it once", name, len(values)).With("param", name)
		}
		value := values[0]
		if value == "" {
			continue
		}
		switch v.types[tool][name] {
		case "boolean":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return apierr.New(apierr.InvalidParams, "argument %s: %q is not true or false", name, value).With("param", name)
			}
			args[name] = b
		case "integer":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return apierr.New(apierr.InvalidParams, "argument %s: %q is not a whole number", name, value).With("param", name)
			}
			args[name] = n
		default: // strings, and unknown names, which Decode reports
			args[name] = value
		}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return err
	}
	return v.Decode(tool, raw, dst)
}

var printer = message.NewPrinter(language.English)

// explain turns a schema validation error into one apierr.Error: missing
// arguments first (the commonest slip), then unknown names, then the first
// bad value.
func (v *Validator) explain(tool string, err error) error {
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return apierr.New(apierr.InvalidParams, "arguments rejected: %v", err)
	}
	var missing, unknown []string
	var bad []*jsonschema.ValidationError
	for _, leaf := range leaves(verr) {
		switch k := leaf.ErrorKind.(type) {
		case *kind.Required:
			if len(leaf.InstanceLocation) == 0 {
				missing = append(missing, k.Missing...)
				continue
			}
		case *kind.AdditionalProperties:
			if len(leaf.InstanceLocation) == 0 {
				unknown = append(unknown, k.Properties...)
				continue
			}
		}
		bad = append(bad, leaf)
	}
	switch {
	case len(missing) > 0:
		return apierr.MissingParams(missing...)
	case len(unknown) > 0:
		return apierr.New(apierr.InvalidParams, "unknown argument(s) %s; %s takes only: %s",
			strings.Join(unknown, ", "), tool, strings.Join(v.props[tool], ", ")).
			With("param", unknown[0]).With("unknown_params", unknown)
	case len(bad) > 0:
		leaf := bad[0]
		param := "arguments"
		if len(leaf.InstanceLocation) > 0 {
			param = leaf.InstanceLocation[0]
		}
		where := strings.Join(leaf.InstanceLocation, "/")
		if where == "" {
			where = "arguments"
		}
		return apierr.New(apierr.InvalidParams, "argument %s: %s; see the tool's input schema for the allowed values",
			where, describe(leaf.ErrorKind)).
			With("param", param)
	}
	return apierr.New(apierr.InvalidParams, "arguments rejected: %v", err)
}

// leaves returns the innermost causes, which name the actual violations.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// patternForms says in words what the schemas' patterns accept: a person
// or a model reads "like 20250721_215758", not a regular expression with
// its escapes doubled.
var patternForms = map[string]string{
	`^(\d{8}_\d{6}|latest)$`: "a set's timestamp like 20250721_215758, or latest",
	`^\d{8}_\d{6}$`:          "a set's timestamp like 20250721_215758",
	`^[^/\\]+$`:              "a folder name, without / or \\",
}

// describe words one validation failure.
func describe(k jsonschema.ErrorKind) string {
	if p, ok := k.(*kind.Pattern); ok {
		if form, ok := patternForms[p.Want]; ok {
			return fmt.Sprintf("%q is not %s", p.Got, form)
		}
		return fmt.Sprintf("%q does not match the pattern %s", p.Got, p.Want)
	}
	return k.LocalizedString(printer)
}
