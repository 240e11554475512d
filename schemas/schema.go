// Package schemas holds the argument and result types of every tool and the
// JSON Schemas generated from them. The types are the contract: the MCP tools,
// the legacy HTTP API and the command line all speak them, and the published
// schemas are generated from them, never written by hand.
package schemas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// The tools' names: written here once, used by every front end.
const (
	ListTool    = "list_vector_backups"
	InspectTool = "inspect_vector_backup"
	RestoreTool = "restore_vector_backup"
	CreateTool  = "create_vector_backup"
)

// Tool pairs a tool's argument and result types.
type Tool struct {
	Name   string
	Args   any // zero value of the argument type
	Result any // zero value of the result type
}

// Tools lists every tool's types, in the order tools are served (a new
// slice each call).
func Tools() []Tool {
	return []Tool{
		{Name: ListTool, Args: ListArgs{}, Result: ListResult{}},
		{Name: InspectTool, Args: InspectArgs{}, Result: InspectResult{}},
		{Name: RestoreTool, Args: RestoreArgs{}, Result: RestoreResult{}},
		{Name: CreateTool, Args: CreateArgs{}, Result: CreateResult{}},
	}
}

// HTTPBodies lists the argument types only the legacy HTTP API takes, by
// the name the validator knows them under; they are validated like the
// tools' arguments.
func HTTPBodies() []Tool {
	return []Tool{{Name: LegacyBackupBody, Args: LegacyBackupArgs{}}}
}

// LegacyBackupBody names the body of POST /api/v0/data_pipeline/vector/backup.
const LegacyBackupBody = "http_vector_backup"

func reflector() *jsonschema.Reflector {
	// Inline every definition: several MCP clients do not follow $ref, and
	// they build forms from the input schemas.
	return &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, Anonymous: true}
}

// Input returns the JSON Schema of an argument type: an object whose unknown
// properties are rejected.
func Input(args any) json.RawMessage {
	s := reflector().Reflect(args)
	s.Version = ""
	return mustMarshal(s)
}

// Output returns the JSON Schema of a tool's structured content: the result
// or, for an error result, the error object. Official SDK clients validate
// error results against the output schema too, hence the oneOf.
//
// Every connected model reads the output schemas, so they are kept small: a
// type used more than once is defined once, under $defs, and referenced
// (#/$defs/Name: JSON Schema 2020-12, which the SDKs' validators resolve);
// a type used once is inlined. An argument type inside a result (a
// restore's undo) keeps only its shape: its meaning is in that tool's input
// schema.
func Output(result any) json.RawMessage {
	r := (&jsonschema.Reflector{ExpandedStruct: true, Anonymous: true}).Reflect(result)
	defs := r.Definitions
	r.Version, r.Definitions = "", nil
	for _, t := range Tools() {
		if d, ok := defs[reflect.TypeOf(t.Args).Name()]; ok {
			walk(d, stripAnnotations)
		}
	}
	uses := map[string]int{}
	countRefs(r, defs, uses)
	shared := jsonschema.Definitions{}
	var inline func(*jsonschema.Schema)
	inline = func(s *jsonschema.Schema) {
		walk(s, func(s *jsonschema.Schema) {
			name, ok := strings.CutPrefix(s.Ref, defsPrefix)
			if !ok {
				return
			}
			if uses[name] > 1 {
				if _, done := shared[name]; !done {
					shared[name] = defs[name]
					inline(defs[name])
				}
				return
			}
			about := s.Description // the field's, beside its $ref
			*s = *defs[name]       // walk goes on into what s now holds
			if about != "" {
				s.Description = about
			}
		})
	}
	inline(r)
	out := &jsonschema.Schema{Type: "object", OneOf: []*jsonschema.Schema{r, errorSchema()}}
	if len(shared) > 0 {
		out.Definitions = shared
	}
	walk(out, dropEnumType)
	for _, d := range shared {
		walk(d, dropEnumType)
	}
	return mustMarshal(out)
}

// dropEnumType drops "type": "string" beside an enum of strings, which
// says it already.
func dropEnumType(s *jsonschema.Schema) {
	if s.Type != "string" || len(s.Enum) == 0 {
		return
	}
	for _, v := range s.Enum {
		if _, ok := v.(string); !ok {
			return
		}
	}
	s.Type = ""
}

const defsPrefix = "#/$defs/"

// countRefs counts the references to each definition reachable from s,
// following a definition's own references once.
func countRefs(s *jsonschema.Schema, defs jsonschema.Definitions, uses map[string]int) {
	walk(s, func(s *jsonschema.Schema) {
		if name, ok := strings.CutPrefix(s.Ref, defsPrefix); ok {
			uses[name]++
			if uses[name] == 1 {
				countRefs(defs[name], defs, uses)
			}
		}
	})
}

// walk calls f on s and on every schema under it, parents first; it does
// not follow references.
func walk(s *jsonschema.Schema, f func(*jsonschema.Schema)) {
	if s == nil {
		return
	}
	f(s)
	if s.Properties != nil {
		for p := s.Properties.Oldest(); p != nil; p = p.Next() {
			walk(p.Value, f)
		}
	}
	for _, sub := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
		for _, x := range sub {
			walk(x, f)
		}
	}
	for _, x := range []*jsonschema.Schema{s.Items, s.AdditionalProperties, s.Not} {
		walk(x, f)
	}
}

// stripAnnotations leaves a schema's shape: what it accepts, not what it
// tells.
func stripAnnotations(s *jsonschema.Schema) {
	s.Title, s.Description, s.Default, s.Examples = "", "", nil, nil
}

// ErrorResult is the structured content of every error result.
type ErrorResult struct {
	ErrorType string `json:"error_type"`
	Message   string `json:"message"`
}

// Error returns the JSON Schema of the error object.
func Error() json.RawMessage { return mustMarshal(errorSchema()) }

func errorSchema() *jsonschema.Schema {
	s := reflector().Reflect(ErrorResult{})
	s.Version = ""
	s.Description = "Error object of an isError result; more fields carry details (param, missing_params, file, line, ...)."
	s.AdditionalProperties = nil // allowed: the details
	types := make([]any, len(apierr.Types()))
	for i, t := range apierr.Types() {
		types[i] = string(t)
	}
	if p, ok := s.Properties.Get("error_type"); ok {
		p.Enum = types
	}
	return s
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// The inputs are this package's own types; failing here is a bug.
		panic(fmt.Sprintf("marshal schema of %v: %v", reflect.TypeOf(v), err))
	}
	return b
}
