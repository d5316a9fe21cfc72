package wssync

import (
	"errors"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// A test op comparing values that hold null inside arrays (on which evanphx/json-patch
// panics) passes or fails as RFC 6902 says; the ops around it apply in order.
func TestApplyPatchSafelyTestsWithNullInArrays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		doc, patch, want string
		failed           bool
	}{
		{`{"y":[[null]]}`, `[{"op":"test","path":"/y/0","value":[null]},{"op":"add","path":"/z","value":1}]`, `{"y":[[null]],"z":1}`, false},
		{`{"y":[[null]]}`, `[{"op":"test","path":"/y/0","value":[[1]]}]`, ``, true},
		{`{"y":[[1]]}`, `[{"op":"test","path":"/y/0","value":[null]}]`, ``, true},
		{`{"y":[]}`, `[{"op":"add","path":"/y/0","value":[null]},{"op":"test","path":"/y/0","value":[null]}]`, `{"y":[[null]]}`, false},
		{`{"y":[]}`, `[{"op":"add","path":"/y/0","value":[null]},{"op":"test","path":"/y/0","value":[1]}]`, ``, true},
	} {
		p, err := jsonpatch.DecodePatch([]byte(c.patch))
		if err != nil {
			t.Fatal(err)
		}
		got, err := applyPatchSafely(p, []byte(c.doc), jsonpatch.NewApplyOptions())
		switch {
		case c.failed && !errors.Is(err, jsonpatch.ErrTestFailed):
			t.Errorf("%s on %s: %s, %v; want the test to fail", c.patch, c.doc, got, err)
		case !c.failed && (err != nil || !jsonEq(got, []byte(c.want))):
			t.Errorf("%s on %s: %s, %v; want %s", c.patch, c.doc, got, err, c.want)
		}
	}
}

// Past maxSafeReplayOps ops, such a patch is refused whole rather than applied op by op
// (each op's copy-size account would start afresh), and nothing panics.
func TestApplyPatchSafelyRefusesLongReplays(t *testing.T) {
	t.Parallel()
	patch := `[{"op":"test","path":"/y","value":[null]}`
	for range maxSafeReplayOps {
		patch += `,{"op":"add","path":"/z","value":1}`
	}
	p, err := jsonpatch.DecodePatch([]byte(patch + "]"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := applyPatchSafely(p, []byte(`{"y":[null]}`), jsonpatch.NewApplyOptions()); err == nil || errors.Is(err, jsonpatch.ErrTestFailed) {
		t.Fatalf("%d ops: %s, %v; want a refusal of the patch", len(p), got, err)
	}
}
