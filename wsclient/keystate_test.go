package wsclient

import (
	"log/slog"
	"testing"
)

func u(v uint64) *uint64 { return &v }

// A key's state through the rules of docs/protocol.md, "Versions".
func TestKeyStateVersions(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	k := &keyState{key: "K"}
	if !k.onPatch([]byte(`[]`), u(1), log) {
		t.Fatal("a patch before any _SET must ask for one")
	}
	k.onSet([]byte(`{"n":1,"a":[]}`), u(10), "", log)
	if k.awaiting || !k.live || k.v != 10 || string(k.raw) != `{"n":1,"a":[]}` {
		t.Fatalf("after _SET: %+v", k)
	}
	step := func(ops string, v uint64, wantGet bool, wantRaw string) {
		t.Helper()
		if got := k.onPatch([]byte(ops), u(v), log); got != wantGet {
			t.Fatalf("patch v%d: needGet = %v, want %v", v, got, wantGet)
		}
		if string(k.raw) != wantRaw {
			t.Fatalf("patch v%d: state %s, want %s", v, k.raw, wantRaw)
		}
	}
	step(`[{"op":"replace","path":"/n","value":2}]`, 11, false, `{"a":[],"n":2}`)
	step(`[{"op":"replace","path":"/n","value":2}]`, 11, false, `{"a":[],"n":2}`) // duplicate: ignored
	step(`[{"op":"add","path":"/a/-","value":1}]`, 13, true, `{"a":[],"n":2}`)    // gap: ask
	step(`[{"op":"add","path":"/a/-","value":1}]`, 14, false, `{"a":[],"n":2}`)   // skipped while awaiting
	if k.gaps != 2 || !k.awaiting {                                               // the patch before any _SET, and the gap
		t.Fatalf("after the gap: gaps %d awaiting %v", k.gaps, k.awaiting)
	}
	k.onSet([]byte(`{"n":3,"a":[1,2]}`), u(14), "", log)
	step(`[{"op":"remove","path":"/a/5"}]`, 15, true, `{"n":3,"a":[1,2]}`) // does not apply: ask, keep the last good state
	if k.tree != nil {
		t.Fatal("a half-applied tree kept as a base")
	}
	k.onSet([]byte(`{"n":4}`), u(3), "", log) // a _SET may move the version backwards
	step(`[{"op":"replace","path":"/n","value":5}]`, 4, false, `{"n":5}`)
	k.disconnected()
	if k.live || k.awaiting || string(k.raw) != `{"n":5}` {
		t.Fatalf("after the connection ended: %+v", k)
	}
}

func TestCallData(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		params any
		want   string
		bad    bool
	}{
		"nil":        {nil, `{"type":"go"}`, false},
		"struct":     {struct{ N int }{3}, `{"N":3,"type":"go"}`, false},
		"map":        {map[string]string{"a": "b"}, `{"a":"b","type":"go"}`, false},
		"type wins":  {map[string]string{"type": "x"}, `{"type":"go"}`, false},
		"not object": {[]int{1}, "", true},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := callData("go", tc.params)
			if tc.bad {
				if err == nil {
					t.Fatal("no error for params that are not an object")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(t, m); got != tc.want {
				t.Fatalf("data = %s, want %s", got, tc.want)
			}
		})
	}
}
