// Package caller says who makes a call and what they may do: the subject of
// an OAuth token and its scopes, the holder of the static bearer token, or
// the local operator (stdio, the command line). Front ends put the caller
// in the call's context; tools check its scopes, the audit trail names it.
package caller

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Scope is an OAuth scope this server grants calls by.
type Scope string

// The server's scopes: reading sets (list, inspect, resources, the REST
// list) and changing rows or writing sets (restore, create, the REST
// restore and backup).
const (
	Read  Scope = "vector-backups:read"
	Write Scope = "vector-backups:write"
)

// Scopes are the server's scopes, for its protected resource metadata.
func Scopes() []Scope { return []Scope{Read, Write} }

// Who names the static token's holder and the local operator in audit
// records, where an OAuth caller is named by its token's subject.
const (
	StaticTokenSubject = "static-token"
	LocalSubject       = "local"
)

// Caller is who makes a call.
type Caller struct {
	// Subject is the OAuth token's sub, StaticTokenSubject or LocalSubject.
	Subject string
	// Client is the OAuth token's client (azp or client_id), when it says.
	Client string
	scopes []Scope
	all    bool // every scope: the static token and the local operator
}

// Local is the operator at this machine: stdio and the command line.
func Local() Caller { return Caller{Subject: LocalSubject, all: true} }

// StaticToken is whoever holds the --auth-token: it grants every scope.
func StaticToken() Caller { return Caller{Subject: StaticTokenSubject, all: true} }

// OAuth is the subject of a verified token, granted the token's scopes.
func OAuth(subject, client string, scopes []Scope) Caller {
	return Caller{Subject: subject, Client: client, scopes: slices.Clone(scopes)}
}

// May reports whether the caller was granted s.
func (c Caller) May(s Scope) bool { return c.all || slices.Contains(c.scopes, s) }

// Require is nil when the caller was granted s, else a *ScopeError.
func (c Caller) Require(s Scope) error {
	if c.May(s) {
		return nil
	}
	return &ScopeError{Scope: s, Granted: c.Granted()}
}

// ScopeError is a call refused because its caller lacks a scope; its text
// says which, and how to get it.
type ScopeError struct {
	Scope   Scope
	Granted []Scope
}

func (e *ScopeError) Error() string {
	granted := "none of this server's scopes"
	if len(e.Granted) > 0 {
		names := make([]string, len(e.Granted))
		for i, s := range e.Granted {
			names[i] = string(s)
		}
		granted = strings.Join(names, " ")
	}
	return fmt.Sprintf("it needs the scope %s, which this token does not grant (it grants %s); ask the authorization server for a token with the scope %s",
		e.Scope, granted, e.Scope)
}

// Granted is the caller's scopes (all of them for the static token and the
// local operator).
func (c Caller) Granted() []Scope {
	if c.all {
		return Scopes()
	}
	return slices.Clone(c.scopes)
}

type key struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c Caller) context.Context { return context.WithValue(ctx, key{}, c) }

// From is the caller ctx carries; without one, the local operator (a call
// that no front end with tokens handled came from this machine).
func From(ctx context.Context) Caller {
	if c, ok := ctx.Value(key{}).(Caller); ok {
		return c
	}
	return Local()
}

// Front is the front end a call came in by, and what was called there: the
// audit trail and the metrics name both.
type Front struct {
	Name      string // FrontMCP, FrontREST or FrontCLI
	Operation string // the tool's name (MCP, the command line) or the REST route
}

// The front ends.
const (
	FrontMCP  = "mcp"
	FrontREST = "rest"
	FrontCLI  = "cli"
)

type frontKey struct{}

// WithFront returns ctx carrying f.
func WithFront(ctx context.Context, f Front) context.Context {
	return context.WithValue(ctx, frontKey{}, f)
}

// FrontOf is the front ctx carries; the zero Front when none said.
func FrontOf(ctx context.Context) Front {
	f, _ := ctx.Value(frontKey{}).(Front)
	return f
}
