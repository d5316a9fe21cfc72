package patch

import (
	"bytes"
	"strconv"
	"sync"
	"unsafe"
)

// Options tunes AppendDiff. The zero value selects the defaults; a nil
// *Options is the same as the zero value.
type Options struct {
	// MaxEditDistance bounds the Myers diff that matches up array elements:
	// if turning the old elements into the new ones takes more than this
	// many inserted plus removed elements (a changed element counts as one
	// of each), the search is abandoned. The array is then diffed position
	// by position (allowing one block of elements added or removed at the
	// best place) if at most half of the positions differ that way, which
	// keeps many scattered in-place modifications cheap; otherwise it is
	// replaced with one op. The search costs O((N+M)·MaxEditDistance) time and
	// O(MaxEditDistance²) memory, both capped at O(N+M).
	//
	// Default (0): 64. Negative: never run the Myers search.
	MaxEditDistance int
}

const defaultMaxEditDistance = 64

// AppendDiff appends to dst the JSON Patch (RFC 6902) operations that turn
// the JSON value old into the JSON value new, where both values live at the
// JSON Pointer pointer of the patched document ("" is the document root;
// otherwise "/a/b" with every token already escaped as by EscapeToken).
//
// The ops are written as comma-separated JSON objects with no enclosing
// brackets. n is the number of ops dst already holds: when n > 0 a comma is
// written before the first new op, so several calls can fill one patch array.
// AppendDiff returns the extended dst and the new op count.
//
// Only "add", "remove" and "replace" are used. Ops apply in order, so array
// indices account for the earlier ops; an element appended at the end is
// added at index len (which RFC 6902 allows), not at "-". Values are copied
// verbatim from new: numbers are never re-encoded. Where a value's ops would
// take more bytes than replacing the value, the value is replaced instead.
//
// If old and new are byte-identical, AppendDiff returns at once without
// looking at them, so invalid JSON goes unnoticed in that case. Otherwise
// invalid JSON in either value (by the rules of json.Valid, including its
// nesting limit) yields an error, and dst and n are returned unchanged.
//
// AppendDiff is safe for concurrent use. It does not retain old, new or dst.
func AppendDiff(dst []byte, n int, pointer string, old, new []byte, opts *Options) ([]byte, int, error) {
	if bytes.Equal(old, new) {
		return dst, n, nil
	}
	d := differPool.Get().(*differ)
	defer d.release()
	d.dst, d.n = dst, n
	d.maxEdit = defaultMaxEditDistance
	if opts != nil && opts.MaxEditDistance != 0 {
		d.maxEdit = max(opts.MaxEditDistance, 0)
	}
	d.path = appendStringContent(d.path[:0], pointer)

	o, nw := trimSpace(old), trimSpace(new)
	if bytes.Equal(o, nw) {
		// Only the surrounding space differs.
		if err := scanExact(o, 0); err != nil {
			return dst, n, err
		}
		return dst, n, nil
	}
	d.old, d.new = o, nw
	d.prefix = commonPrefix(o, nw)
	d.suffixFrom = len(nw) - commonSuffix(o, nw)
	d.delta = len(nw) - len(o)
	oEnd, nEnd, err := d.diffValue(0, 0, 0)
	if err == nil && (oEnd != len(o) || nEnd != len(nw)) {
		err = errSyntax("unexpected data after top-level value")
	}
	if err != nil {
		return dst, n, err
	}
	return d.dst, d.n, nil
}

// differ carries the input, the output and reusable scratch space of one
// AppendDiff call.
//
// All positions are offsets into old and new, the whole (trimmed) inputs.
// Two facts about them let most of new go unscanned:
//   - old[:prefix] == new[:prefix]: a value starting at the same offset p <
//     prefix in both, and ending before prefix in old, is the same in new;
//   - old[q-delta:] == new[q:] for q >= suffixFrom: if the element of an
//     array starting at q in new matches up with an element of the paired
//     array starting at q-delta in old, new parses exactly like old from
//     there to the end.
type differ struct {
	old, new   []byte
	prefix     int
	suffixFrom int
	delta      int

	dst     []byte
	n       int
	path    []byte // current JSON Pointer, already escaped for use inside a JSON string
	maxEdit int

	// Scratch stacks: a (recursive) call appends its entries at the end and
	// truncates back on return, so nested calls share one allocation.
	spans   []span
	members []member
	keys    [][]byte
	hunks   []hunk
	v       []int32 // Myers frontier
	trace   []int32 // Myers frontiers of all rounds
}

var differPool = sync.Pool{New: func() any { return new(differ) }}

// maxPooledScratch bounds the scratch space kept in the pool (in bytes),
// so that one huge diff does not keep its buffers alive for all later ones.
// It is generous: arrays of ~100k elements need a few MB.
const maxPooledScratch = 16 << 20

func (d *differ) release() {
	d.dst, d.old, d.new = nil, nil, nil
	// Drop references into the caller's buffers.
	clear(d.members[:cap(d.members)])
	clear(d.keys[:cap(d.keys)])
	d.members, d.keys = d.members[:0], d.keys[:0]
	size := cap(d.spans)*int(unsafe.Sizeof(span{})) + cap(d.members)*int(unsafe.Sizeof(member{})) +
		cap(d.keys)*24 + cap(d.hunks)*int(unsafe.Sizeof(hunk{})) + (cap(d.trace)+cap(d.v))*4 + cap(d.path)
	if size <= maxPooledScratch {
		differPool.Put(d)
	}
}

// diffValue emits the ops turning the value at old[oi] into the value at
// new[ni] (at d.path), validating both, and returns where they end. depth is
// the nesting depth of their containers.
func (d *differ) diffValue(oi, ni, depth int) (oEnd, nEnd int, err error) {
	if oi >= len(d.old) || ni >= len(d.new) {
		return oi, ni, errSyntax("unexpected end of input")
	}
	if c := d.old[oi]; c == d.new[ni] && (c == '{' || c == '[') {
		mark, n0 := len(d.dst), d.n
		if c == '{' {
			oEnd, nEnd, err = d.diffObject(oi, ni, depth)
		} else {
			oEnd, nEnd, err = d.diffArray(oi, ni, depth)
		}
		if err != nil {
			return oEnd, nEnd, err
		}
		// A long op list for a value that was mostly rewritten is worse
		// than shipping the value: use one replace when that is shorter.
		if d.n-n0 > 1 && len(d.dst)-mark > nEnd-ni+len(d.path)+len(`,{"op":"replace","path":"","value":}`) {
			d.dst, d.n = d.dst[:mark], n0
			d.emit(opReplace, d.path, d.new[ni:nEnd])
		}
		return oEnd, nEnd, nil
	}
	// Scalars, or a type change.
	if oEnd, err = scanValue(d.old, oi, depth); err != nil {
		return oEnd, ni, err
	}
	if nEnd, err = scanValue(d.new, ni, depth); err != nil {
		return oEnd, nEnd, err
	}
	if !bytes.Equal(d.old[oi:oEnd], d.new[ni:nEnd]) {
		d.emit(opReplace, d.path, d.new[ni:nEnd])
	}
	return oEnd, nEnd, nil
}

type opKind string

const (
	opAdd     opKind = `{"op":"add","path":"`
	opRemove  opKind = `{"op":"remove","path":"`
	opReplace opKind = `{"op":"replace","path":"`
)

// emit appends one op. path is already escaped for a JSON string; value is
// ignored for removes.
func (d *differ) emit(op opKind, path, value []byte) {
	if d.n > 0 {
		d.dst = append(d.dst, ',')
	}
	d.n++
	d.dst = append(d.dst, op...)
	d.dst = append(d.dst, path...)
	if op == opRemove {
		d.dst = append(d.dst, `"}`...)
		return
	}
	d.dst = append(d.dst, `","value":`...)
	d.dst = append(d.dst, value...)
	d.dst = append(d.dst, '}')
}

// pushIndex appends "/i" to d.path and returns the length to restore.
func (d *differ) pushIndex(i int) int {
	l := len(d.path)
	d.path = strconv.AppendInt(append(d.path, '/'), int64(i), 10)
	return l
}
