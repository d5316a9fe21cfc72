package patch

import "strconv"

// AppendAdd appends the op that adds value at index i of the array at the
// JSON Pointer pointer (escaped as for AppendDiff), with the comma rule of
// AppendDiff, and returns the extended dst and op count. value is copied
// verbatim and must be valid JSON.
func AppendAdd(dst []byte, n int, pointer string, i int, value []byte) ([]byte, int) {
	dst = appendElemOp(dst, n, opAdd, pointer, i)
	dst = append(dst, `","value":`...)
	dst = append(dst, value...)
	return append(dst, '}'), n + 1
}

// AppendReplace appends the op that replaces the value at the JSON Pointer
// pointer (escaped as for AppendDiff) with value, with the comma rule of
// AppendDiff, and returns the extended dst and op count. value is copied
// verbatim and must be valid JSON.
func AppendReplace(dst []byte, n int, pointer string, value []byte) ([]byte, int) {
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, opReplace...)
	dst = appendStringContent(dst, pointer)
	dst = append(dst, `","value":`...)
	dst = append(dst, value...)
	return append(dst, '}'), n + 1
}

// AppendRemove appends the op that removes index i of the array at the JSON
// Pointer pointer, as AppendAdd does.
func AppendRemove(dst []byte, n int, pointer string, i int) ([]byte, int) {
	dst = appendElemOp(dst, n, opRemove, pointer, i)
	return append(dst, `"}`...), n + 1
}

// appendElemOp appends an op's head up to the end of its path, pointer/i.
func appendElemOp(dst []byte, n int, op opKind, pointer string, i int) []byte {
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, op...)
	dst = appendStringContent(dst, pointer)
	return strconv.AppendInt(append(dst, '/'), int64(i), 10)
}
