package schemas

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
)

// Tool pairs a tool's argument and result types.
type Tool struct {
	Name   string
	Args   any // zero value of the argument type
	Result any // zero value of the result type
}

// Tools lists every tool's types, in the order tools are served.
var Tools = []Tool{
	{Name: "list_vector_backups", Args: ListArgs{}, Result: ListResult{}},
	{Name: "inspect_vector_backup", Args: InspectArgs{}, Result: InspectResult{}},
	{Name: "restore_vector_backup", Args: RestoreArgs{}, Result: RestoreResult{}},
	{Name: "create_vector_backup", Args: CreateArgs{}, Result: CreateResult{}},
}

// HTTPBodies lists the argument types only the legacy HTTP API takes, by
// the name the validator knows them under; they are validated like the
// tools' arguments.
var HTTPBodies = []Tool{
	{Name: LegacyBackupBody, Args: LegacyBackupArgs{}},
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

// Error returns the JSON Schema of the error object.
func Error() json.RawMessage { return mustMarshal(errorSchema()) }

func errorSchema() *jsonschema.Schema {
	s := reflector().Reflect(ErrorResult{})
	s.Version = ""
	s.Description = "Error object of an isError result; fields beyond these carry details (param, missing_params, file, line, ...)."
	s.AdditionalProperties = jsonschema.TrueSchema
	types := make([]any, len(apierr.Types))
	for i, t := range apierr.Types {
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
