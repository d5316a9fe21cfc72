package patch

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestObjectMembersAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":null}] } `, `{"\u0074ype":"x","a\"b":"\u00e9"}`, `{"a":1,"a":2}`,
		`[]`, `{`, `{"a":}`, `{"a":1}x`, `"s"`, `{"a":1,}`, `{"a" 1}`, ``, `{"\ud800":1}`,
	} {
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal([]byte(in), &want) != nil
		got := map[string]json.RawMessage{}
		err := ObjectMembers([]byte(in), func(k string, v []byte) error {
			got[k] = v
			return nil
		})
		if (err != nil) != wantErr {
			t.Errorf("%q: err %v, encoding/json err %v", in, err, wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Errorf("%q: got %v want %v", in, got, want)
		}
	}
}

func normalize(m map[string]json.RawMessage) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		var x any
		_ = json.Unmarshal(v, &x)
		b, _ := json.Marshal(x)
		out[k] = string(b)
	}
	return out
}

func TestString(t *testing.T) {
	for raw, want := range map[string]string{`"abc"`: "abc", `"a\"b"`: `a"b`, `"\u00e9"`: "é", `"é"`: "é"} {
		if got, ok := String([]byte(raw)); !ok || got != want {
			t.Errorf("%s: %q %v", raw, got, ok)
		}
	}
	for _, raw := range []string{`1`, `null`, `"`, ``} {
		if _, ok := String([]byte(raw)); ok {
			t.Errorf("%s accepted", raw)
		}
	}
}

func FuzzObjectMembers(f *testing.F) {
	for _, s := range []string{`{"type":"a","data":[1],"id":"x"}`, `{}`, `{"a":{"b":[]}}`, `[`, `{"\u00e9":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(b, &want) != nil
		got := map[string]json.RawMessage{}
		err := ObjectMembers(b, func(k string, v []byte) error {
			if !json.Valid(v) {
				t.Fatalf("member %q has invalid value %q", k, v)
			}
			got[k] = v
			return nil
		})
		if (err != nil) != wantErr {
			t.Fatalf("%q: err %v, encoding/json failed: %v", b, err, wantErr)
		}
		if err == nil && len(got) != len(want) {
			t.Fatalf("%q: %d members, encoding/json %d", b, len(got), len(want))
		}
	})
}
