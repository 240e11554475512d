package legacyjson

import (
	"bytes"
	"strconv"
)

// Bounds on one value. Real metadata is a flat dict of a few dozen keys, a
// few levels deep at most; these leave it orders of magnitude of room while
// keeping a tree built from any accepted value (as a JSON comparison does,
// at some hundred bytes per item in Go) to tens of MB.
const (
	// MaxDepth bounds container nesting, so that hostile or corrupt input
	// can exhaust neither this parser's stack nor a tree builder's. Python's
	// own repr and json.dumps stop near 1,000 levels too.
	MaxDepth = 1000

	// MaxItems bounds the keys of all dicts (objects) and the elements of
	// all lists and tuples (arrays) in one value, counted together.
	MaxItems = 100_000
)

// MaxOutputBytes is the most JSON text converting a Python literal of n
// bytes may produce: twice its length plus 64 bytes. Anything repr writes
// stays well inside it (its worst case, \xNN escapes becoming \u00NN, is 1.5
// times), and so does hand-written compact input such as {1:1} or [.5]
// (at most twice); what goes beyond is contrived, such as raw control
// characters (1 byte becoming 6) or \0 escapes (2 becoming 6). Valid JSON is
// passed on as it is, so its output is its input.
func MaxOutputBytes(n int) int { return 2*n + 64 }

// LimitError reports a value that is over one of the bounds on one value
// (MaxDepth, MaxItems, MaxOutputBytes), whether or not it is otherwise valid.
type LimitError struct {
	Offset int    // byte offset in the value where the bound was crossed
	Reason string // which bound, with its limit
}

func (e *LimitError) Error() string {
	return "offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

func tooDeep(offset int) error {
	return &LimitError{Offset: offset, Reason: "nesting deeper than " + strconv.Itoa(MaxDepth) + " levels"}
}

func tooManyItems(offset int) error {
	return &LimitError{Offset: offset, Reason: "more than " + strconv.Itoa(MaxItems) + " keys and items"}
}

func tooLong(offset int) error {
	return &LimitError{Offset: offset, Reason: "its JSON form would be longer than twice the value plus 64 bytes"}
}

// enter and leave bound recursion depth; see MaxDepth.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return tooDeep(p.pos)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// item counts a key or element starting at offset; see MaxItems.
func (p *parser) item(offset int) error {
	p.items++
	if p.items > MaxItems {
		return tooManyItems(offset)
	}
	return nil
}

// grown checks dst after an item was written; see parser.limit.
func (p *parser) grown(dst []byte) error {
	if len(dst) > p.limit {
		return tooLong(p.pos)
	}
	return nil
}

// roomSlack is what room reserves beyond the bytes asked for: enough for
// the quotes, separators and escapes written before the next call, so that
// append itself rarely has to grow dst.
const roomSlack = 32

// room returns dst with capacity for n+roomSlack more bytes. It grows dst
// by doubling, from the size most values convert to and never past the
// output's bound: an expanding value then costs a copy or two instead of
// the chain append's gentler growth of large slices makes, whose garbage
// would outweigh the value itself. It only saves work; append stays correct
// wherever it is not called.
func (p *parser) room(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n+roomSlack {
		return dst // inlined: the common case costs a comparison
	}
	return p.grow(dst, n+roomSlack)
}

func (p *parser) grow(dst []byte, n int) []byte {
	c := max(min(2*cap(dst), p.limit+roomSlack), len(dst)+n)
	grown := make([]byte, len(dst), c)
	copy(grown, dst)
	return grown
}

// checkJSON applies MaxDepth and MaxItems to value, which json.Valid has
// accepted: only strings, brackets and commas need telling apart then, so a
// scan that skips strings whole is enough, and cheap next to json.Valid.
func checkJSON(value []byte) error {
	// Each level of nesting takes two bytes, and so does each item but the
	// last: a value this short is within both bounds, and real metadata
	// (a few hundred bytes) needs no scan.
	if len(value) <= 2*min(MaxDepth, MaxItems) {
		return nil
	}
	depth, items := 0, 0
	for i := 0; i < len(value); i++ {
		switch value[i] {
		case '"':
			i = stringEnd(value, i)
		case '{', '[':
			if depth++; depth > MaxDepth {
				return tooDeep(i)
			}
			// A container's first item follows its bracket; every other
			// one follows a comma.
			if j := skipJSONSpace(value, i+1); j < len(value) && value[j] != '}' && value[j] != ']' {
				if items++; items > MaxItems {
					return tooManyItems(j)
				}
			}
		case '}', ']':
			depth--
		case ',':
			if items++; items > MaxItems {
				return tooManyItems(skipJSONSpace(value, i+1))
			}
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the JSON string that
// opens at value[open]. A quote is escaped when an odd number of
// backslashes precedes it; each run of backslashes is counted once, so the
// scan stays linear.
func stringEnd(value []byte, open int) int {
	for i := open + 1; ; {
		j := bytes.IndexByte(value[i:], '"')
		if j < 0 {
			return len(value) // unreachable for valid JSON
		}
		i += j
		k := i
		for k > open+1 && value[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i
		}
		i++
	}
}
