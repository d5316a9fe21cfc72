package patch

import (
	"encoding/binary"
	"math/bits"
	"strconv"
)

// maxDepth is encoding/json's nesting limit. Using the same limit keeps
// AppendDiff's notion of validity identical to json.Valid.
const maxDepth = 10000

// syntaxError reports invalid JSON input.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return "patch: invalid JSON: " + e.msg }

func errSyntax(msg string) error { return &syntaxError{msg: msg} }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	// Every byte that may follow space is > ' ': one compare in the
	// common, compact case.
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace removes JSON whitespace on both ends.
func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// scanExact validates that b holds exactly one JSON value (no surrounding
// space). depth is the nesting depth of the container holding b.
func scanExact(b []byte, depth int) error {
	end, err := scanValue(b, 0, depth)
	if err != nil {
		return err
	}
	if end != len(b) {
		return errSyntax("unexpected data after value")
	}
	return nil
}

// scanValue validates the JSON value starting exactly at b[i] and returns the
// offset just past it. depth is the nesting depth of the enclosing container
// (0 at top level).
//
// Nested containers are tracked in a bit stack (1 = object) rather than by
// recursion: this loop is the hot path of a diff and a call per nested value
// costs more than the scanning itself.
func scanValue(b []byte, i, depth int) (int, error) {
	var (
		base     = depth
		inline   [4]uint64
		objects  = inline[:] // bit l: the container at level l is an object
		inObject bool        // the innermost open container is an object
		c        byte
		err      error
	)

value:
	if i >= len(b) {
		return i, errSyntax("unexpected end of input")
	}
	switch c = b[i]; c {
	case '"':
		if i, _, err = scanString(b, i); err != nil {
			return i, err
		}
	case '{', '[':
		depth++
		if depth > maxDepth {
			return i, errSyntax("exceeded max depth")
		}
		l := depth - base - 1
		if l/64 == len(objects) {
			objects = append(objects, make([]uint64, len(objects))...)
		}
		inObject = c == '{'
		if inObject {
			objects[l/64] |= 1 << (l % 64)
		} else {
			objects[l/64] &^= 1 << (l % 64)
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == c+2 { // '{'+2 == '}', '['+2 == ']'
			i++
			goto closed
		}
		if inObject {
			goto key
		}
		goto value
	case 't':
		if i, err = scanLiteral(b, i, "true"); err != nil {
			return i, err
		}
	case 'f':
		if i, err = scanLiteral(b, i, "false"); err != nil {
			return i, err
		}
	case 'n':
		if i, err = scanLiteral(b, i, "null"); err != nil {
			return i, err
		}
	default:
		if c != '-' && (c < '0' || c > '9') {
			return i, errSyntax("invalid character " + strconv.QuoteRune(rune(c)) + " looking for value")
		}
		if i, err = scanNumber(b, i); err != nil {
			return i, err
		}
	}

after:
	if depth == base {
		return i, nil
	}
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, errSyntax("unexpected end of input")
	}
	switch c = b[i]; {
	case c == ',':
		i = skipSpace(b, i+1)
		if inObject {
			goto key
		}
		goto value
	case c == '}' && inObject, c == ']' && !inObject:
		i++
		goto closed
	default:
		return i, errSyntax("invalid character " + strconv.QuoteRune(rune(c)) + " after value")
	}

closed: // the container at depth has just been closed
	depth--
	if l := depth - base - 1; l >= 0 {
		inObject = objects[l/64]>>(l%64)&1 == 1
	}
	goto after

key:
	if i >= len(b) || b[i] != '"' {
		return i, errSyntax("expected string for object key")
	}
	if i, _, err = scanString(b, i); err != nil {
		return i, err
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, errSyntax("expected ':' after object key")
	}
	i = skipSpace(b, i+1)
	goto value
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, errSyntax("invalid literal")
	}
	return i + len(lit), nil
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? .
// The byte after the number is checked by the caller (it must be a delimiter).
func scanNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, errSyntax("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return i, errSyntax("invalid number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return i, errSyntax("invalid number")
		}
		i = j
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Flags returned by scanString.
const (
	strEscaped  = 1 << iota // contains a backslash escape
	strNonASCII             // contains bytes >= 0x80
)

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// scanString validates the string starting at the quote b[i] and returns the
// offset past the closing quote plus strEscaped/strNonASCII flags. Like
// encoding/json it does not check UTF-8 validity.
func scanString(b []byte, i int) (end, flags int, err error) {
	i++
	var high uint64 // OR of all plain bytes, to spot non-ASCII ones
	for {
		// Eight bytes at a time: find the first quote, backslash or control
		// character, skipping everything before it at once.
		for i+8 <= len(b) {
			v := binary.LittleEndian.Uint64(b[i:])
			special := hasLess20(v) | hasZero(v^'"'*lo8) | hasZero(v^'\\'*lo8)
			if special == 0 {
				high |= v
				i += 8
				continue
			}
			n := bits.TrailingZeros64(special) / 8
			high |= v & (1<<(8*n) - 1)
			i += n
			break
		}
		if i >= len(b) {
			return i, flags, errSyntax("unterminated string")
		}
		c := b[i]
		switch {
		case c == '"':
			if high&hi8 != 0 {
				flags |= strNonASCII
			}
			return i + 1, flags, nil
		case c == '\\':
			flags |= strEscaped
			i++
			if i >= len(b) {
				return i, flags, errSyntax("unterminated string")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, flags, errSyntax("invalid \\u escape")
				}
				i += 5
			default:
				return i, flags, errSyntax("invalid escape")
			}
		case c < 0x20:
			return i, flags, errSyntax("control character in string")
		default:
			// Only reached within the last 8 bytes of b.
			high |= uint64(c)
			i++
		}
	}
}

// hasZero has the high bit set in the lowest zero byte of v, and maybe in
// higher bytes; it is 0 if v has no zero byte.
func hasZero(v uint64) uint64 { return (v - lo8) & ^v & hi8 }

// hasLess20 is like hasZero for bytes below 0x20.
func hasLess20(v uint64) uint64 { return (v - 0x20*lo8) & ^v & hi8 }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// elemIter walks the elements of an array in place, validating as it goes.
// Call more to consume the separator before the next element, then value (or
// skip, when the element's extent is already known) to consume the element.
type elemIter struct {
	b     []byte
	pos   int  // next unread byte
	depth int  // depth of the array itself
	after bool // at least one element has been consumed
}

// more consumes whitespace and the ',' (if any) before the next element and
// reports whether there is one. At the end it consumes the ']' too.
func (it *elemIter) more() (bool, error) {
	i := skipSpace(it.b, it.pos)
	if i >= len(it.b) {
		it.pos = i
		return false, errSyntax("unterminated array")
	}
	switch c := it.b[i]; {
	case c == ']':
		it.pos = i + 1
		return false, nil
	case !it.after:
		// first element: nothing to consume
	case c == ',':
		i = skipSpace(it.b, i+1)
	default:
		it.pos = i
		return false, errSyntax("expected ',' or ']' after array element")
	}
	it.pos = i
	return true, nil
}

// value scans the element at pos and returns its extent.
func (it *elemIter) value() (start, end int, err error) {
	start = it.pos
	end, err = scanValue(it.b, start, it.depth)
	it.pos, it.after = end, true
	return start, end, err
}

// skip consumes an element of known length n without scanning it.
func (it *elemIter) skip(n int) {
	it.pos += n
	it.after = true
}

// memberIter walks the members of an object in place, validating as it goes.
// Call key to consume the next key and its colon, then value (or have the
// value consumed elsewhere and call skipTo).
type memberIter struct {
	b     []byte
	pos   int // next unread byte
	depth int // depth of the object itself
	after bool
}

// key consumes the separator before the next member, its key and the colon,
// leaving pos at the value. It returns the key including its quotes and the
// key's strEscaped/strNonASCII flags; more is false (and the '}' consumed)
// at the end of the object.
func (it *memberIter) key() (key []byte, flags int, more bool, err error) {
	b := it.b
	i := skipSpace(b, it.pos)
	if i >= len(b) {
		it.pos = i
		return nil, 0, false, errSyntax("unterminated object")
	}
	switch c := b[i]; {
	case c == '}':
		it.pos = i + 1
		return nil, 0, false, nil
	case !it.after:
	case c == ',':
		i = skipSpace(b, i+1)
	default:
		it.pos = i
		return nil, 0, false, errSyntax("expected ',' or '}' after object member")
	}
	if i >= len(b) || b[i] != '"' {
		it.pos = i
		return nil, 0, false, errSyntax("expected string for object key")
	}
	kend, flags, err := scanString(b, i)
	if err != nil {
		it.pos = kend
		return nil, 0, false, err
	}
	key = b[i:kend]
	i = skipSpace(b, kend)
	if i >= len(b) || b[i] != ':' {
		it.pos = i
		return nil, 0, false, errSyntax("expected ':' after object key")
	}
	it.pos = skipSpace(b, i+1)
	return key, flags, true, nil
}

// value scans the member value at pos and returns its extent.
func (it *memberIter) value() (start, end int, err error) {
	start = it.pos
	end, err = scanValue(it.b, start, it.depth)
	it.pos, it.after = end, true
	return start, end, err
}

// skipTo records that the value at pos ends at end.
func (it *memberIter) skipTo(end int) {
	it.pos, it.after = end, true
}
