package wssync

import (
	"fmt"
	"strings"
)

// sizeTally adds up what one client write does to the encoded size of the state.
type sizeTally struct {
	maxState    int64 // the state may not grow beyond this
	growthLimit int64 // the write may add this many bytes at most
	size        int64 // the state's size as published
	growth      int64 // bytes the write adds to the fields it changes
}

// newTally starts the tally of a client write that may add growth bytes. The caller holds
// pub, which guards the published snapshot.
func (o *object) newTally(growth int64) *sizeTally {
	n := int64(o.size())
	return &sizeTally{maxState: o.maxState, growthLimit: growth, size: n}
}

// add counts a field changed from an encoding of cur bytes to one of next bytes.
func (t *sizeTally) add(next, cur int) { t.growth += int64(next - cur) }

// check refuses a write that grows the state beyond its bounds.
func (t *sizeTally) check() error {
	if t.growth <= 0 {
		return nil
	}
	if t.growth > t.growthLimit {
		return tooLarge("", "the write would add %d bytes to the state; one write may add at most %d (the frame limit)", t.growth, t.growthLimit)
	}
	if after := t.size + t.growth; after > t.maxState {
		return tooLarge("", "the state would take %d bytes; client writes may make it at most %d", after, t.maxState)
	}
	return nil
}

// tooLarge is a CodeTooLarge refusal.
func tooLarge(path, format string, args ...any) *Error {
	return &Error{Code: CodeTooLarge, Path: path, Message: fmt.Sprintf(format, args...)}
}

// ShiftWorkFactor bounds the ops of one client patch that insert or remove an array element
// at an index: the patch applier copies the whole array for each, so each is counted as
// the encoded size of the field it changes, and together they may count at most
// ShiftWorkFactor times the frame limit. Appends ("-") and replaces are not counted.
const ShiftWorkFactor = 16

// checkShifts refuses a patch whose shifting ops would copy more than ShiftWorkFactor
// frame limits of array; before holds the encodings of the fields the patch touches.
func (o *object) checkShifts(ops []wireOp, before map[int][]byte, frameLimit int64) error {
	budget := ShiftWorkFactor * frameLimit
	var work int64
	count := func(p string) error {
		if !shiftsArray(p) {
			return nil
		}
		tokens, _ := parsePointer(p) // checked by parseOps
		if i := o.fieldIndex(tokens[0]); i >= 0 {
			work += int64(len(before[i]))
		}
		if work > budget {
			return tooLarge(p, "the patch inserts or removes array elements at an index too often for the size of the array: it would copy %d bytes or more of array, over %d", work, budget)
		}
		return nil
	}
	for _, op := range ops {
		var err error
		switch op.Op {
		case "add", "copy", "remove":
			err = count(*op.Path)
		case "move":
			if err = count(*op.From); err == nil {
				err = count(*op.Path)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// shiftsArray reports whether pointer p ends in an array index (all digits) below a
// field: an insert or removal there shifts the array.
func shiftsArray(p string) bool {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return false
	}
	for _, c := range p[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
