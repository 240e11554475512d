package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

func (a *app) schemasCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schemas",
		Short: "Print the tools' JSON Schemas",
		Long: `schemas prints, as one JSON object on stdout, each tool's input schema (its
arguments, which are also the flags of list, inspect, restore and backup)
and output schema (its result, or the error object), as MCP clients get
them.`,
		Example: `  mcp-server schemas | jq '.restore_vector_backup.input.properties | keys'`,
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			all := map[string]map[string]json.RawMessage{}
			for _, t := range schemas.Tools() {
				all[t.Name] = map[string]json.RawMessage{"input": schemas.Input(t.Args), "output": schemas.Output(t.Result)}
			}
			return output{stdout: a.stdout}.printJSON(all)
		},
	}
}
