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
	// MaxEditDistance bounds the Myers diff used for arrays: when turning the
	// old elements into the new ones needs more than this many inserted plus
	// removed elements (a changed element counts as one removal plus one
	// insertion), the Myers search is abandoned. AppendDiff then falls back
	// to a position-wise diff if most elements still line up (this is what
	// keeps "many scattered in-place modifications" small) and otherwise
	// replaces the whole array with one op. The search costs
	// O((N+M)·MaxEditDistance) time and O(MaxEditDistance²) memory.
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
// Ops are "add", "remove" and "replace" only, to be applied in order; array
// indices account for the earlier ops. Values in ops are copied verbatim
// from new (numbers are never re-encoded). If old and new are byte-identical
// AppendDiff returns at once without looking at them, so invalid JSON is not
// detected in that case. Otherwise invalid JSON in either value yields a
// error, and dst and n are returned unchanged with it.
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
		// Only the surrounding space differs; diffValue would not look.
		if err := scanExact(o, 0); err != nil {
			return dst, n, err
		}
		return dst, n, nil
	}
	if err := d.diffValue(o, nw, 0); err != nil {
		return dst, n, err
	}
	return d.dst, d.n, nil
}

// differ carries the output and reusable scratch space of one AppendDiff call.
type differ struct {
	dst     []byte
	n       int
	path    []byte // current JSON Pointer, already escaped for use inside a JSON string
	maxEdit int

	// Scratch stacks: a (recursive) call appends its entries at the end and
	// truncates back on return, so nested calls share one allocation.
	spans   []span
	members []member
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
	d.dst = nil
	clear(d.members[:cap(d.members)]) // drop references into the caller's buffers
	d.members = d.members[:0]
	size := cap(d.spans)*int(unsafe.Sizeof(span{})) + cap(d.members)*int(unsafe.Sizeof(member{})) +
		cap(d.hunks)*int(unsafe.Sizeof(hunk{})) + (cap(d.trace)+cap(d.v))*4 + cap(d.path)
	if size <= maxPooledScratch {
		differPool.Put(d)
	}
}

// diffValue emits the ops turning old into new at d.path. old and new have
// no surrounding whitespace; they are validated (again) as they are scanned.
// depth is the nesting depth of their container.
func (d *differ) diffValue(old, new []byte, depth int) error {
	if bytes.Equal(old, new) {
		return nil
	}
	if len(old) == 0 || len(new) == 0 {
		return errSyntax("unexpected end of input")
	}
	var diff func(d *differ, old, new []byte, depth int) error
	switch {
	case old[0] == '{' && new[0] == '{':
		diff = (*differ).diffObject
	case old[0] == '[' && new[0] == '[':
		diff = (*differ).diffArray
	default:
		if err := scanExact(old, depth); err != nil {
			return err
		}
		if err := scanExact(new, depth); err != nil {
			return err
		}
		d.emit(opReplace, d.path, new)
		return nil
	}

	mark, n0 := len(d.dst), d.n
	if err := diff(d, old, new, depth); err != nil {
		return err
	}
	// A long op list for a value that was mostly rewritten is worse than
	// shipping the value: fall back to one replace when that is shorter.
	if d.n-n0 > 1 && len(d.dst)-mark > len(new)+len(d.path)+len(`,{"op":"replace","path":"","value":}`) {
		d.dst, d.n = d.dst[:mark], n0
		d.emit(opReplace, d.path, new)
	}
	return nil
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
