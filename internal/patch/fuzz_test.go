package patch

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendDiff checks that for valid inputs AppendDiff succeeds and its
// patch turns old into new, and that for invalid inputs it fails cleanly.
// The checked-in corpus is in testdata/fuzz/FuzzAppendDiff.
func FuzzAppendDiff(f *testing.F) {
	f.Add([]byte(`[1,2,3]`), []byte(`[1,3]`))
	f.Add([]byte(`{"a/b":{"m~n":[1,{"x":null}]}}`), []byte(`{"a\u002fb":{"m~n":[1,{"x":true},2]}}`))
	f.Add([]byte(` [ "x" , "y" ] `), []byte(`["x\",\"y"]`))
	f.Add([]byte(`[1,2`), []byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, old, new []byte) {
		for _, opts := range []*Options{nil, {MaxEditDistance: 1}} {
			ops, n, err := AppendDiff(nil, 0, "/r", old, new, opts)
			switch {
			case bytes.Equal(old, new):
				// Documented short cut: identical input is not even looked at.
				if err != nil || n != 0 || len(ops) != 0 {
					t.Fatalf("identical input: %d ops %s, err %v", n, ops, err)
				}
			case !json.Valid(old) || !json.Valid(new):
				if err == nil {
					t.Fatalf("invalid input accepted: %d ops %s", n, ops)
				}
			case err != nil:
				t.Fatalf("valid input rejected: %v", err)
			case scanExact(trimSpace(old), 3) != nil || scanExact(trimSpace(new), 3) != nil:
				// Too deep to wrap into a document and a patch that
				// encoding/json would still decode; nothing to apply.
			default:
				doc := append(append([]byte(`{"r":`), old...), '}')
				want := append(append([]byte(`{"r":`), new...), '}')
				if err := checkApply(doc, want, ops, n); err != nil {
					t.Fatalf("opts %+v: %v", opts, err)
				}
			}
		}
	})
}
