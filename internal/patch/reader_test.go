package patch

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// walkAll reads every leaf of the value at r, with its path.
func walkAll(r *Reader, path string, out *[]string) error {
	switch r.Peek() {
	case '{':
		return r.Object(func(key string) error { return walkAll(r, path+"/"+key, out) })
	case '[':
		return r.Array(func(i int) error { return walkAll(r, fmt.Sprintf("%s/%d", path, i), out) })
	}
	v, err := r.Skip()
	if err == nil {
		*out = append(*out, path+"="+string(v))
	}
	return err
}

// flatten lists the leaves of a decoded value the way walkAll does.
func flatten(v any, path string, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			flatten(e, path+"/"+k, out)
		}
	case []any:
		for i, e := range v {
			flatten(e, fmt.Sprintf("%s/%d", path, i), out)
		}
	default:
		b, _ := json.Marshal(v)
		*out = append(*out, path+"="+string(b))
	}
}

func TestReaderWalksEveryLeaf(t *testing.T) {
	for _, doc := range []string{
		`{"a":[1,2,{"b":null,"c":"x\"y"}],"d":{},"e":[],"f":true}`,
		` [ [ [ ] ] , { "k" : -1.5e3 } , "s" ] `,
		`"plain"`, `0`, `{"esc\u0041":{"x/y":[false]}}`,
	} {
		var got, want []string
		if err := walkAll(NewReader([]byte(doc)), "", &got); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		flatten(v, "", &want)
		// json.Marshal of a decoded number or string may differ in form; compare paths.
		for i := range got {
			got[i], _, _ = strings.Cut(got[i], "=")
		}
		for i := range want {
			want[i], _, _ = strings.Cut(want[i], "=")
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", doc, got, want)
		}
	}
}

func TestReaderRefusesInvalid(t *testing.T) {
	for _, doc := range []string{`{"a":}`, `[1,]`, `{"a" 1}`, `[1 2]`, `{`, strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)} {
		var out []string
		if err := walkAll(NewReader([]byte(doc)), "", &out); err == nil {
			t.Errorf("%q accepted", doc)
		}
	}
}
