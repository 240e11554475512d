package oauth

import (
	"errors"
	"fmt"
)

// Reason says why a token was refused. Callers tell refusals apart by it,
// never by an error's text.
type Reason string

// The reasons a token is refused.
const (
	Malformed      Reason = "malformed"       // not a compact JWS, or its header or claims are not the JSON they must be
	TooLarge       Reason = "too_large"       // longer than MaxTokenBytes, refused before parsing
	UnsupportedAlg Reason = "unsupported_alg" // none, HS*, or any algorithm but the asymmetric ones
	UnknownKey     Reason = "unknown_key"     // its kid is not in the issuer's key set, even after a refetch
	BadSignature   Reason = "bad_signature"   // the key its kid names did not sign it
	WrongIssuer    Reason = "wrong_issuer"    // iss is not the configured issuer
	WrongAudience  Reason = "wrong_audience"  // aud does not name this resource
	Expired        Reason = "expired"         // exp has passed
	NotYetValid    Reason = "not_yet_valid"   // nbf is still to come
	MissingClaim   Reason = "missing_claim"   // no exp, or no sub
)

// Error is a refused token: why, in a word, and the detail for the log.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("bearer token refused (%s): %v", e.Reason, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Description is what a client may be told of the refusal (RFC 6750's
// error_description): the reason in words, nothing of the keys or the
// claims' values.
func (e *Error) Description() string {
	switch e.Reason {
	case TooLarge:
		return "the token is too long"
	case UnsupportedAlg:
		return "the token is not signed with an accepted asymmetric algorithm"
	case UnknownKey:
		return "the token's signing key is not one of the issuer's"
	case BadSignature:
		return "the token's signature does not verify"
	case WrongIssuer:
		return "the token is from another issuer"
	case WrongAudience:
		return "the token is not for this resource"
	case Expired:
		return "the token has expired"
	case NotYetValid:
		return "the token is not valid yet"
	case MissingClaim:
		return "the token lacks a required claim (exp, sub)"
	}
	return "the token is not a well-formed JWT"
}

// ReasonOf is err's reason, or "" when err is not a refused token.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}
