// Package apierr defines the error kinds that every layer of the server shares.
// Core packages return them; the MCP and HTTP adapters turn them into error
// results and status codes. Each error carries a message that tells the caller
// what to do next, and optional details that become fields of the error object.
package apierr

import (
	"errors"
	"fmt"
	"strings"
)

// Type is one of the contract's error types.
type Type string

const (
	MissingRequiredParams Type = "MISSING_REQUIRED_PARAMS"
	InvalidParams         Type = "INVALID_PARAMS"
	ResourceNotFound      Type = "RESOURCE_NOT_FOUND"
	Forbidden             Type = "FORBIDDEN"
	BackupCorrupt         Type = "BACKUP_CORRUPT"
	SchemaMismatch        Type = "SCHEMA_MISMATCH"
	Conflict              Type = "CONFLICT"
	ConfirmationRequired  Type = "CONFIRMATION_REQUIRED"
	DatabaseError         Type = "DATABASE_ERROR"
	StorageError          Type = "STORAGE_ERROR" // the backup folder failed: full, read-only, unreadable
	Cancelled             Type = "CANCELLED"
)

// Types lists every error type, in the contract's order (a new slice each
// call).
func Types() []Type {
	return []Type{
		MissingRequiredParams, InvalidParams, ResourceNotFound, Forbidden,
		BackupCorrupt, SchemaMismatch, Conflict, ConfirmationRequired,
		DatabaseError, StorageError, Cancelled,
	}
}

// Error is an error with a contract type, a message written for the caller,
// and details that are reported next to the message.
type Error struct {
	Type    Type
	Message string
	Details map[string]any
	Err     error // the underlying cause, for logs; never shown to callers

	// The details that callers decide on, typed: the argument to fix, the
	// missing ones, and the reason within the type. They are also in
	// Details, under "param", "missing_params" and "reason", which is how
	// the contract's error object names them.
	Param   string
	Missing []string
	Reason  string
}

// Error is the type and the message. The cause is not repeated: messages
// that need it say it (and Unwrap gives it).
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Message) }

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of type t with a formatted message.
func New(t Type, format string, args ...any) *Error {
	return &Error{Type: t, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of type t whose cause is err.
func Wrap(t Type, err error, format string, args ...any) *Error {
	return &Error{Type: t, Message: fmt.Sprintf(format, args...), Err: err}
}

// Extend returns a new error of the same type, cause and details whose
// message goes on with more (after "; "): errors are not changed once made.
func (e *Error) Extend(format string, args ...any) *Error {
	out := e.clone()
	out.Message += "; " + fmt.Sprintf(format, args...)
	return out
}

// Replace returns a copy of e with detail key set to value.
func (e *Error) Replace(key string, value any) *Error {
	return e.clone().With(key, value)
}

func (e *Error) clone() *Error {
	out := &Error{Type: e.Type, Message: e.Message, Err: e.Err}
	for k, v := range e.Details {
		out.With(k, v)
	}
	return out
}

// With adds a detail field and returns e, for chaining, while the error is
// made.
func (e *Error) With(key string, value any) *Error {
	if e.Details == nil {
		e.Details = make(map[string]any)
	}
	e.Details[key] = value
	switch v := value.(type) {
	case string:
		switch key {
		case "param":
			e.Param = v
		case "reason":
			e.Reason = v
		}
	case []string:
		if key == "missing_params" {
			e.Missing = v
		}
	}
	return e
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// From returns err as an *Error: its own, or for an error of no contract
// type, a DATABASE_ERROR (the contract's type for failures it does not name)
// saying so.
func From(err error) *Error {
	if e, ok := As(err); ok {
		return e
	}
	return Wrap(DatabaseError, err, "unexpected failure: %v", err)
}

// Fields returns the error's details and its error_type as one object: the
// contract's error object but for the message, which each front end places
// under its own key.
func (e *Error) Fields() map[string]any {
	obj := make(map[string]any, len(e.Details)+2)
	for k, v := range e.Details {
		obj[k] = v
	}
	obj["error_type"] = string(e.Type)
	return obj
}

// TypeOf returns the contract type of err: its own type when it is an *Error,
// else DatabaseError, the contract's type for failures it does not name.
func TypeOf(err error) Type {
	if e, ok := As(err); ok {
		return e.Type
	}
	return DatabaseError
}

// MessageOf returns the message written for the caller: an *Error's own,
// else err's text.
func MessageOf(err error) string {
	if e, ok := As(err); ok {
		return e.Message
	}
	return err.Error()
}

// MissingParams is the MISSING_REQUIRED_PARAMS error naming params.
func MissingParams(params ...string) *Error {
	return New(MissingRequiredParams, "missing required argument(s): %s; call again with them set",
		strings.Join(params, ", ")).
		With("missing_params", params)
}
