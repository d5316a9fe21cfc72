package wssync

import (
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync/internal/jsontree"
)

// maxSafeReplayOps bounds the ops applyPatchSafely applies one at a time: each application
// starts a copy-size account of its own, so a long patch could copy more than one
// application allows.
const maxSafeReplayOps = 32

// applyPatchSafely applies p to doc as p.ApplyWithOptions does. evanphx/json-patch panics
// when a test op compares values holding null inside an array (its lazyNode.equal): then
// the ops are applied again one at a time, each test evaluated by internal/jsontree on the
// document as the ops before it left it, so that such a test passes or fails as RFC 6902
// says instead of failing the handler.
func applyPatchSafely(p jsonpatch.Patch, doc []byte, opts *jsonpatch.ApplyOptions) ([]byte, error) {
	out, panicked, err := tryApply(p, doc, opts)
	if !panicked {
		return out, err
	}
	if len(p) > maxSafeReplayOps {
		return nil, fmt.Errorf("a patch of more than %d ops whose test compares values holding null in arrays is not supported", maxSafeReplayOps)
	}
	for i := range p {
		if p[i].Kind() != "test" {
			if doc, panicked, err = tryApply(p[i:i+1], doc, opts); panicked {
				return nil, fmt.Errorf("op %d cannot be applied", i)
			} else if err != nil {
				return nil, err
			}
			continue
		}
		tree, err := jsontree.Decode(doc)
		if err != nil {
			return nil, err
		}
		op, err := json.Marshal(p[i : i+1])
		if err != nil {
			return nil, err
		}
		if _, err := jsontree.Apply(tree, op); err != nil {
			return nil, fmt.Errorf("op %d: %w", i, jsonpatch.ErrTestFailed)
		}
	}
	return doc, nil
}

// tryApply is p.ApplyWithOptions, reporting a panic instead of raising it.
func tryApply(p jsonpatch.Patch, doc []byte, opts *jsonpatch.ApplyOptions) (out []byte, panicked bool, err error) {
	defer func() {
		if recover() != nil {
			out, panicked, err = nil, true, nil
		}
	}()
	out, err = p.ApplyWithOptions(doc, opts)
	return out, false, err
}
