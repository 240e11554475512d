package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vectorops/pgvector-backup-mcp/apierr"
	"github.com/vectorops/pgvector-backup-mcp/dbaccess"
	"github.com/vectorops/pgvector-backup-mcp/layout"
)

// envelope is the old service's answer: the HTTP status is always Code.
type envelope struct {
	Code    int    `json:"code"`
	Success bool   `json:"success"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// statusText is the old service's message per status.
var statusText = map[int]string{
	http.StatusOK:                    "操作成功",
	http.StatusBadRequest:            "请求参数错误",
	http.StatusUnauthorized:          "未授权访问",
	http.StatusForbidden:             "禁止访问",
	http.StatusNotFound:              "资源未找到",
	http.StatusMethodNotAllowed:      "请求方法不允许",
	http.StatusRequestTimeout:        "请求超时",
	http.StatusConflict:              "请求冲突",
	http.StatusRequestEntityTooLarge: "请求体过大",
	http.StatusInternalServerError:   "系统内部错误",
	http.StatusServiceUnavailable:    "服务暂不可用",
}

// statusOf maps the contract's error types onto HTTP statuses: the old
// service's 400, 404 and 500, FORBIDDEN as 403, and the newer types as the
// caller's fault (400) or a clash with the target's state (409). A
// cancelled call is 503: it is neither, and it tells a script to retry.
func statusOf(t apierr.Type) int {
	switch t {
	case apierr.MissingRequiredParams, apierr.InvalidParams, apierr.BackupCorrupt:
		return http.StatusBadRequest
	case apierr.ResourceNotFound:
		return http.StatusNotFound
	case apierr.Forbidden:
		return http.StatusForbidden
	case apierr.SchemaMismatch, apierr.Conflict, apierr.ConfirmationRequired:
		return http.StatusConflict
	case apierr.Cancelled:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeOK answers 200 with data, a struct holding the old service's
// sentence as Response and the core's result embedded (its fields promote
// into data, in one encoding pass: a list of every set runs to megabytes).
func writeOK(w http.ResponseWriter, data any) {
	write(w, http.StatusOK, data)
}

// now is the answer's timestamp, as the old service gave it.
func now() string { return time.Now().Format(time.RFC3339) }

// writeError answers with err's status, its type and details in data, and
// in response the old service's sentence where it had one for this case,
// else the message (which then says what to do next).
func writeError(w http.ResponseWriter, err error) {
	e := apierr.From(err)
	data := e.Fields()
	if legacy := legacyResponse(e); legacy != "" {
		data["response"] = legacy
		data["detail"] = e.Message
	} else {
		data["response"] = e.Message
	}
	if e.Type == apierr.DatabaseError {
		data["can_retry"] = true
	}
	status := statusOf(e.Type)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	write(w, status, data)
}

// legacyResponse is the old service's sentence for the errors it had, told
// apart by type and details, never by message text; "" for the others.
func legacyResponse(e *apierr.Error) string {
	str := func(key string) string { s, _ := e.Details[key].(string); return s }
	switch {
	case e.Type == apierr.MissingRequiredParams:
		return "缺少必需参数: " + strings.Join(e.Missing, ", ")
	case e.Type == apierr.ResourceNotFound && e.Param == "backup_path":
		return "备份目录不存在: " + str("backup_path")
	case e.Type == apierr.ResourceNotFound && e.Param == "task_id":
		return "指定的任务目录不存在: " + str("task_id")
	case e.Type == apierr.ResourceNotFound && e.Param == "timestamp" && str("timestamp") != "latest":
		return "备份文件不存在: " + strings.TrimSuffix(str("backup_path"), "/") + "/" + layout.FileName(layout.CollectionTable, str("timestamp"))
	case e.Type == apierr.DatabaseError && e.Reason == dbaccess.ReasonUnreachable:
		return "数据库连接失败，请检查连接配置"
	}
	return ""
}

func write(w http.ResponseWriter, status int, data any) {
	if m, ok := data.(map[string]any); ok && m["timestamp"] == nil {
		m["timestamp"] = now()
	}
	body, err := json.Marshal(envelope{Code: status, Success: status == http.StatusOK, Message: statusText[status], Data: data})
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(fmt.Sprintf(`{"code":500,"success":false,"message":%q,"data":{"response":"cannot encode the answer"}}`, statusText[status]))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// writeRefusal answers a request the guard or router turned away, in the
// envelope, with error_type INVALID_PARAMS or FORBIDDEN where one fits.
func writeRefusal(w http.ResponseWriter, status int, errorType apierr.Type, format string, args ...any) {
	data := map[string]any{"response": fmt.Sprintf(format, args...)}
	if errorType != "" {
		data["error_type"] = string(errorType)
	}
	write(w, status, data)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeRefusal(w, http.StatusNotFound, apierr.ResourceNotFound,
		"no such endpoint: %s; this server serves %s, %s, %s, %s and MCP at %s", r.URL.Path, ListPath, RestorePath, BackupPath, HealthPath, MCPPath)
}

// only routes methods to h and answers others 405 in the envelope.
func only(h http.HandlerFunc, methods ...string) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		writeRefusal(w, http.StatusMethodNotAllowed, apierr.InvalidParams, "%s takes %s, not %s", r.URL.Path, allow, r.Method)
	})
}
