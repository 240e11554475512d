// Package legacyjson converts the JSON columns of old backup CSV files to JSON.
//
// The old Python backup pipeline wrote dict-valued columns with str(value)
// instead of json.dumps(value), so those backups hold the Python repr of each
// value: single-quoted strings, True/False/None, tuples and Python escapes.
// PostgreSQL's json and jsonb types reject that text, while newer backups
// already hold real JSON. Convert accepts both: JSON passes through byte for
// byte, and Python literals are parsed by a small recursive-descent parser
// (nothing is ever evaluated) and re-encoded the way json.dumps would have
// written them, with ", " and ": " separators and non-ASCII text kept as UTF-8.
//
// Python values that JSON cannot represent (sets, bytes, NaN, Infinity,
// tuple keys, Decimal(...) and other calls) are reported as *SyntaxError
// rather than guessed at, so a restore never silently changes data.
//
// What one value may cost is bounded (see MaxDepth, MaxItems,
// MaxOutputBytes), for JSON and Python input alike, so that neither the
// conversion nor a caller that builds a tree from its output can be made
// to take memory out of proportion to real metadata; a value over a bound
// is reported as *LimitError.
package legacyjson

import (
	"encoding/json"
	"strconv"
)

// SyntaxError reports why a value is neither JSON nor a convertible Python
// literal.
type SyntaxError struct {
	Offset int    // byte offset in the value where the problem was found
	Reason string // short human-readable explanation
}

func (e *SyntaxError) Error() string {
	return "offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Convert returns value as JSON text. Valid JSON is returned unchanged (same
// bytes, converted=false); out then aliases value. Otherwise value is parsed
// as a Python literal (repr) and re-encoded as JSON (converted=true). A value
// that is neither returns an error of type *SyntaxError, and one over a
// bound an error of type *LimitError; out is then nil.
func Convert(value []byte) (out []byte, converted bool, err error) {
	if isJSON(value) {
		if err := checkJSON(value); err != nil {
			return nil, false, err
		}
		return value, false, nil
	}
	out, err = appendLiteral(nil, value)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// AppendConvert is Convert that appends to dst to avoid allocation in hot
// loops (dst may be nil). On error it returns dst with its length unchanged,
// though bytes in its spare capacity may have been overwritten.
func AppendConvert(dst, value []byte) (out []byte, converted bool, err error) {
	if isJSON(value) {
		if err := checkJSON(value); err != nil {
			return dst, false, err
		}
		return append(dst, value...), false, nil
	}
	out, err = appendLiteral(dst, value)
	if err != nil {
		return dst, false, err
	}
	return out, true, nil
}

// isJSON reports json.Valid(value). A rejected json.Valid call costs two
// allocations for its error, which would dominate converting a repr, so the
// typical repr opening — {' or [( and the like — is recognized first: a
// quote or parenthesis outside a string can never occur in JSON.
func isJSON(value []byte) bool {
	i := skipJSONSpace(value, 0)
	if i < len(value) && (value[i] == '{' || value[i] == '[') {
		i = skipJSONSpace(value, i+1)
	}
	if i < len(value) && (value[i] == '\'' || value[i] == '(') {
		return false
	}
	return json.Valid(value)
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
