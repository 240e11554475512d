package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/schemas"
	"github.com/vectorops/pgvector-backup-mcp/service"
)

// list serves GET .../restore/list?global_only=&task_id=. Without limit it
// answers every set, as the old service did; limit and cursor page as the
// MCP tool does.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	var args schemas.ListArgs
	if err := h.validator.DecodeQuery(schemas.ListTool, r.URL.Query(), &args); err != nil {
		writeError(w, err)
		return
	}
	list := h.svc.ListAll
	if args.Limit > 0 || args.Cursor != "" {
		list = h.svc.List
	}
	res, err := list(r.Context(), args)
	if err != nil {
		writeError(w, err)
		return
	}
	response := "未找到任何可用的备份文件"
	if n := res.Summary.TotalBackupSets; n > 0 {
		response = fmt.Sprintf("成功扫描到 %d 个备份位置，共 %d 个备份集", res.Summary.TotalLocations, n)
	}
	writeOK(w, struct {
		Response string `json:"response"`
		*schemas.ListResult
		Timestamp string `json:"timestamp"`
	}{response, res, now()})
}

// restore serves POST .../restore: the same arguments and the same all or
// nothing restore as the MCP tool, run without asking (the old service
// never asked; the token and Origin checks keep strangers out).
func (h *Handler) restore(w http.ResponseWriter, r *http.Request) {
	var args schemas.RestoreArgs
	if err := h.body(r, schemas.RestoreTool, &args); err != nil {
		writeError(w, err)
		return
	}
	if args.ConfirmToken != "" {
		writeError(w, apierr.New(apierr.InvalidParams,
			"confirm_token is for MCP clients; this HTTP API restores without asking for confirmation: drop confirm_token").
			With("param", "confirm_token"))
		return
	}
	res, err := h.svc.Restore(r.Context(), args, service.RestoreOptions{Unattended: true})
	if err != nil {
		h.callFailed(r, "restore", err)
		writeError(w, err)
		return
	}
	response := "Vector表恢复完成"
	if res.DryRun {
		response = "Vector表恢复预演完成，未写入任何数据"
	}
	writeOK(w, struct {
		Response string `json:"response"`
		*schemas.RestoreResult
	}{response, res}) // its timestamp: when the restore committed
}

// backup serves POST .../backup: create_vector_backup's arguments and the
// old endpoint's switches.
func (h *Handler) backup(w http.ResponseWriter, r *http.Request) {
	var args schemas.LegacyBackupArgs
	if err := h.body(r, schemas.LegacyBackupBody, &args); err != nil {
		writeError(w, err)
		return
	}
	if args.TruncateVectorTables {
		writeError(w, apierr.New(apierr.InvalidParams,
			"truncate_vector_tables=true is refused: this server never empties tables from the backup endpoint; back up here, then roll back with POST %s and truncate_before_restore=true", RestorePath).
			With("param", "truncate_vector_tables"))
		return
	}
	if args.BackupVectorTables != nil && !*args.BackupVectorTables {
		writeOK(w, map[string]any{
			"response": "未执行备份（backup_vector_tables=false）", "backup_performed": false, "truncate_performed": false,
			"tables_backed_up": map[string]any{}, "errors": []string{}, "duration": 0,
		})
		return
	}
	res, err := h.svc.Create(r.Context(), args.CreateArgs)
	if err != nil {
		h.callFailed(r, "backup", err)
		writeError(w, err)
		return
	}
	writeOK(w, struct {
		Response string `json:"response"`
		*schemas.CreateResult
		TruncatePerformed bool `json:"truncate_performed"`
	}{"Vector表备份完成", res, false}) // its timestamp: the new set's
}

// health serves GET /health: whether the server's database answers. It
// needs no token, so it says no more than that.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	data := map[string]any{"version": h.opts.Version}
	if err := h.svc.Ping(ctx); err != nil {
		h.log.Warn("health check: the database does not answer", "err", err)
		data["status"], data["database"], data["response"] = "unhealthy", "unreachable", "数据库无法连接"
		write(w, http.StatusServiceUnavailable, data)
		return
	}
	data["status"], data["database"], data["response"] = "healthy", "ok", "服务运行正常"
	write(w, http.StatusOK, data)
}

// healthTimeout bounds a health check's wait for the database.
const healthTimeout = 3 * time.Second

// body validates and decodes a POST body as the named arguments. Only a
// request that says Content-Type: application/json has its body read;
// any other counts as {}, as the old service did, so a browser's form post
// fails validation and changes nothing.
func (h *Handler) body(r *http.Request, name string, dst any) error {
	raw := []byte("{}")
	if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mediaType == "application/json" {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return fmt.Errorf("read the request body: %w", err) // the guard buffered it: this cannot fail
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return apierr.New(apierr.InvalidParams,
				"request body is not valid JSON (%v); send a JSON object such as {\"backup_path\": \"...\", \"timestamp\": \"...\"}", err).
				With("param", "body")
		}
		raw = b
	}
	return h.validator.Decode(name, raw, dst)
}

// callFailed logs a failed call; a client that went away cancelled it.
func (h *Handler) callFailed(r *http.Request, op string, err error) {
	if r.Context().Err() != nil {
		h.log.Warn("call cancelled: the client disconnected or the server is stopping; nothing was changed",
			"op", op, "error_type", apierr.TypeOf(err))
	}
}
