package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wssync/wssync"
)

// TestPrintSchema: -print-schema describes the three keys, the title as the only writable
// field of the list and the filter of the view, the actions with add's result, and the
// review task; and the state schemas accept the _SET a real tab receives.
func TestPrintSchema(t *testing.T) {
	var out bytes.Buffer
	if err := printSchema(&out); err != nil {
		t.Fatal(err)
	}
	var sc wssync.Schema
	if err := json.Unmarshal(out.Bytes(), &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Keys) != 3 || sc.Keys[0].Key != "NOTES" || sc.Keys[1].Key != onlineKey || sc.Keys[2].Key != "VIEW" {
		t.Fatalf("keys %+v", sc.Keys)
	}
	notes, online, view := sc.Keys[0], sc.Keys[1], sc.Keys[2]
	if len(online.Actions) != 1 || online.Actions[0].Name != "meta" {
		t.Errorf("the online list's actions %+v, want meta alone", online.Actions)
	}
	for _, c := range []struct {
		s        *wssync.JSONSchema
		field    string
		readOnly bool
	}{{notes.State, "title", false}, {notes.State, "notes", false}, {notes.State, "activity", true},
		{view.State, "filter", false},
		{view.State, "progress", true}, {view.State, "runningTasks", true}} {
		if p := c.s.Properties.Get(c.field); p == nil || p.ReadOnly != c.readOnly {
			t.Errorf("%s: %+v, want readOnly %v", c.field, p, c.readOnly)
		}
	}
	var actions []string
	for _, a := range notes.Actions {
		actions = append(actions, a.Name)
	}
	if strings.Join(actions, ",") != "add,remove,rename" || notes.Actions[0].Result.Ref != "#/$defs/Note" {
		t.Errorf("actions %v, add result %+v", actions, notes.Actions[0].Result)
	}
	if len(view.Tasks) != 1 || view.Tasks[0].Name != "review" || len(view.Tasks[0].Params.Required) != 0 {
		t.Errorf("tasks %+v", view.Tasks)
	}

	_, srv := startServer(t)
	c := dial(t, srv, "u1", "s1")
	waitNotes(t, c, func(n Notes) bool { return len(n.Notes) > 0 })
	waitView(t, c, func(viewState) bool { return true })
	for _, k := range sc.Keys {
		raw, _, ok := c.State(k.Key)
		if !ok {
			t.Fatalf("no state of %s", k.Key)
		}
		if err := compile(t, k.State).Validate(decode(t, raw)); err != nil {
			t.Errorf("the _SET of %s does not validate: %v\n%s", k.Key, err, raw)
		}
	}
}

func compile(t *testing.T, s *wssync.JSONSchema) *jsonschema.Schema {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem://state.json", decode(t, b)); err != nil {
		t.Fatal(err)
	}
	compiled, err := c.Compile("mem://state.json")
	if err != nil {
		t.Fatal(err)
	}
	return compiled
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
