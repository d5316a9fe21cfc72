package jsontree

import (
	"encoding/json"
	"reflect"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// The client's applier must agree with evanphx/json-patch on every op.
func TestApplyPatchAgreesWithReference(t *testing.T) {
	t.Parallel()
	doc := `{"a":[1,2,3],"o":{"x":{"y":"z"},"k~/":1},"n":1.50,"s":"\u00e9"}`
	tests := map[string]string{
		"replace scalar":       `[{"op":"replace","path":"/n","value":2}]`,
		"add to array middle":  `[{"op":"add","path":"/a/1","value":{"q":[true,null]}}]`,
		"append with -":        `[{"op":"add","path":"/a/-","value":4}]`,
		"append with index":    `[{"op":"add","path":"/a/3","value":4}]`,
		"remove array element": `[{"op":"remove","path":"/a/0"}]`,
		"escaped key":          `[{"op":"replace","path":"/o/k~0~1","value":2}]`,
		"add member":           `[{"op":"add","path":"/o/new","value":[]}]`,
		"move":                 `[{"op":"move","from":"/o/x","path":"/a/0"}]`,
		"copy":                 `[{"op":"copy","from":"/o","path":"/c"}]`,
		"test then replace":    `[{"op":"test","path":"/s","value":"é"},{"op":"replace","path":"/s","value":"e"}]`,
		"several ops":          `[{"op":"remove","path":"/a/2"},{"op":"add","path":"/a/0","value":0},{"op":"replace","path":"/o/x/y","value":1}]`,
		"replace root":         `[{"op":"replace","path":"","value":{"z":1}}]`,
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			ref, err := jsonpatch.DecodePatch([]byte(p))
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.Apply([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			d, _ := Decode([]byte(doc))
			got, err := Apply(d, []byte(p))
			if err != nil {
				t.Fatal(err)
			}
			var w any
			_ = json.Unmarshal(want, &w)
			gb, _ := json.Marshal(got)
			var g any
			_ = json.Unmarshal(gb, &g)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("got %s, want %s", gb, want)
			}
		})
	}
	for name, p := range map[string]string{
		"missing member":  `[{"op":"remove","path":"/nope"}]`,
		"index too large": `[{"op":"replace","path":"/a/3","value":1}]`,
		"test fails":      `[{"op":"test","path":"/n","value":1}]`,
		"bad pointer":     `[{"op":"replace","path":"n","value":1}]`,
	} {
		d, _ := Decode([]byte(doc))
		if _, err := Apply(d, []byte(p)); err == nil {
			t.Errorf("%s: applied", name)
		}
	}
}
