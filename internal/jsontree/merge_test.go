package jsontree

import (
	"encoding/json"
	"testing"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, state, write, want string
		fails                    bool
	}{
		{name: "members replaced, others kept", state: `{"a":1,"b":[1],"c":{"x":1}}`, write: `{"b":[2],"c":{"y":2}}`, want: `{"a":1,"b":[2],"c":{"y":2}}`},
		{name: "new member added", state: `{"a":1}`, write: `{"z":null}`, want: `{"a":1,"z":null}`},
		{name: "empty write", state: `{"a":1}`, write: `{}`, want: `{"a":1}`},
		{name: "array state", state: `[1]`, write: `{"a":1}`, fails: true},
		{name: "array write", state: `{"a":1}`, write: `[1]`, fails: true},
		{name: "undecodable write", state: `{"a":1}`, write: `{`, fails: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			state, err := Decode([]byte(tc.state))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Merge(state, []byte(tc.write))
			if tc.fails {
				if err == nil {
					t.Fatalf("Merge = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Fatalf("Merge = %s, want %s", b, tc.want)
			}
			if b, _ := json.Marshal(state); string(b) != tc.state {
				t.Fatalf("the state changed to %s", b)
			}
		})
	}
}
