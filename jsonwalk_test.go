package wssync

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

type walkTree struct {
	Name string      `json:"name"`
	Kids []*walkTree `json:"kids"`
	Next *walkTree   `json:"next"`
}

type walkBase struct {
	E int `json:"e"`
}

type walkDoc struct {
	walkBase
	Arr   [3]int              `json:"arr"`
	When  time.Time           `json:"when"`
	Raw   json.RawMessage     `json:"raw"`
	Bytes []byte              `json:"bytes"`
	Deep  map[string][]*int   `json:"deep"`
	Tree  walkTree            `json:"tree"`
	Plain struct{ Go int }    // untagged: encoding/json matches "Plain" and "Go" case-insensitively
	Any   map[string]any      `json:"any"`
	Skip  int                 `json:"-"`
	Opt   string              `json:"opt,omitempty"`
	Named map[string]walkBase `json:"named"`
}

// The walk finds exactly the nulls encoding/json would silently turn into zero values.
func TestWalkNulls(t *testing.T) {
	tests := []struct{ json, at string }{
		{`{"e":null}`, "/e"},
		{`{"arr":[1,null]}`, "/arr/1"},
		{`{"when":null}`, ""},  // time.Time decodes null itself
		{`{"raw":null}`, ""},   // a slice
		{`{"bytes":null}`, ""}, // a slice
		{`{"deep":{"a":[null,1]}}`, ""},
		{`{"deep":{"a/b":null}}`, ""},
		{`{"tree":{"kids":[{"next":{"name":null}}]}}`, "/tree/kids/0/next/name"},
		{`{"tree":{"kids":[null]}}`, ""},
		{`{"PLAIN":{"go":null}}`, "/PLAIN/go"},
		{`{"any":{"x":null}}`, ""},
		{`{"named":{"a~b":{"e":null}}}`, "/named/a~0b/e"},
		{`{"Skip":null}`, ""}, // not a member: the decoder refuses it as unknown
		{`{"opt":null}`, "/opt"},
		{`{"arr":"not an array"}`, ""}, // a type error is the decoder's to report
	}
	s := shapeOf(reflect.TypeFor[walkDoc]())
	for _, tt := range tests {
		res, err := walkShape([]byte(tt.json), s)
		if err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		if res.hasNull != (tt.at != "") || res.nullAt != tt.at {
			t.Errorf("%s: null at %q (%v), want %q", tt.json, res.nullAt, res.hasNull, tt.at)
		}
	}
}

// filled counts the zero values the decoder adds for left-out members and array elements.
func TestWalkFilled(t *testing.T) {
	s := shapeOf(reflect.TypeFor[walkDoc]())
	full, _ := json.Marshal(walkDoc{})
	res, err := walkShape([]byte(`{}`), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.filled < int64(len(full))-10 || res.filled > int64(len(full))+10 {
		t.Fatalf("filled %d for {}, the zero value encodes to %d bytes", res.filled, len(full))
	}
	rows := shapeOf(reflect.TypeFor[[]walkBase]())
	res, _ = walkShape([]byte("["+strings.TrimSuffix(strings.Repeat("{},", 100), ",")+"]"), rows)
	if res.filled != 100*int64(len(`"e":0,`)) {
		t.Fatalf("filled %d for 100 empty rows", res.filled)
	}
}

type vInner struct {
	Level int `json:"level" validate:"min=1"`
}

type vEmbedded struct {
	Inner vInner `json:"in"`
}

type vDoc struct {
	vEmbedded
	Title string            `sync:"title,write"`
	Rows  []vInner          `sync:"rows,write" validate:"dive"`
	Map   map[string]vInner `sync:"map,write" validate:"dive"`
	P     *vInner           `sync:"p,write"`
}

// The validator's Go namespaces become JSON Pointers of wire names.
func TestValidationPointer(t *testing.T) {
	root := reflect.TypeFor[vDoc]()
	wire := func(index []int) string {
		switch {
		case reflect.DeepEqual(index, []int{0, 0}):
			return "inner" // the registration's name of the promoted field
		case reflect.DeepEqual(index, []int{2}):
			return "rows"
		case reflect.DeepEqual(index, []int{3}):
			return "map"
		case reflect.DeepEqual(index, []int{4}):
			return "p"
		}
		return "?"
	}
	for ns, want := range map[string]string{
		"vDoc.vEmbedded.Inner.Level": "/inner/level",
		"vDoc.Rows[3].Level":         "/rows/3/level",
		"vDoc.Map[a.b]].Level":       "/map/a.b]/level",
		"vDoc.Map[x/y].Level":        "/map/x~1y/level",
		"vDoc.P.Level":               "/p/level",
		"vDoc.Nope.Level":            "",
		"vDoc":                       "",
	} {
		if got := validationPointer(root, ns, wire); got != want {
			t.Errorf("%s: %q, want %q", ns, got, want)
		}
	}
	d := &vDoc{Rows: []vInner{{1}, {0}}, Map: map[string]vInner{"k": {1}}, P: &vInner{1}}
	d.Inner.Level = 1
	path, msg, ok := checkTags(reflect.ValueOf(d), [][]int{{2}}, wire)
	if ok || path != "/rows/1/level" || !strings.Contains(msg, `"min=1"`) {
		t.Fatalf("checkTags: %q %q %v", path, msg, ok)
	}
	d.Rows[1].Level = 5
	d.Inner.Level = 0 // invalid, but not among the fields checked
	if _, _, ok := checkTags(reflect.ValueOf(d), [][]int{{2}, {4}}, wire); !ok {
		t.Fatal("checkTags looked outside the fields it was given")
	}
}
