package wssync

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

type paramsInner struct {
	N int `json:"n"`
}

type paramsCall struct {
	Name    string       `json:"name"`
	Count   int          // untagged: named by the naming function
	Note    *string      `json:"note"`            // a pointer: optional
	Tags    []string     `json:"tags"`            // a slice: optional
	Limit   int          `json:"limit,omitempty"` // omitempty: optional
	Inner   paramsInner  `json:"inner"`
	Options *paramsInner `json:"options"`
	Data    []byte       `json:"data"`
}

func (p *paramsCall) Validate() error {
	if p.Name == "invalid" {
		return &FieldError{Path: "/name", Message: "no such name"}
	}
	if p.Name == "plain" {
		return errors.New("plain refusal")
	}
	return nil
}

func newCallDecoder(t *testing.T) *paramDecoder {
	t.Helper()
	d, err := newParamDecoder(reflect.TypeFor[paramsCall](), lowerCamel)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParamDecoderDecodes(t *testing.T) {
	d := newCallDecoder(t)
	v, err := d.decodeObject(json.RawMessage(`{"name":"a","count":2,"inner":{"n":3},"tags":["x"],"name":"b","options":{"n":4},"inner":{}}`), []byte{9})
	if err != nil {
		t.Fatal(err)
	}
	got := v.Interface().(*paramsCall)
	want := paramsCall{Name: "b", Count: 2, Tags: []string{"x"}, Options: &paramsInner{N: 4}, Data: []byte{9}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("decoded %+v, want %+v (the last duplicate replaces the first, not merged into it; binary fills data)", *got, want)
	}
}

func TestParamDecoderRefuses(t *testing.T) {
	d := newCallDecoder(t)
	for _, tc := range []struct {
		name, data string
		path       string
	}{
		{"NotAnObject", `[1]`, ""},
		{"Unknown", `{"name":"a","count":1,"inner":{},"extra":1}`, "/extra"},
		{"MissingRequired", `{"name":"a","inner":{}}`, "/count"},
		{"MissingStruct", `{"name":"a","count":1}`, "/inner"},
		{"WrongType", `{"name":1,"count":1,"inner":{}}`, "/name"},
		{"NullRequired", `{"name":null,"count":1,"inner":{}}`, "/name"},
		{"UnknownNested", `{"name":"a","count":1,"inner":{"n":1,"m":2}}`, "/inner"},
		{"FieldError", `{"name":"invalid","count":1,"inner":{}}`, "/name"},
		{"PlainError", `{"name":"plain","count":1,"inner":{}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.decodeObject(json.RawMessage(tc.data), nil)
			if err == nil || err.Code != CodeBadParams {
				t.Fatalf("decodeObject(%s) = %v, want %s", tc.data, err, CodeBadParams)
			}
			if len(err.Path) < len(tc.path) || err.Path[:len(tc.path)] != tc.path {
				t.Errorf("path %q, want %q", err.Path, tc.path)
			}
		})
	}
}

func TestParamDecoderBinaryNeedsDataField(t *testing.T) {
	d, err := newParamDecoder(reflect.TypeFor[paramsInner](), lowerCamel)
	if err != nil {
		t.Fatal(err)
	}
	if _, e := d.decodeObject(json.RawMessage(`{"n":1}`), []byte{1}); e == nil || e.Path != "/data" {
		t.Errorf("binary to params without data: %v, want a refusal at /data", e)
	}
}

func TestParamDecoderNonStruct(t *testing.T) {
	d, err := newParamDecoder(reflect.TypeFor[[]int](), lowerCamel)
	if err != nil {
		t.Fatal(err)
	}
	v, e := d.decodeValue(json.RawMessage(`[1,2]`))
	if e != nil || !reflect.DeepEqual(*v.Interface().(*[]int), []int{1, 2}) {
		t.Errorf("decodeValue([1,2]) = %v, %v", v, e)
	}
	if _, e := d.decodeValue(json.RawMessage(`{"a":1}`)); e == nil || e.Code != CodeBadParams {
		t.Errorf("decodeValue of an object into []int: %v, want %s", e, CodeBadParams)
	}
	if _, err := newParamDecoder(reflect.TypeFor[func()](), lowerCamel); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("params of type func(): %v, want ErrUnsupportedType", err)
	}
}

func TestParamDecoderRefusesTypes(t *testing.T) {
	type named struct {
		Type string `json:"type"`
	}
	type dup struct {
		A int `json:"b"`
		B int // named "b" by lowerCamel too
	}
	if _, err := newParamDecoder(reflect.TypeFor[named](), lowerCamel); !errors.Is(err, ErrDuplicateName) {
		t.Errorf("a param named \"type\": %v, want ErrDuplicateName", err)
	}
	if _, err := newParamDecoder(reflect.TypeFor[dup](), lowerCamel); err == nil {
		t.Error("two params with one wire name were accepted")
	}
}

func TestParseCall(t *testing.T) {
	name, members, err := parseCall(json.RawMessage(`{"type":"add","a":1,"b":"x"}`), "_ACTION:K")
	if err != nil || name != "add" || len(members) != 2 || members[0].key != "a" || string(members[1].value) != `"x"` {
		t.Errorf("parseCall = %q, %+v, %v", name, members, err)
	}
	for _, data := range []string{`{"a":1}`, `{"type":""}`, `{"type":3}`, `[]`, `"add"`} {
		if _, _, err := parseCall(json.RawMessage(data), "_ACTION:K"); err == nil || err.Code != CodeBadData {
			t.Errorf("parseCall(%s) = %v, want %s", data, err, CodeBadData)
		}
	}
}
