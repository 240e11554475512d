package backupfile

import (
	"bytes"
	"fmt"
	"strconv"
)

// VectorDims counts the elements of "[1,-2.5e-3,...]" and rejects what
// pgvector would reject: empty elements, NaN, infinities, junk, and numbers
// out of float4's range. Only elements with an exponent or many digits are
// parsed; the rest are checked by their characters, which is much cheaper.
func VectorDims(v []byte) (int, string) {
	v = bytes.TrimSpace(v)
	if len(v) < 3 || v[0] != '[' || v[len(v)-1] != ']' {
		return 0, "vector must look like [0.1,-0.2,...]"
	}
	dim := 0
	for elem := range bytes.SplitSeq(v[1:len(v)-1], []byte{','}) {
		dim++
		if reason := checkElement(bytes.TrimSpace(elem)); reason != "" {
			return 0, fmt.Sprintf("vector element %d %s", dim, reason)
		}
	}
	return dim, ""
}

// checkElement checks one element's shape, [sign]digits[.digits][e[sign]digits],
// and parses it only when it could be out of float4's range.
func checkElement(e []byte) string {
	if len(e) == 0 {
		return "is empty"
	}
	i := skipSign(e, 0)
	intEnd := skipDigits(e, i)
	mantissa := intEnd - i
	i = intEnd
	if i < len(e) && e[i] == '.' {
		end := skipDigits(e, i+1)
		mantissa += end - i - 1
		i = end
	}
	if mantissa == 0 {
		return fmt.Sprintf("%q is not a number: only finite numbers are allowed (no NaN or Infinity)", e)
	}
	exponent := i < len(e) && (e[i] == 'e' || e[i] == 'E')
	if exponent {
		start := skipSign(e, i+1)
		if i = skipDigits(e, start); i == start {
			return fmt.Sprintf("%q is not a number", e)
		}
	}
	if i != len(e) {
		return fmt.Sprintf("%q is not a number: only finite numbers are allowed (no NaN or Infinity)", e)
	}
	if exponent || intEnd > 38 {
		if _, err := strconv.ParseFloat(string(e), 32); err != nil {
			return fmt.Sprintf("%q is out of range for a float4", e)
		}
	}
	return ""
}

func skipSign(e []byte, i int) int {
	if i < len(e) && (e[i] == '+' || e[i] == '-') {
		return i + 1
	}
	return i
}

func skipDigits(e []byte, i int) int {
	for i < len(e) && e[i] >= '0' && e[i] <= '9' {
		i++
	}
	return i
}
