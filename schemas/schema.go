// Package schemas holds the argument and result types of every tool and the
// JSON Schemas generated from them. The types are the contract: the MCP tools,
// the legacy HTTP API and the command line all speak them, and the published
// schemas are generated from them, never written by hand.
package schemas

import (
	"encoding/json"
	"fmt"
	"reflect"

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
	// Inline every definition: several MCP clients do not follow $ref.
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
func Output(result any) json.RawMessage {
	r := reflector().Reflect(result)
	r.Version = ""
	return mustMarshal(map[string]any{
		"type":  "object",
		"oneOf": []any{r, errorSchema()},
	})
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
	s.Description = "Error object of an isError result; fields beyond these carry details (param, missing_params, file, line, ...)."
	s.AdditionalProperties = jsonschema.TrueSchema
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
