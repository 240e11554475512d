package backupfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// MaxVectorDims is the most dimensions pgvector's vector type holds.
const MaxVectorDims = 16000

// VectorDims counts the elements of "[1,-2.5e-3,...]" and rejects what
// pgvector would reject: empty elements, NaN, infinities, junk, and numbers
// out of float4's range.
func VectorDims(v []byte) (int, string) {
	_, dim, reason := parseVector(nil, v, false)
	return dim, reason
}

// AppendVector appends v, pgvector text, in the binary form vector_recv
// reads (int16 dimensions, int16 zero, then each element as a big-endian
// float4), with the same checks as VectorDims. Each element is rounded to
// float4 exactly as vector_in's strtof rounds it, so both forms store the
// same bits.
func AppendVector(dst, v []byte) ([]byte, int, string) {
	return parseVector(dst, v, true)
}

func parseVector(dst, v []byte, encode bool) ([]byte, int, string) {
	v = bytes.TrimSpace(v)
	if len(v) < 3 || v[0] != '[' || v[len(v)-1] != ']' {
		return dst, 0, "vector must look like [0.1,-0.2,...]"
	}
	body := v[1 : len(v)-1]
	start := len(dst)
	if encode {
		dst = append(dst, 0, 0, 0, 0) // dimensions, filled in at the end
	}
	dim := 0
	for i := 0; ; {
		// Counted as they come, so that a long field of tiny elements is
		// refused at the first one too many, before its binary form takes
		// twice the text's memory.
		if dim++; dim > MaxVectorDims {
			return dst[:start], 0, fmt.Sprintf("vector has more than pgvector's %d dimensions", MaxVectorDims)
		}
		f, next, ok := fastElement(body, i)
		if !ok || next < len(body) && body[next] != ',' {
			// An element the fast path does not take: spaces, junk, many
			// digits, a tie. The full parser decides, and words the refusal.
			next = len(body)
			if comma := bytes.IndexByte(body[i:], ','); comma >= 0 {
				next = i + comma
			}
			var reason string
			if f, reason = element(bytes.TrimSpace(body[i:next])); reason != "" {
				return dst[:start], 0, fmt.Sprintf("vector element %d %s", dim, reason)
			}
		}
		if encode {
			dst = binary.BigEndian.AppendUint32(dst, math.Float32bits(f))
		}
		if next >= len(body) {
			break
		}
		i = next + 1
	}
	if encode {
		binary.BigEndian.PutUint16(dst[start:], uint16(dim))
	}
	return dst, dim, ""
}

// fastElement parses the element at p[i:], [sign]digits[.digits]
// [e[sign]digits] with at most 19 significant digits, returning its float4
// and the index after it. It reports false for anything else, and for a
// value whose rounding needs more care: the caller then uses element.
func fastElement(p []byte, i int) (float32, int, bool) {
	neg := false
	if i < len(p) && (p[i] == '-' || p[i] == '+') {
		neg = p[i] == '-'
		i++
	}
	// Leading zeros first, so that the digit loops count significant
	// digits by position rather than by a branch per digit.
	var mant uint64
	start := i
	for i < len(p) && p[i] == '0' {
		i++
	}
	first := i
	for ; i < len(p) && isDigit(p[i]); i++ {
		mant = mant*10 + uint64(p[i]-'0')
	}
	sig, digits, exp10 := i-first, i-start, 0
	if i < len(p) && p[i] == '.' {
		i++
		frac := i
		if sig == 0 {
			for i < len(p) && p[i] == '0' {
				i++
			}
		}
		first := i
		for ; i < len(p) && isDigit(p[i]); i++ {
			mant = mant*10 + uint64(p[i]-'0')
		}
		sig += i - first
		digits += i - frac
		exp10 -= i - frac
	}
	if digits == 0 || sig > 19 {
		return 0, i, false
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		expNeg := false
		if i < len(p) && (p[i] == '-' || p[i] == '+') {
			expNeg = p[i] == '-'
			i++
		}
		n, start := 0, i
		for ; i < len(p) && isDigit(p[i]) && i-start < 4; i++ {
			n = n*10 + int(p[i]-'0')
		}
		if i == start || i < len(p) && isDigit(p[i]) {
			return 0, i, false
		}
		if expNeg {
			n = -n
		}
		exp10 += n
	}
	var f float32
	switch {
	case mant == 0:
	case mant <= 1<<24 && exp10 >= -10 && exp10 <= 10:
		// Both operands are exact float4s: one correctly rounded
		// operation gives the float4 nearest the decimal.
		f = float32(mant)
		if exp10 < 0 {
			f /= float32(pow10[-exp10])
		} else {
			f *= float32(pow10[exp10])
		}
	case mant < 1<<53 && exp10 >= -22 && exp10 <= 22:
		d := float64(mant)
		if exp10 < 0 {
			d /= pow10[-exp10]
		} else {
			d *= pow10[exp10]
		}
		var ok bool
		if f, ok = toFloat32(d); !ok {
			return 0, i, false
		}
	default:
		return 0, i, false
	}
	if neg {
		f = -f
	}
	return f, i, true
}

// element parses one element, [sign]digits[.digits][e[sign]digits], to the
// float4 strtof gives, or says what is wrong with it. Most elements take the
// exact fast path (at most 19 digits, a small exponent: Clinger's float64
// computation, rounded once more to float4 unless that second rounding
// could differ); the rest go through strconv, which rounds correctly.
func element(e []byte) (float32, string) {
	if len(e) == 0 {
		return 0, "is empty"
	}
	i, neg := 0, false
	if e[0] == '+' || e[0] == '-' {
		neg, i = e[0] == '-', 1
	}
	var mant uint64
	var exp10, sig, digits int
	exact := true
	for ; i < len(e) && isDigit(e[i]); i++ {
		digits++
		if sig < 19 {
			mant = mant*10 + uint64(e[i]-'0')
			if mant != 0 {
				sig++
			}
		} else {
			exp10++
			exact = exact && e[i] == '0'
		}
	}
	if i < len(e) && e[i] == '.' {
		for i++; i < len(e) && isDigit(e[i]); i++ {
			digits++
			if sig < 19 {
				mant = mant*10 + uint64(e[i]-'0')
				exp10--
				if mant != 0 {
					sig++
				}
			} else {
				exact = exact && e[i] == '0'
			}
		}
	}
	if digits == 0 {
		return 0, fmt.Sprintf("%q is not a number: only finite numbers are allowed (no NaN or Infinity)", e)
	}
	if i < len(e) && (e[i] == 'e' || e[i] == 'E') {
		i++
		expNeg := false
		if i < len(e) && (e[i] == '+' || e[i] == '-') {
			expNeg, i = e[i] == '-', i+1
		}
		n, start := 0, i
		for ; i < len(e) && isDigit(e[i]); i++ {
			if n < 100000 {
				n = n*10 + int(e[i]-'0')
			}
		}
		if i == start {
			return 0, fmt.Sprintf("%q is not a number", e)
		}
		if expNeg {
			n = -n
		}
		exp10 += n
	}
	if i != len(e) {
		return 0, fmt.Sprintf("%q is not a number: only finite numbers are allowed (no NaN or Infinity)", e)
	}
	if mant == 0 {
		if neg {
			return float32(math.Copysign(0, -1)), ""
		}
		return 0, ""
	}
	if exact && mant < 1<<53 && exp10 >= -22 && exp10 <= 22 {
		f := float64(mant)
		if exp10 < 0 {
			f /= pow10[-exp10]
		} else {
			f *= pow10[exp10]
		}
		if f32, ok := toFloat32(f); ok {
			if neg {
				f32 = -f32
			}
			return f32, ""
		}
	}
	// unsafe.String: strconv keeps no reference, and e outlives the call.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(e), len(e)), 32)
	if err != nil {
		return 0, fmt.Sprintf("%q is out of range for a float4", e)
	}
	return float32(f), ""
}

// toFloat32 rounds f, itself the correctly rounded float64 of a decimal, to
// float4. That equals rounding the decimal to float4 directly unless f lies
// exactly halfway between two float4s (the decimal may lie on either side)
// or overflows; then it reports false.
func toFloat32(f float64) (float32, bool) {
	f32 := float32(f)
	if math.IsInf(float64(f32), 0) {
		return 0, false
	}
	if bits := math.Float64bits(f); bits&0x7ff0000000000000 >= (1023-126)<<52 {
		// A normal float4: the 29 bits float4 drops are a tie only as
		// 1 followed by zeros.
		return f32, bits&(1<<29-1) != 1<<28
	}
	if float64(f32) == f {
		return f32, true
	}
	toward := float32(math.Inf(1))
	if f < float64(f32) {
		toward = float32(math.Inf(-1))
	}
	other := math.Nextafter32(f32, toward)
	return f32, (float64(f32)+float64(other))/2 != f
}

var pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

func isDigit(c byte) bool { return c-'0' < 10 }

// AppendUUID appends text, a uuid as PostgreSQL's uuid_in accepts it (32
// hex digits, a hyphen allowed after any group of four, optionally in
// braces), as its 16 bytes, or reports false.
func AppendUUID(dst, text []byte) ([]byte, bool) {
	s, start := text, len(dst)
	braces := len(s) > 0 && s[0] == '{'
	if braces {
		s = s[1:]
	}
	for i := 0; i < 16; i++ {
		if len(s) < 2 {
			return dst[:start], false
		}
		hi, ok1 := unhex(s[0])
		lo, ok2 := unhex(s[1])
		if !ok1 || !ok2 {
			return dst[:start], false
		}
		dst = append(dst, hi<<4|lo)
		s = s[2:]
		if len(s) > 0 && s[0] == '-' && i%2 == 1 && i < 15 {
			s = s[1:]
		}
	}
	if braces {
		if len(s) == 0 || s[0] != '}' {
			return dst[:start], false
		}
		s = s[1:]
	}
	if len(s) != 0 {
		return dst[:start], false
	}
	return dst, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
