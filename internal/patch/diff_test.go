package patch

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendDiff(t *testing.T) {
	const anyOps = "?" // the exact ops are not pinned down, only their effect
	// long makes values big enough that a single replace is not shorter
	// than the ops under test.
	long := strings.Repeat("long value ", 20)
	tests := []struct {
		name     string
		pointer  string
		old, new string
		want     string
	}{
		// Unchanged and scalars.
		{"equal", "", `{"a":[1,2]}`, `{"a":[1,2]}`, ``},
		{"equal/whitespace", "", `{"a": [1, 2]}`, `{"a":[1,2]}`, ``},
		{"number", "", `1`, `2`, `{"op":"replace","path":"","value":2}`},
		{"number/raw bytes kept", "", `1`, `1.50e3`, `{"op":"replace","path":"","value":1.50e3}`},
		{"string/unicode", "", `"héllo"`, `"wörld ✓ \u2713"`, `{"op":"replace","path":"","value":"wörld ✓ \u2713"}`},
		{"null to object", "", `null`, `{}`, `{"op":"replace","path":"","value":{}}`},
		{"bool", "/x", `true`, `false`, `{"op":"replace","path":"/x","value":false}`},
		{"type/object to array", "", `{"a":1}`, `[1]`, `{"op":"replace","path":"","value":[1]}`},
		{"type/array to string", "/p", `[1]`, `"[1]"`, `{"op":"replace","path":"/p","value":"[1]"}`},
		{"type/member", "", `{"a":{"b":1}}`, `{"a":[1]}`, `{"op":"replace","path":"/a","value":[1]}`},

		// Objects.
		{"object/add remove change", "", `{"a":1,"b":2,"c":3,"long":"` + long + `"}`, `{"a":1,"c":4,"d":5,"long":"` + long + `"}`,
			`{"op":"remove","path":"/b"},{"op":"replace","path":"/c","value":4},{"op":"add","path":"/d","value":5}`},
		{"object/small rewrite becomes replace", "", `{"a":1,"b":2,"c":3}`, `{"a":1,"c":4,"d":5}`, `{"op":"replace","path":"","value":{"a":1,"c":4,"d":5}}`},
		{"object/member order ignored", "", `{"b":1,"a":2}`, `{"a":2,"b":1}`, ``},
		{"object/reordered and changed", "", `{"b":1,"a":2}`, `{"a":3,"b":1}`, `{"op":"replace","path":"/a","value":3}`},
		{"object/empty to one", "", `{}`, `{"a":1}`, `{"op":"add","path":"/a","value":1}`},
		{"object/one to empty", "", `{"a":1}`, `{}`, `{"op":"remove","path":"/a"}`},
		{"object/nested", "", `{"a":{"b":{"c":1,"d":2}}}`, `{"a":{"b":{"c":1,"d":3}}}`, `{"op":"replace","path":"/a/b/d","value":3}`},
		{"object/duplicate keys last wins", "", `{"a":1,"a":2}`, `{"a":3}`, `{"op":"replace","path":"/a","value":3}`},
		{"object/duplicate keys unchanged", "", `{"a":1,"a":2}`, `{"a":2}`, ``},

		// Keys that need escaping.
		{"key/slash", "", `{"a/b":1}`, `{"a/b":2}`, `{"op":"replace","path":"/a~1b","value":2}`},
		{"key/tilde", "", `{"m~n":1}`, `{"m~n":2}`, `{"op":"replace","path":"/m~0n","value":2}`},
		{"key/tilde one", "", `{"~1":1}`, `{"~1":2}`, `{"op":"replace","path":"/~01","value":2}`},
		{"key/escaped slash", "", `{"\u002f":1}`, `{"/":2}`, `{"op":"replace","path":"/~1","value":2}`},
		{"key/escaped both sides", "", `{"a\u002fb":1,"x":1}`, `{"a/b":1,"x":2}`, `{"op":"replace","path":"/x","value":2}`},
		{"key/quote", "", `{"q\"k":1}`, `{"q\"k":2}`, `{"op":"replace","path":"/q\"k","value":2}`},
		{"key/backslash", "", `{"b\\s":1}`, `{"b\\s":2}`, `{"op":"replace","path":"/b\\s","value":2}`},
		{"key/control char", "", `{"\n":1}`, `{"\n":2}`, `{"op":"replace","path":"/\n","value":2}`},
		{"key/unicode", "", `{"é":1}`, `{"é":2}`, `{"op":"replace","path":"/é","value":2}`},
		{"key/unicode escape", "", `{"\u00e9":1}`, `{"é":2}`, `{"op":"replace","path":"/é","value":2}`},
		{"key/html escape", "", `{"\u003c":1}`, `{"<":2}`, `{"op":"replace","path":"/<","value":2}`},
		{"key/empty", "", `{"":1}`, `{"":2}`, `{"op":"replace","path":"/","value":2}`},
		{"key/added with slash", "", `{}`, `{"a/b~":1}`, `{"op":"add","path":"/a~1b~0","value":1}`},

		// Pointers.
		{"pointer/escaped", "/a~1b/0", `{"x":1}`, `{"x":2}`, `{"op":"replace","path":"/a~1b/0/x","value":2}`},
		{"pointer/needs JSON escaping", `/q"\`, `1`, `2`, `{"op":"replace","path":"/q\"\\","value":2}`},

		// Arrays.
		{"array/append", "", `[1,2,3]`, `[1,2,3,4]`, `{"op":"add","path":"/3","value":4}`},
		{"array/prepend", "", `[1,2,3]`, `[0,1,2,3]`, `{"op":"add","path":"/0","value":0}`},
		{"array/insert middle", "", `[1,2,3]`, `[1,2,9,3]`, `{"op":"add","path":"/2","value":9}`},
		{"array/remove first", "", `[1,2,3]`, `[2,3]`, `{"op":"remove","path":"/0"}`},
		{"array/remove middle", "", `[1,2,3]`, `[1,3]`, `{"op":"remove","path":"/1"}`},
		{"array/remove last", "", `[1,2,3]`, `[1,2]`, `{"op":"remove","path":"/2"}`},
		{"array/modify", "", `[1,2,3]`, `[1,5,3]`, `{"op":"replace","path":"/1","value":5}`},
		{"array/number prefix", "", `[12]`, `[123]`, `{"op":"replace","path":"/0","value":123}`},
		{"array/number grows", "", `[1,2]`, `[1,23]`, `{"op":"replace","path":"/1","value":23}`},
		{"array/repeated append", "", `[1,1]`, `[1,1,1]`, `{"op":"add","path":"/1","value":1}`},
		{"array/repeated remove", "", `[1,1]`, `[1]`, `{"op":"remove","path":"/0"}`},
		{"array/empty to one", "", `[]`, `[1]`, `{"op":"add","path":"/0","value":1}`},
		{"array/one to empty", "", `[1]`, `[]`, `{"op":"remove","path":"/0"}`},
		{"array/empty nested", "", `[[]]`, `[[],[]]`, `{"op":"add","path":"/0","value":[]}`},
		{"array/whitespace", "", `[ 1 , 2 ]`, `[1,2,3]`, `{"op":"add","path":"/2","value":3}`},
		{"array/escaped quote in string", "", `["x","y"]`, `["x\",\"y"]`, anyOps},
		{"array/two removed", "", `[1,2,3,4,5,"` + long + `"]`, `[1,3,5,"` + long + `"]`, `{"op":"remove","path":"/1"},{"op":"remove","path":"/2"}`},
		{"array/insert and remove", "", `[1,2,3,4,5,6,"` + long + `"]`, `[0,1,2,3,4,5,"` + long + `"]`, `{"op":"add","path":"/0","value":0},{"op":"remove","path":"/6"}`},
		{"array/small rewrite becomes replace", "", `[1,2,3,4,5]`, `[1,3,5]`, `{"op":"replace","path":"","value":[1,3,5]}`},
		{"array/nested in object in array", "", `[{"a":[1,2]},{"b":3}]`, `[{"a":[1,2,3]},{"b":3}]`, `{"op":"add","path":"/0/a/2","value":3}`},
		{"array/deep", "/s", `{"l":[{"m":[[1],[2,{"k":"v"}]]}]}`, `{"l":[{"m":[[1],[2,{"k":"w"}]]}]}`, `{"op":"replace","path":"/s/l/0/m/1/1/k","value":"w"}`},
		{"array/modified object element", "", `[{"id":1,"n":"a"},{"id":2,"n":"b"}]`, `[{"id":1,"n":"a"},{"id":2,"n":"c"}]`, `{"op":"replace","path":"/1/n","value":"c"}`},
		{"array/reversed", "", `[1,2,3,4,5,6,7,8]`, `[8,7,6,5,4,3,2,1]`, `{"op":"replace","path":"","value":[8,7,6,5,4,3,2,1]}`},
		{"array/null elements", "", `[null,null]`, `[null,false,null]`, `{"op":"add","path":"/1","value":false}`},

		// Several changes in one document: the global common prefix and
		// suffix must only be used where they apply.
		{"multi/two arrays", "", `{"a":[1,2,3],"b":[4,5,6],"c":"` + long + `"}`, `{"a":[0,1,2,3],"b":[4,5,6,7],"c":"` + long + `"}`,
			`{"op":"add","path":"/a/0","value":0},{"op":"add","path":"/b/3","value":7}`},
		{"multi/same arrays", "", `{"a":[1,2],"b":[1,2],"c":"` + long + `"}`, `{"a":[1,2,3],"b":[1,2,3],"c":"` + long + `"}`,
			`{"op":"add","path":"/a/2","value":3},{"op":"add","path":"/b/2","value":3}`},
		{"multi/nested shift", "", `[[1,2],[3,4],[5,6],"` + long + `"]`, `[[0,1,2],[3,4],[5,6,7],"` + long + `"]`,
			`{"op":"add","path":"/0/0","value":0},{"op":"add","path":"/2/2","value":7}`},
		{"multi/reordered keys with nested change", "", `{"a":[1,2],"b":{"x":1},"c":"` + long + `"}`, `{"c":"` + long + `","b":{"x":2},"a":[1,2]}`,
			`{"op":"replace","path":"/b/x","value":2}`},
		{"multi/escaped key pairs with plain", "", `{"a":[1],"b":[2]}`, `{"a":[1,0],"b":[2,0]}`, anyOps},
		{"multi/duplicate key after pairing", "", `{"a":[1],"b":2,"a":[3]}`, `{"a":[3,4],"b":2}`, `{"op":"add","path":"/a/1","value":4}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid([]byte(tt.old)) || !json.Valid([]byte(tt.new)) {
				t.Fatal("test input is not valid JSON")
			}
			got, n, err := AppendDiff(nil, 0, tt.pointer, []byte(tt.old), []byte(tt.new), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != anyOps && string(got) != tt.want {
				t.Errorf("ops\ngot:  %s\nwant: %s", got, tt.want)
			}
			if want := strings.Count(string(got), `{"op":`); n != want {
				t.Errorf("n = %d, want %d", n, want)
			}
			if _, _, err := diffAndApply([]byte(tt.old), []byte(tt.new), nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAppendDiffAppendsToDst(t *testing.T) {
	dst := []byte(`{"op":"remove","path":"/z"}`)
	dst, n, err := AppendDiff(dst, 1, "/a", []byte(`1`), []byte(`2`), nil)
	if err != nil {
		t.Fatal(err)
	}
	dst, n, err = AppendDiff(dst, n, "/b", []byte(`[1]`), []byte(`[1,2]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"op":"remove","path":"/z"},{"op":"replace","path":"/a","value":2},{"op":"add","path":"/b/1","value":2}`
	if string(dst) != want || n != 3 {
		t.Errorf("got %d ops %s\nwant 3 ops %s", n, dst, want)
	}
	// Unchanged input appends nothing and keeps n.
	dst2, n2, err := AppendDiff(dst, n, "/c", []byte(`[1]`), []byte(`[1]`), nil)
	if err != nil || n2 != n || !bytes.Equal(dst2, dst) {
		t.Errorf("unchanged: got %d %s %v", n2, dst2, err)
	}
}

func TestAppendDiffInvalid(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	tests := []struct{ name, old, new string }{
		{"empty", ``, `1`},
		{"space only", ` `, `1`},
		{"truncated array", `[1,2`, `[1]`},
		{"trailing comma", `[1]`, `[1,]`},
		{"missing value", `{"a":1}`, `{"a":}`},
		{"missing colon", `{"a":1}`, `{"a" 1}`},
		{"leading zero", `1`, `01`},
		{"bad literal", `1`, `tru`},
		{"bad escape", `"a"`, `"\x"`},
		{"short unicode escape", `"a"`, `"\u12"`},
		{"control char", `"a"`, "\"\x01\""},
		{"trailing data", `[1]`, `[1] x`},
		{"two values", `[1]`, `[1] [2]`},
		{"invalid in common prefix", `[tru,1]`, `[tru,2]`},
		{"invalid in common suffix", `[1,nul]`, `[2,nul]`},
		{"invalid old only", `{"a":[1,2,}`, `{"a":[1]}`},
		{"invalid replaced value", `{"a":[1,}`, `{"a":2}`},
		{"unquoted key", `{"a":1}`, `{a:1}`},
		{"too deep", `1`, deep},
		{"too deep in array", `[1]`, `[1,` + deep + `]`},
		{"number without digits", `[1]`, `[-]`},
		{"fraction without digits", `[1]`, `[1.]`},
		{"exponent without digits", `[1]`, `[1e+]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if json.Valid([]byte(tt.old)) && json.Valid([]byte(tt.new)) {
				t.Fatal("test input is valid JSON")
			}
			dst := []byte("x")
			for _, swap := range []bool{false, true} {
				o, nw := tt.old, tt.new
				if swap {
					o, nw = nw, o
				}
				got, n, err := AppendDiff(dst, 7, "", []byte(o), []byte(nw), nil)
				if err == nil {
					t.Errorf("AppendDiff(%q, %q): no error, ops %s", o, nw, got)
				}
				if string(got) != "x" || n != 7 {
					t.Errorf("on error got dst %q, n %d; want them unchanged", got, n)
				}
			}
		})
	}
}

func TestMaxDepthMatchesEncodingJSON(t *testing.T) {
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if !json.Valid([]byte(ok)) {
		t.Fatal("encoding/json rejects maxDepth nesting")
	}
	if _, _, err := AppendDiff(nil, 0, "", []byte(`1`), []byte(ok), nil); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
	obj := strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth)
	obj2 := strings.Repeat(`{"a":`, maxDepth) + "2" + strings.Repeat("}", maxDepth)
	got, _, err := AppendDiff(nil, 0, "", []byte(obj), []byte(obj2), nil)
	if err != nil {
		t.Fatalf("deep object: %v", err)
	}
	if want := `{"op":"replace","path":"` + strings.Repeat("/a", maxDepth) + `","value":2}`; string(got) != want {
		t.Errorf("deep object: got %.80s...", got)
	}
}

func TestEscapeToken(t *testing.T) {
	for in, want := range map[string]string{
		"":       "",
		"abc":    "abc",
		"a/b":    "a~1b",
		"m~n":    "m~0n",
		"~1":     "~01",
		"/~/~":   "~1~0~1~0",
		"é/ü":    "é~1ü",
		"a\"b\\": "a\"b\\",
	} {
		if got := EscapeToken(in); got != want {
			t.Errorf("EscapeToken(%q) = %q, want %q", in, got, want)
		}
		if got := string(AppendEscapedToken([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendEscapedToken(%q) = %q, want %q", in, got, "x"+want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = EscapeToken("plain") }); n != 0 {
		t.Errorf("EscapeToken allocates %v times for a plain token", n)
	}
}

func TestAppendStringContent(t *testing.T) {
	for _, s := range []string{"", "abc", "q\"b\\", "\x00\x1f\n\t\r", "é✓😀", "bad\xffutf8\xc3", "\u2028"} {
		got := append([]byte{'"'}, appendStringContent(nil, s)...)
		got = append(got, '"')
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q: invalid JSON string %s: %v", s, got, err)
			continue
		}
		var want string
		_ = json.Unmarshal(mustMarshal(s), &want)
		if back != want {
			t.Errorf("%q: round trip %q, want %q", s, back, want)
		}
	}
}

func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	items := bigItems(2000)
	b := mustMarshal(items)
	if n := testing.AllocsPerRun(100, func() {
		_, _, _ = AppendDiff(nil, 0, "/x", b, bytes.Clone(b)[:len(b):len(b)], nil)
	}); n != 1 { // the clone
		t.Errorf("unchanged diff allocates %v times", n-1)
	}
	// With dst reused, a diff allocates nothing once the pool is warm.
	items[500].Name = "changed"
	c := mustMarshal(append(items, newItem(-1)))
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() {
		var err error
		if dst, _, err = AppendDiff(dst[:0], 0, "/x", b, c, nil); err != nil {
			t.Fatal(err)
		}
	}); n > 0.1 {
		t.Errorf("diff allocates %v times", n)
	}
}
