package schemas_test

import (
	"testing"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
)

func TestValidatorDecode(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tool, args string
		want             apierr.Type // "" for success
		param            string
	}{
		{"list without arguments", "list_vector_backups", ``, "", ""},
		{"list with null", "list_vector_backups", `null`, "", ""},
		{"list with all", "list_vector_backups", `{"global_only":true,"task_id":"task_1","limit":5,"cursor":"x"}`, "", ""},
		{"limit zero", "list_vector_backups", `{"limit":0}`, apierr.InvalidParams, "limit"},
		{"limit too big", "list_vector_backups", `{"limit":1001}`, apierr.InvalidParams, "limit"},
		{"limit a string", "list_vector_backups", `{"limit":"5"}`, apierr.InvalidParams, "limit"},
		{"limit fractional", "list_vector_backups", `{"limit":2.5}`, apierr.InvalidParams, "limit"},
		{"task id with a slash", "list_vector_backups", `{"task_id":"../x"}`, apierr.InvalidParams, "task_id"},
		{"unknown argument", "list_vector_backups", `{"global":true}`, apierr.InvalidParams, "global"},
		{"arguments an array", "list_vector_backups", `[1]`, apierr.InvalidParams, "arguments"},
		{"restore minimal", "restore_vector_backup", `{"backup_path":"./a","timestamp":"20250721_215758"}`, "", ""},
		{"restore latest", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest"}`, "", ""},
		{"restore missing both", "restore_vector_backup", `{}`, apierr.MissingRequiredParams, ""},
		{"restore missing timestamp", "restore_vector_backup", `{"backup_path":"./a"}`, apierr.MissingRequiredParams, ""},
		{"timestamp bad shape", "restore_vector_backup", `{"backup_path":"./a","timestamp":"2025-07-21"}`, apierr.InvalidParams, "timestamp"},
		{"timestamp a number", "restore_vector_backup", `{"backup_path":"./a","timestamp":20250721}`, apierr.InvalidParams, "timestamp"},
		{"backup path empty", "restore_vector_backup", `{"backup_path":"","timestamp":"latest"}`, apierr.InvalidParams, "backup_path"},
		{"unknown table", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest","tables":["users"]}`, apierr.InvalidParams, "tables"},
		{"table shaped like SQL", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest","tables":["langchain_pg_embedding; DROP TABLE x"]}`, apierr.InvalidParams, "tables"},
		{"tables empty", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest","tables":[]}`, apierr.InvalidParams, "tables"},
		{"tables repeated", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest","tables":["langchain_pg_embedding","langchain_pg_embedding"]}`, apierr.InvalidParams, "tables"},
		{"truncate a string", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest","truncate_before_restore":"yes"}`, apierr.InvalidParams, "truncate_before_restore"},
		{"db_connection a number", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest","db_connection":5}`, apierr.InvalidParams, "db_connection"},
		{"restore unknown argument", "restore_vector_backup", `{"backup_path":"./a","timestamp":"latest","force":true}`, apierr.InvalidParams, "force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst map[string]any
			err := v.Decode(tt.tool, []byte(tt.args), &dst)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			e, ok := apierr.As(err)
			if !ok || e.Type != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if tt.param != "" && e.Details["param"] != tt.param {
				t.Errorf("param %v, want %s (message %q)", e.Details["param"], tt.param, e.Message)
			}
			if tt.want == apierr.MissingRequiredParams && len(e.Details["missing_params"].([]string)) == 0 {
				t.Errorf("no missing_params in %v", e.Details)
			}
		})
	}
}
