package wssync

import (
	"reflect"
	"strings"
	"testing"
)

type valItem struct {
	Name string `json:"label" validate:"required"`
}

type valDoc struct {
	Title string             `sync:"title" validate:"max=5"`
	Items []valItem          `sync:"items" validate:"dive"`
	ByID  map[string]valItem `sync:"byId" validate:"dive"`
	Level string             `sync:"level" validate:"omitempty,oneof=low high"`
	Free  any                `sync:"free" validate:"omitempty,min=1"`
}

type valPlain struct{ A, B int }

type valNested struct{ Inner []valItem }

// valWire names valDoc's top-level fields by their sync tags, as the registration does.
func valWire(index []int) string {
	f := reflect.TypeFor[valDoc]().Field(index[0])
	name, _, _ := strings.Cut(f.Tag.Get("sync"), ",")
	return name
}

func TestHasValidateTags(t *testing.T) {
	for typ, want := range map[reflect.Type]bool{
		reflect.TypeFor[valDoc]():    true,
		reflect.TypeFor[valPlain]():  false,
		reflect.TypeFor[valNested](): true, // a tag inside a slice's element counts
		reflect.TypeFor[*valItem]():  true,
	} {
		if got := hasValidateTags(typ); got != want {
			t.Errorf("hasValidateTags(%v) = %v, want %v", typ, got, want)
		}
		if got := hasValidateTags(typ); got != want { // the cached answer
			t.Errorf("hasValidateTags(%v), cached, = %v, want %v", typ, got, want)
		}
	}
}

func TestCheckTagsPointsAtTheMember(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  valDoc
		path string
		rule string
	}{
		{"Valid", valDoc{Title: "ok", Items: []valItem{{"a"}}, Level: "low"}, "", ""},
		{"TopLevel", valDoc{Title: "too long"}, "/title", "max=5"},
		{"InSlice", valDoc{Items: []valItem{{"a"}, {""}}}, "/items/1/label", "required"},
		{"InMap", valDoc{ByID: map[string]valItem{"a/b": {}}}, "/byId/a~1b/label", "required"},
		{"OneOf", valDoc{Level: "mid"}, "/level", "oneof=low high"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, msg, ok := checkTags(reflect.ValueOf(&tc.doc), nil, valWire)
			if ok != (tc.rule == "") {
				t.Fatalf("checkTags ok = %v (%q at %q)", ok, msg, path)
			}
			if !ok && (path != tc.path || !strings.Contains(msg, tc.rule)) {
				t.Errorf("refusal %q at %q, want rule %q at %q", msg, path, tc.rule, tc.path)
			}
		})
	}
}

// TestCheckTagsOnly: with only, the other fields' rules are not checked.
func TestCheckTagsOnly(t *testing.T) {
	doc := valDoc{Title: "too long", Level: "mid"}
	if path, _, ok := checkTags(reflect.ValueOf(&doc), [][]int{{3}}, valWire); ok || path != "/level" {
		t.Errorf("only Level: ok %v at %q, want a refusal at /level", ok, path)
	}
	doc.Level = "low"
	if path, msg, ok := checkTags(reflect.ValueOf(&doc), [][]int{{3}}, valWire); !ok {
		t.Errorf("only Level, valid: refused %q at %q; Title's rule must not apply", msg, path)
	}
}

// TestCheckTagsRecoversFromPanic: a rule the validator cannot apply to the value it finds
// (min on a bool in an interface field) fails the check instead of panicking.
func TestCheckTagsRecoversFromPanic(t *testing.T) {
	doc := valDoc{Free: true}
	path, msg, ok := checkTags(reflect.ValueOf(&doc), [][]int{{4}}, valWire)
	if ok || path != "/free" || msg == "" {
		t.Errorf("checkTags = %q, %q, %v; want a refusal at /free", path, msg, ok)
	}
}

func TestCutKey(t *testing.T) {
	for in, want := range map[string][2]string{
		"0].Name": {"0", ".Name"},
		"a]b].X":  {"a]b", ".X"},
		"k]":      {"k", ""},
		"k][1]":   {"k", "[1]"},
	} {
		key, rest, ok := cutKey(in)
		if !ok || key != want[0] || rest != want[1] {
			t.Errorf("cutKey(%q) = %q, %q, %v; want %q, %q", in, key, rest, ok, want[0], want[1])
		}
	}
	if _, _, ok := cutKey("no end"); ok {
		t.Error("cutKey without ']' reported a key")
	}
}

func TestKeepNamespace(t *testing.T) {
	prefixes := []string{"Doc.Items"}
	for ns, want := range map[string]bool{
		"Doc.Items":         true,
		"Doc.Items[0].Name": true,
		"Doc.Items.X":       true,
		"Doc":               true, // on the way to the prefix
		"Doc.ItemsX":        false,
		"Doc.Title":         false,
	} {
		if got := keepNamespace(ns, prefixes); got != want {
			t.Errorf("keepNamespace(%q) = %v, want %v", ns, got, want)
		}
	}
}
