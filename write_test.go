package wssync_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

type Item struct {
	Name string `json:"name"`
	Qty  int    `json:"qty"`
}

// Form has writable fields of several types, read-only ones, and a validation hook.
type Form struct {
	Title   string            `sync:"title,write"`
	Count   int               `sync:"count,write"`
	Items   []Item            `sync:"items,write"`
	Tags    map[string]string `sync:"tags,write"`
	Ptr     *int              `sync:"ptr,write"`
	Owner   string            `sync:"owner"` // read-only
	Secrets []string          `sync:"-"`
}

func (f *Form) ValidateWrite(next *Form) error {
	if len(next.Title) > 20 {
		return &wssync.FieldError{Path: "/title", Message: "title is longer than 20 characters"}
	}
	if next.Count < 0 {
		return errors.New("count must not be negative")
	}
	return nil
}

func newForm(t *testing.T) (*wssync.Synced[Form], *Form, *wssynctest.Client) {
	t.Helper()
	sess := wssync.NewSession()
	f := &Form{Title: "t", Count: 1, Items: []Item{{"a", 1}, {"b", 2}}, Tags: map[string]string{"k": "v"}, Owner: "ann", Secrets: []string{"s"}}
	s, err := wssync.Register(sess, "FORM", f)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:FORM")
	return s, f, c
}

// snapshot copies the form through JSON, including the unsynced field, for byte comparison.
func snapshot(t *testing.T, s *wssync.Synced[Form], f *Form) string {
	s.RLock()
	defer s.RUnlock()
	b, _ := json.Marshal(struct {
		F       *Form
		Secrets []string
	}{f, f.Secrets})
	return string(b)
}

func TestClientPatchAccepted(t *testing.T) {
	t.Parallel()
	s, f, c := newForm(t)
	err := c.Patch("FORM",
		wssynctest.Replace("/title", "new"),
		wssynctest.Op{Op: "add", Path: "/items/1", Value: Item{"c", 3}},
		wssynctest.Op{Op: "remove", Path: "/items/0"},
		wssynctest.Op{Op: "add", Path: "/tags/x~1y", Value: "z"},
		wssynctest.Op{Op: "test", Path: "/owner", Value: "ann"},
		wssynctest.Replace("/ptr", 7),
	)
	if err != nil {
		t.Fatal(err)
	}
	p := waitType(t, c, "_PATCH:FORM")
	if *p.V != 1 {
		t.Fatalf("v = %d", *p.V)
	}
	s.RLock()
	got := *f
	s.RUnlock()
	want := Form{Title: "new", Count: 1, Items: []Item{{"c", 3}, {"b", 2}}, Tags: map[string]string{"k": "v", "x/y": "z"}, Owner: "ann", Secrets: []string{"s"}}
	seven := 7
	want.Ptr = &seven
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("struct after write:\n got %+v\nwant %+v", got, want)
	}
	var cs Form
	_ = c.Decode("FORM", &cs)
	cs.Secrets = want.Secrets
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("client state %+v", cs)
	}
}

func TestClientWriteRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event string
		data  string
		code  wssync.Code
		path  string
	}{
		{"read-only field", "_PATCH:FORM", `[{"op":"replace","path":"/owner","value":"eve"}]`, wssync.CodeReadOnly, "/owner"},
		{"read-only via move source", "_PATCH:FORM", `[{"op":"move","from":"/owner","path":"/title"}]`, wssync.CodeReadOnly, "/owner"},
		{"unknown field", "_PATCH:FORM", `[{"op":"add","path":"/nope","value":1}]`, wssync.CodeUnknownPath, "/nope"},
		{"excluded field", "_PATCH:FORM", `[{"op":"replace","path":"/Secrets","value":[]}]`, wssync.CodeUnknownPath, "/Secrets"},
		{"unknown nested member", "_PATCH:FORM", `[{"op":"add","path":"/items/0/color","value":"red"}]`, wssync.CodeUnknownPath, "/items"},
		{"wrong type", "_PATCH:FORM", `[{"op":"replace","path":"/count","value":"three"}]`, wssync.CodeTypeMismatch, "/count"},
		{"wrong nested type", "_PATCH:FORM", `[{"op":"replace","path":"/items/0/qty","value":"x"}]`, wssync.CodeTypeMismatch, "/items/qty"},
		{"null into string", "_PATCH:FORM", `[{"op":"replace","path":"/title","value":null}]`, wssync.CodeTypeMismatch, "/title"},
		{"float into int", "_PATCH:FORM", `[{"op":"replace","path":"/count","value":1.5}]`, wssync.CodeTypeMismatch, "/count"},
		{"missing path", "_PATCH:FORM", `[{"op":"remove","path":"/items/9"}]`, wssync.CodePathNotFound, "/items/9"},
		{"missing member", "_PATCH:FORM", `[{"op":"replace","path":"/tags/none","value":"x"}]`, wssync.CodePathNotFound, "/tags/none"},
		{"test fails", "_PATCH:FORM", `[{"op":"replace","path":"/title","value":"x"},{"op":"test","path":"/count","value":2}]`, wssync.CodeTestFailed, "/count"},
		{"negative index", "_PATCH:FORM", `[{"op":"remove","path":"/items/-1"}]`, wssync.CodePathNotFound, "/items/-1"},
		{"bad pointer", "_PATCH:FORM", `[{"op":"replace","path":"title","value":"x"}]`, wssync.CodeBadPatch, "title"},
		{"bad escape", "_PATCH:FORM", `[{"op":"replace","path":"/ti~2tle","value":"x"}]`, wssync.CodeBadPatch, "/ti~2tle"},
		{"unknown op", "_PATCH:FORM", `[{"op":"frob","path":"/title"}]`, wssync.CodeBadPatch, "/title"},
		{"missing value", "_PATCH:FORM", `[{"op":"replace","path":"/title"}]`, wssync.CodeBadPatch, "/title"},
		{"whole-state op", "_PATCH:FORM", `[{"op":"replace","path":"","value":{}}]`, wssync.CodeBadPatch, ""},
		{"remove a field", "_PATCH:FORM", `[{"op":"remove","path":"/title"}]`, wssync.CodeBadPatch, "/title"},
		{"patch not an array", "_PATCH:FORM", `{"op":"replace"}`, wssync.CodeBadData, ""},
		{"ops not objects", "_PATCH:FORM", `[1,2]`, wssync.CodeBadPatch, ""},
		{"atomic: good op then bad op", "_PATCH:FORM", `[{"op":"replace","path":"/title","value":"half"},{"op":"replace","path":"/count","value":"x"}]`, wssync.CodeTypeMismatch, "/count"},
		{"validator with path", "_PATCH:FORM", `[{"op":"replace","path":"/title","value":"this title is far too long"}]`, wssync.CodeRejected, "/title"},
		{"validator plain error", "_PATCH:FORM", `[{"op":"replace","path":"/count","value":-1}]`, wssync.CodeRejected, ""},
		{"set changes read-only", "_SET:FORM", `{"title":"x","owner":"eve"}`, wssync.CodeReadOnly, "/owner"},
		{"set unknown member", "_SET:FORM", `{"title":"x","bogus":1}`, wssync.CodeUnknownPath, "/bogus"},
		{"set not an object", "_SET:FORM", `[1]`, wssync.CodeBadData, ""},
		{"set wrong type", "_SET:FORM", `{"title":5}`, wssync.CodeTypeMismatch, "/title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, f, c := newForm(t)
			before := snapshot(t, s, f)
			if err := c.SendRaw([]byte(`{"type":"` + tt.event + `","data":` + tt.data + `}`)); err != nil {
				t.Fatal(err)
			}
			e := errorOf(t, waitType(t, c, "_ERROR"))
			if e.Code != tt.code || e.Path != tt.path || e.Event != tt.event || e.Message == "" {
				t.Fatalf("error = %+v, want code %s path %q event %s", e, tt.code, tt.path, tt.event)
			}
			set := waitType(t, c, "_SET:FORM") // the authoritative state follows the error
			if *set.V != 0 {
				t.Fatalf("a refused write changed the version to %d", *set.V)
			}
			if after := snapshot(t, s, f); after != before {
				t.Fatalf("a refused write changed the struct:\nbefore %s\nafter  %s", before, after)
			}
			if s.Version() != 0 {
				t.Fatal("version moved")
			}
		})
	}
}

func TestClientSetWritesWritableFields(t *testing.T) {
	t.Parallel()
	s, f, c := newForm(t)
	// A ws-sync-react client sends its whole state back, read-only fields included.
	if err := c.Set("FORM", map[string]any{"title": "whole", "count": 2, "items": []Item{}, "tags": nil, "ptr": nil, "owner": "ann"}); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "_PATCH:FORM")
	s.RLock()
	defer s.RUnlock()
	if f.Title != "whole" || f.Count != 2 || len(f.Items) != 0 || f.Items == nil || f.Tags != nil || f.Owner != "ann" {
		t.Fatalf("struct after _SET: %+v", f)
	}
}

func TestRefusedWriteDoesNotAffectOtherSessions(t *testing.T) {
	t.Parallel()
	_, _, bad := newForm(t)
	s2, _, good := newForm(t)
	_ = bad.SendRaw([]byte(`{"type":"_PATCH:FORM","data":[{"op":"replace","path":"/owner","value":"x"}]}`))
	waitType(t, bad, "_ERROR")
	_ = s2.Update(func(f *Form) { f.Owner = "bob" })
	waitType(t, good, "_PATCH:FORM")
	for _, fr := range good.Frames() {
		if strings.HasPrefix(fr.Type, "_ERROR") {
			t.Fatal("the other session got an error")
		}
	}
}

// A write refused before the connect-time _SET went out still gets _ERROR, then _SET.
func TestRefusalThenSetOrder(t *testing.T) {
	t.Parallel()
	for range 20 {
		_, _, c := newForm(t)
		_ = c.Get("FORM") // queue a resync, then refuse a write right behind it
		_ = c.SendRaw([]byte(`{"type":"_PATCH:FORM","data":[{"op":"replace","path":"/owner","value":"x"}]}`))
		waitType(t, c, "_ERROR")
		waitType(t, c, "_SET:FORM") // must come after the error
	}
}
