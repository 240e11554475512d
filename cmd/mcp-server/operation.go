package main

import (
	"github.com/spf13/cobra"

	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// operation is what the list, inspect, restore and backup commands share:
// their tool's arguments as flags, --json, and the service they call.
type operation struct {
	tool string
	args *toolArgs
	json bool
}

// operationAnnotation marks the commands that run one operation for a
// person, rather than serve.
const operationAnnotation = "operation"

// bind declares the operation's flags on cmd: its tool's arguments (but
// skip) and --json.
func (op *operation) bind(cmd *cobra.Command, tool string, args any, skip ...string) {
	op.tool = tool
	cmd.Annotations = map[string]string{operationAnnotation: tool}
	op.args = bindToolArgs(cmd.Flags(), args, skip...)
	cmd.Flags().BoolVar(&op.json, "json", false, "print exactly the tool's structured content (the result, or the error object) on stdout, and nothing else")
	cmd.Args = noArgs
}

// prepare decodes the flags into dst through the tools' validator, and
// builds the service. A bad argument is printed as the tool would answer it.
func (a *app) prepare(op *operation, dst any) (*service.Service, output, error) {
	out := output{stdout: a.stdout, stderr: a.stderr, json: op.json}
	v, err := schemas.NewValidator()
	if err != nil {
		return nil, out, err
	}
	if err := v.Decode(op.tool, op.args.json(), dst); err != nil {
		return nil, out, out.failure(err)
	}
	svc, err := a.cfg.service(a.logger)
	if err != nil {
		return nil, out, err
	}
	return svc, out, nil
}
