package wssync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

var knownCodes = map[Code]bool{
	CodeMalformedJSON: true, CodeBadEnvelope: true, CodeUnknownEvent: true, CodeUnknownKey: true,
	CodeBadData: true, CodeBadPatch: true, CodePathNotFound: true, CodeUnknownPath: true,
	CodeReadOnly: true, CodeTypeMismatch: true, CodeTestFailed: true, CodeRejected: true,
	CodeTooLarge: true,
}

func FuzzDecodeInbound(f *testing.F) {
	for _, s := range []string{
		`{"type":"_GET:NOTES","data":{}}`,
		`{"type":"_PATCH:NOTES","data":[{"op":"replace","path":"/title","value":"x"}],"id":"r1"}`,
		`{"type":5}`, `[]`, `{`, `{"type":"a","id":""}`, `{"type":"\u0000"}`, `null`,
		`{"type":"_PATCH:NOTES","data":[],"id":"w","base":41}`, `{"type":"_SET:NOTES","data":{},"base":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := decodeInbound(data)
		if err != nil {
			if in != nil || !knownCodes[err.Code] || err.Message == "" {
				t.Fatalf("bad refusal: %+v", err)
			}
			return
		}
		if in.event == "" || len(in.id) > maxRequestID {
			t.Fatalf("accepted a bad frame: %+v", in)
		}
		if in.data != nil && !json.Valid(in.data) {
			t.Fatalf("data is not JSON: %q", in.data)
		}
		if in.base != nil && !json.Valid(in.base) {
			t.Fatalf("base is not JSON: %q", in.base)
		}
	})
}

// FuzzParseBase: a write's base is accepted exactly when it is a version written in
// canonical digits below 2^53, and then it round-trips; anything else is a bad envelope.
func FuzzParseBase(f *testing.F) {
	for _, s := range []string{`0`, `41`, `9007199254740991`, `9007199254740992`, `-1`, `1.0`, `1e3`, `01`, `"1"`, `null`, ``, ` 1`, `18446744073709551616`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		base, ok, err := parseBase(raw)
		canonical := false
		if n, perr := strconv.ParseUint(string(raw), 10, 64); perr == nil && n <= maxBase && strconv.FormatUint(n, 10) == string(raw) {
			canonical = true
		}
		switch {
		case err != nil:
			if ok || err.Code != CodeBadEnvelope || err.Message == "" || canonical {
				t.Fatalf("%q: refused %+v (canonical %v)", raw, err, canonical)
			}
		case !ok:
			if raw != nil && string(raw) != "null" {
				t.Fatalf("%q: taken for no base", raw)
			}
		default:
			if !canonical || strconv.FormatUint(base, 10) != string(raw) {
				t.Fatalf("%q: accepted as %d", raw, base)
			}
		}
	})
}

type fuzzDoc struct {
	Title string            `sync:",write" json:"title"`
	Count int               `sync:",write" json:"count"`
	Items []fuzzItem        `sync:",write" json:"items"`
	Tags  map[string]string `sync:",write" json:"tags"`
	Any   any               `sync:",write" json:"any"`
	Ptr   *float64          `sync:",write" json:"ptr"`
	Rows  List[fuzzItem]    `sync:",write" json:"rows" validate:"max=8"`
	Owner string            `json:"owner"`
}

type fuzzItem struct {
	Name string `json:"name"`
	Done bool   `json:"done"`
}

func (d *fuzzDoc) ValidateWrite(next *fuzzDoc) error {
	if next.Title == "veto" {
		return errors.New("vetoed")
	}
	return nil
}

func newFuzzObject(t *testing.T) (*Synced[fuzzDoc], *fuzzDoc) {
	doc := &fuzzDoc{Title: "t", Count: 2, Items: []fuzzItem{{"a", false}, {"b", true}}, Tags: map[string]string{"k": "v"}, Owner: "o",
		Rows: NewList(fuzzItem{"r", false}, fuzzItem{"s", true})}
	s, err := Register(NewSession(), "D", doc)
	if err != nil {
		t.Fatal(err)
	}
	return s, doc
}

// deepCopy copies d through JSON; its List is compared apart (sameList), since two Lists
// of the same elements hold different histories.
func deepCopy(t *testing.T, d *fuzzDoc) fuzzDoc {
	b, _ := json.Marshal(d)
	var c fuzzDoc
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c.Rows = List[fuzzItem]{items: c.Rows.items}
	return c
}

// sameList reports whether a and b hold equal elements.
func sameList[T any](a, b *List[T]) bool { return reflect.DeepEqual(a.Values(), b.Values()) }

// checkWrite asserts the contract of a client write: refused → nothing changed and a
// documented code; accepted → the published state is the struct, read-only fields intact.
func checkWrite(t *testing.T, s *Synced[fuzzDoc], doc *fuzzDoc, write func() error) {
	before := deepCopy(t, doc)
	beforeState, beforeV := s.Published()
	err := write()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !knownCodes[e.Code] || e.Message == "" {
			t.Fatalf("refusal without a documented code: %v", err)
		}
		if after := deepCopy(t, doc); !reflect.DeepEqual(before, after) || !sameList(&before.Rows, &doc.Rows) {
			t.Fatalf("refused write (%v) changed the struct:\n%+v\n%+v", err, before, after)
		}
		if st, v := s.Published(); v != beforeV || string(st) != string(beforeState) {
			t.Fatal("refused write changed the published state")
		}
		return
	}
	if doc.Owner != "o" {
		t.Fatalf("accepted write changed a read-only field: %q", doc.Owner)
	}
	if doc.Title == "veto" {
		t.Fatal("the validation hook was bypassed")
	}
	st, _ := s.Published()
	want, _ := json.Marshal(doc)
	var a, b any
	_ = json.Unmarshal(st, &a)
	_ = json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("published state %s is not the struct %s", st, want)
	}
}

func FuzzClientPatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"/title","value":"x"}]`,
		`[{"op":"add","path":"/items/-","value":{"name":"c","done":false}}]`,
		`[{"op":"move","from":"/items/0","path":"/items/1"}]`,
		`[{"op":"copy","from":"/owner","path":"/title"}]`,
		`[{"op":"test","path":"/count","value":2},{"op":"replace","path":"/count","value":3}]`,
		`[{"op":"add","path":"/tags/a~1b","value":"c"},{"op":"remove","path":"/tags/k"}]`,
		`[{"op":"replace","path":"/any","value":{"deep":[1,2,{"x":null}]}}]`,
		`[{"op":"replace","path":"/ptr","value":1e308}]`,
		`[{"op":"replace","path":"/title","value":"veto"}]`,
		`[{"op":"replace","path":"/owner","value":"x"}]`,
		`[{"op":"replace","path":"/count","value":1.5}]`,
		`[{"op":"remove","path":"/items/5"}]`,
		`[{"op":"add","path":"/items/0/extra","value":1}]`,
		`[{"op":"replace","path":"/rows/1/name","value":"x"},{"op":"add","path":"/rows/-","value":{"name":"n","done":true}}]`,
		`[{"op":"add","path":"/rows/0/bogus","value":1}]`,
		`[{"op":"replace","path":"/rows","value":null}]`,
		`[{"op":"test","path":"/rows","value":[null]}]`,
		`[{"op":"remove","path":"/rows/0"},{"op":"move","from":"/rows/0","path":"/rows/-"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, doc := newFuzzObject(t)
		checkWrite(t, s, doc, func() error { return s.o.clientPatch(nil, data, DefaultReadLimit) })
	})
}

func FuzzClientSet(f *testing.F) {
	for _, s := range []string{
		`{"title":"x","count":3,"items":[],"tags":null,"any":1,"ptr":null,"owner":"o"}`,
		`{"title":"x","owner":"y"}`, `{"count":"3"}`, `{"nope":1}`, `[]`, `{"items":[{"name":1}]}`,
		`{"title":"veto"}`,
		`{"rows":[{"name":"a","done":true}]}`, `{"rows":null}`, `{"rows":"AAEC"}`, `{"rows":[1,2,3,4,5,6,7,8,9]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // the envelope decoder refuses invalid JSON before a handler sees it
		}
		s, doc := newFuzzObject(t)
		checkWrite(t, s, doc, func() error { return s.o.clientSet(nil, data, DefaultReadLimit) })
	})
}

type fuzzParams struct {
	N     int               `json:"n"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Inner *fuzzItem         `json:"inner"`
	Opt   float64           `json:"opt,omitempty"`
	Map   map[string]int    `json:"map"`
	Raw   json.RawMessage   `json:"raw"`
	Any   any               `json:"any"`
	Data  []byte            `json:"data"`
	Deep  []map[string]bool `json:"deep"`
	Rows  List[fuzzItem]    `json:"rows"`
}

func (p fuzzParams) Validate() error {
	if p.N < 0 {
		return &FieldError{Path: "/n", Message: "n must not be negative"}
	}
	return nil
}

// FuzzActionParams: the decoder of action and task frames either refuses with bad_data or
// bad_params, or yields params that satisfy their Validate method and carry every
// required member.
func FuzzActionParams(f *testing.F) {
	for _, s := range []string{
		`{"type":"a","n":1,"name":"x"}`,
		`{"type":"a","n":-1,"name":"x"}`,
		`{"type":"a","n":1,"name":"x","inner":{"name":"i","done":true},"tags":["a"],"map":{"k":1},"raw":[1],"any":{"z":null},"deep":[{"a":true}]}`,
		`{"type":"a","n":"1","name":"x"}`,
		`{"type":"a","name":"x"}`,
		`{"type":"a","n":1,"name":"x","inner":{"bogus":1}}`,
		`{"type":"a","n":1,"name":"x","data":"AAEC"}`,
		`{"type":"a","n":1,"name":"x","rows":[{"name":"r"}]}`, `{"type":"a","n":1,"rows":[{"bogus":1}]}`,
		`{"type":5}`, `[]`, `{"n":1}`,
	} {
		f.Add([]byte(s))
	}
	dec, err := newParamDecoder(reflect.TypeFor[fuzzParams](), lowerCamel)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // the envelope decoder refuses invalid JSON first
		}
		name, members, perr := parseCall(data, "_ACTION:K")
		if perr != nil {
			if perr.Code != CodeBadData {
				t.Fatalf("parseCall refused with %s", perr.Code)
			}
			return
		}
		if name == "" {
			t.Fatal("empty name accepted")
		}
		v, perr := dec.decodeMembers(members, nil)
		if perr != nil {
			if perr.Code != CodeBadParams || perr.Message == "" {
				t.Fatalf("refusal %+v", perr)
			}
			return
		}
		p := v.Interface().(*fuzzParams)
		if p.N < 0 {
			t.Fatal("Validate was bypassed")
		}
		hasN := false
		for _, m := range members {
			hasN = hasN || m.key == "n"
		}
		if !hasN {
			t.Fatal("a missing required param was accepted")
		}
	})
}

type fuzzNested struct {
	A    int               `json:"a"`
	B    string            `json:"b" validate:"max=64"`
	Kids []fuzzItem        `json:"kids"`
	M    map[string]int    `json:"m"`
	P    *fuzzItem         `json:"p"`
	Arr  [2]int            `json:"arr"`
	Any  any               `json:"any"`
	Deep map[string][]bool `json:"deep"`
}

type fuzzWriteDoc struct {
	Nested fuzzNested            `sync:"nested,write"`
	Ptr    *fuzzNested           `sync:"ptr,write"`
	List   []string              `sync:"list,write"`
	Rows   []fuzzNested          `sync:"rows,write"`
	Map    map[string]fuzzNested `sync:"map,write"`
	Owner  string                `sync:"owner"`
	Frozen fuzzNested            `sync:"frozen"`
}

// FuzzClientWrite: any `_PATCH` (kind even) or `_SET` (kind odd) against a state with
// nested structs, maps, slices and pointers, writable and read-only. A refused write
// leaves the struct and the published state byte-identical and carries a documented code;
// an accepted one leaves the state within WithMaxStateSize (unless it did not grow it) and
// grown by at most the frame limit.
func FuzzClientWrite(f *testing.F) {
	for _, s := range []struct {
		kind byte
		data string
	}{
		{0, `[{"op":"replace","path":"/nested/a","value":null}]`},
		{0, `[{"op":"copy","from":"/list/0","path":"/list/-"},{"op":"copy","from":"/list/0","path":"/list/-"}]`},
		{0, `[{"op":"add","path":"/rows/-","value":{}}]`},
		{0, `[{"op":"add","path":"/map/k","value":{"a":1,"kids":[{"name":"x","done":true}]}}]`},
		{0, `[{"op":"replace","path":"/ptr","value":{"p":{"name":null}}}]`},
		{0, `[{"op":"move","from":"/nested","path":"/ptr"}]`},
		{0, `[{"op":"replace","path":"/frozen/a","value":2}]`},
		{1, `{"nested":{"a":1,"arr":[1,null]}}`},
		{1, `{"rows":[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]}`},
		{1, `{"list":["<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<"]}`},
		{1, `{"nested":{"b":"` + strings.Repeat("b", 65) + `"}}`},
		{1, `{"map":{"k":{"deep":{"x":[true,null]}}}}`},
	} {
		f.Add(s.kind, []byte(s.data))
	}
	const maxState, frameLimit = 2 << 10, 512
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		if !json.Valid(data) {
			return // the envelope decoder refuses invalid JSON first
		}
		doc := &fuzzWriteDoc{Nested: fuzzNested{A: 1, Kids: []fuzzItem{{"k", true}}}, List: []string{"0123456789"}, Rows: []fuzzNested{}, Map: map[string]fuzzNested{}, Owner: "o", Frozen: fuzzNested{B: "f"}}
		s, err := Register(NewSession(), "W", doc, WithMaxStateSize(maxState))
		if err != nil {
			t.Fatal(err)
		}
		snap := func() string { b, _ := json.Marshal(doc); return string(b) }
		before := snap()
		st0, v0 := s.Published()
		if kind%2 == 0 {
			err = s.o.clientPatch(nil, data, frameLimit)
		} else {
			err = s.o.clientSet(nil, data, frameLimit)
		}
		st1, v1 := s.Published()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !knownCodes[e.Code] || e.Message == "" {
				t.Fatalf("refusal without a documented code: %v", err)
			}
			if snap() != before || v1 != v0 || string(st1) != string(st0) {
				t.Fatalf("refused write (%v) changed the state", err)
			}
			return
		}
		if doc.Owner != "o" || doc.Frozen.B != "f" {
			t.Fatal("an accepted write changed a read-only field")
		}
		if len(st1) > len(st0) {
			if len(st1) > maxState {
				t.Fatalf("accepted write left the state at %d bytes, over %d", len(st1), maxState)
			}
			if len(st1)-len(st0) > frameLimit {
				t.Fatalf("one write grew the state by %d bytes, over the frame limit %d", len(st1)-len(st0), frameLimit)
			}
		}
	})
}

// FuzzViewFilter filters hostile JSON with hostile patterns: no panic, and whenever the
// filter succeeds its output is valid JSON equal to the reference filter's and filters to
// itself again. The write check of a view takes hostile pointers and values without panic.
func FuzzViewFilter(f *testing.F) {
	for _, s := range [][2]string{
		{`{"members":[{"name":"a","email":"x"}],"audit":["y"]}`, "/members/*/email"},
		{`[1,[2,{"a":3}],{"a":{"a":4}}]`, "/*/a"},
		{`{"a":1,"a":{"b":2}}`, "/a/b"},
		{`{"~":{"/":[0,1]}}`, "/~0/~1/1"},
		{` { "a" : [ null , true ] } `, "/a/*"},
		{`{"a":"\ud800"}`, "/b"},
		{`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`, "/0/0/0/0/0/0"},
		{`{"a":1}garbage`, "/a"},
	} {
		f.Add([]byte(s[0]), s[1])
	}
	f.Fuzz(func(t *testing.T, doc []byte, pattern string) {
		tokens, err := parsePointer(pattern)
		if err != nil || len(tokens) == 0 {
			return
		}
		tails := [][]string{tokens}
		out, err := filterJSON(nil, doc, tails)
		v := &objView{hide: tails}
		_ = v.refuses("add", pattern, doc)
		_ = v.refuses("add", pattern+"/-", doc)
		_ = v.refuses("remove", string(doc), nil)
		_ = v.hides(string(doc))
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("filter of %q by %q: invalid JSON %q", doc, pattern, out)
		}
		if !json.Valid(doc) {
			t.Fatalf("filter accepted invalid JSON %q", doc)
		}
		// Numbers as written: a valid number past float64's range (a long run of digits)
		// is JSON all the same.
		var in, got any
		if err := decodeNumbers(doc, &in); err != nil {
			t.Fatalf("decode %q: %v", doc, err)
		}
		_ = decodeNumbers(out, &got)
		if want := refFilter(in, tails); !reflect.DeepEqual(got, want) {
			t.Fatalf("filter of %q by %q: %s, want %v", doc, pattern, out, want)
		}
		again, err := filterJSON(nil, out, tails)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("filter of its own output %q: %q, %v", out, again, err)
		}
	})
}

// decodeNumbers unmarshals b into v with numbers kept as json.Number.
func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

type fuzzMember struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type fuzzTeam struct {
	Title   string            `sync:"title,write"`
	Members []fuzzMember      `sync:"members,write"`
	Audit   []string          `sync:"audit,write"`
	Notes   map[string]string `sync:"notes,write"`
}

// FuzzViewWrite sends hostile _PATCH and _SET data as a guest, whose view hides every
// member's email and the audit: whatever is accepted, the hidden values stay as they
// were (a guest may append members, whose email is then empty), and no refusal carries a
// hidden value.
func FuzzViewWrite(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"/members/0/name","value":"x"}]`,
		`[{"op":"add","path":"/members/-","value":{"name":"y"}}]`,
		`[{"op":"add","path":"/members/-","value":{"name":"y","email":"z"}}]`,
		`[{"op":"copy","from":"/members/0","path":"/notes/a"}]`,
		`[{"op":"move","from":"/audit/0","path":"/title"}]`,
		`[{"op":"replace","path":"/members","value":[{"name":"ann"}]}]`,
		`{"title":"t","members":[{"name":"ann"}]}`,
		`{"audit":["HIDDEN-a"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		team := &fuzzTeam{Title: "t", Members: []fuzzMember{{Name: "ann", Email: "HIDDEN-ann"}, {Name: "bob", Email: "HIDDEN-bob"}}, Audit: []string{"HIDDEN-a"}, Notes: map[string]string{}}
		s, err := NewShared("TEAM", team, WithViews(func(id Identity) string { return "guest" },
			View{Name: "guest", Hide: []string{"/members/*/email", "/audit"}}))
		if err != nil {
			t.Fatal(err)
		}
		sess := NewSession()
		defer sess.Close()
		if err := s.Join(sess); err != nil {
			t.Fatal(err)
		}
		write := s.o.clientPatch
		if len(data) > 0 && data[0] == '{' {
			write = s.o.clientSet
		}
		err = write(sess, data, 1<<16)
		if err != nil && strings.Contains(err.Error(), "HIDDEN") {
			t.Fatalf("refusal %v carries a hidden value", err)
		}
		if len(team.Members) < 2 || team.Members[0].Email != "HIDDEN-ann" || team.Members[1].Email != "HIDDEN-bob" {
			t.Fatalf("%s changed hidden members: %+v", data, team.Members)
		}
		for _, m := range team.Members[2:] {
			if m.Email != "" {
				t.Fatalf("%s set a hidden email: %+v", data, team.Members)
			}
		}
		if len(team.Audit) != 1 || team.Audit[0] != "HIDDEN-a" {
			t.Fatalf("%s changed the audit: %v", data, team.Audit)
		}
		for k, v := range team.Notes {
			if strings.Contains(k+v, "HIDDEN") {
				t.Fatalf("%s copied a hidden value into the notes: %v", data, team.Notes)
			}
		}
		if strings.Contains(team.Title, "HIDDEN") {
			t.Fatalf("%s moved a hidden value into the title", data)
		}
	})
}

// FuzzDecodeAuth: the `_AUTH` decoder never panics, refuses with bad_data only, and
// accepts only a non-empty token within MaxTokenBytes that the data does carry.
func FuzzDecodeAuth(f *testing.F) {
	for _, s := range []string{
		`{"token":"a.b.c"}`, `{"token":""}`, `{"token":5}`, `"a.b.c"`, `{"token":"\u0000"}`,
		`{"token":"x","token":"y"}`, `{`, `null`, `[]`, `{"token":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		token, err := decodeAuth(data)
		if err != nil {
			if token != "" || err.Code != CodeBadData || err.Message == "" {
				t.Fatalf("bad refusal: %q %+v", token, err)
			}
			return
		}
		if token == "" || len(token) > MaxTokenBytes {
			t.Fatalf("accepted token of %d bytes", len(token))
		}
		var v map[string]any
		if json.Unmarshal(data, &v) != nil || v["token"] != token {
			t.Fatalf("decoded %q from %q, encoding/json reads %q", token, data, v["token"])
		}
	})
}

type fuzzRuleNote struct {
	ID     string `json:"id"`
	Author string `json:"author"`
	Text   string `json:"text"`
}

type fuzzRuleDoc struct {
	Title string                  `sync:"title,write=admin"`
	Notes []fuzzRuleNote          `sync:"notes,write,owner=author"`
	Ptrs  []*fuzzRuleNote         `sync:"ptrs,write,owner=author"`
	ByID  map[string]fuzzRuleNote `sync:"byId,write,owner=author"`
	Free  string                  `sync:"free,write"`
}

// FuzzWriteRules: any `_PATCH` (kind even) or `_SET` (kind odd) by bob, a guest, against
// elements of ann, of bob and of nobody: a refusal carries a documented code and leaves the
// struct byte-identical; whatever is accepted leaves every element bob does not own
// unchanged and in its order, and the admins' title as it was.
func FuzzWriteRules(f *testing.F) {
	for _, s := range []struct {
		kind byte
		data string
	}{
		{0, `[{"op":"replace","path":"/notes/0/text","value":"x"}]`},
		{0, `[{"op":"add","path":"/notes/0","value":{"id":"f","author":"ann","text":"forged"}}]`},
		{0, `[{"op":"move","from":"/notes/0","path":"/notes/-"}]`},
		{0, `[{"op":"copy","from":"/ptrs/0","path":"/ptrs/-"}]`},
		{0, `[{"op":"replace","path":"/ptrs/1","value":null}]`},
		{0, `[{"op":"add","path":"/byId/z","value":{"author":"bob"}},{"op":"remove","path":"/byId/b"}]`},
		{0, `[{"op":"replace","path":"/notes/1/author","value":""}]`},
		{1, `{"notes":[{"id":"b","author":"bob","text":"b"},{"id":"a","author":"ann","text":"a"}]}`},
		{1, `{"ptrs":[null,null]}`},
		{1, `{"byId":null,"title":"t"}`},
	} {
		f.Add(s.kind, []byte(s.data))
	}
	bob := newSession(&config{}, newMetrics(), Identity{User: "bob", Session: "b", Roles: []string{"guest"}})
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		if !json.Valid(data) {
			return
		}
		ann, mine, nobody := fuzzRuleNote{"a", "ann", "a"}, fuzzRuleNote{"b", "bob", "b"}, fuzzRuleNote{"n", "", "n"}
		doc := &fuzzRuleDoc{
			Title: "t",
			Notes: []fuzzRuleNote{ann, mine, nobody, ann},
			Ptrs:  []*fuzzRuleNote{&ann, &mine, nil},
			ByID:  map[string]fuzzRuleNote{"a": ann, "b": mine, "n": nobody},
		}
		s, err := NewShared("R", doc)
		if err != nil {
			t.Fatal(err)
		}
		snap := func() string { b, _ := json.Marshal(doc); return string(b) }
		others := func() string {
			var out []string
			for _, n := range doc.Notes {
				if n.Author != "bob" {
					out = append(out, n.ID+n.Author+n.Text)
				}
			}
			out = append(out, "|")
			for _, n := range doc.Ptrs {
				if n == nil {
					out = append(out, "nil")
				} else if n.Author != "bob" {
					out = append(out, n.ID+n.Author+n.Text)
				}
			}
			out = append(out, "|", fmt.Sprint(doc.ByID["a"], doc.ByID["n"], len(doc.ByID) > 0), doc.Title)
			for k, n := range doc.ByID {
				if n.Author != "bob" && k != "a" && k != "n" {
					out = append(out, "foreign entry "+k)
				}
			}
			return strings.Join(out, ",")
		}
		before, othersBefore := snap(), others()
		if kind%2 == 0 {
			err = s.o.clientPatchFrom(bob, data, 1<<10, nil)
		} else {
			err = s.o.clientSetFrom(bob, data, 1<<10, nil)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !knownCodes[e.Code] || e.Message == "" {
				t.Fatalf("refusal without a documented code: %v", err)
			}
			if snap() != before {
				t.Fatalf("refused write (%v) changed the state", err)
			}
			return
		}
		if got := others(); got != othersBefore {
			t.Fatalf("bob's accepted write changed what he does not own:\n%s\nwant\n%s", got, othersBefore)
		}
	})
}

// FuzzJSONScalars checks the encoders that stand in for encoding/json on a field's
// number, boolean or string (jsonutil.go, fieldmemo.go) against encoding/json itself: the
// same bytes for every value, and the same refusal of NaN and infinities.
func FuzzJSONScalars(f *testing.F) {
	f.Add("plain", 1.5, float32(0.1), int64(-3), uint64(7))
	f.Add("<a href=\"x\">&\u2028\u2029</a>\b\f\x00\x7f", 1e-7, float32(1e21), int64(-1<<63), uint64(1<<64-1))
	f.Add("bad \xff\xfe utf8 \xe2\x80 and é日𝄞", 1e21, float32(1e-7), int64(0), uint64(0))
	f.Add("", 5e-324, float32(3.4e38), int64(1), uint64(1))
	f.Fuzz(func(t *testing.T, s string, x float64, y float32, i int64, u uint64) {
		check := func(what string, v any, k reflect.Kind, p unsafe.Pointer) {
			t.Helper()
			want, werr := json.Marshal(v)
			got, ok := appendScalar([]byte("pre"), k, p)
			if !bytes.HasPrefix(got, []byte("pre")) {
				t.Fatalf("%s %v: the buffer's prefix was overwritten: %q", what, v, got)
			}
			if ok != (werr == nil) || ok && string(got[3:]) != string(want) {
				t.Fatalf("%s %#v: appendScalar %q (ok %v), encoding/json %q (%v)", what, v, got[3:], ok, want, werr)
			}
		}
		check("string", s, reflect.String, unsafe.Pointer(&s))
		check("float64", x, reflect.Float64, unsafe.Pointer(&x))
		check("float32", y, reflect.Float32, unsafe.Pointer(&y))
		check("int64", i, reflect.Int64, unsafe.Pointer(&i))
		n := int(i)
		check("int", n, reflect.Int, unsafe.Pointer(&n))
		i8, i16, i32 := int8(i), int16(i), int32(i)
		check("int8", i8, reflect.Int8, unsafe.Pointer(&i8))
		check("int16", i16, reflect.Int16, unsafe.Pointer(&i16))
		check("int32", i32, reflect.Int32, unsafe.Pointer(&i32))
		check("uint64", u, reflect.Uint64, unsafe.Pointer(&u))
		un, u8, u16, u32, up := uint(u), uint8(u), uint16(u), uint32(u), uintptr(u)
		check("uint", un, reflect.Uint, unsafe.Pointer(&un))
		check("uint8", u8, reflect.Uint8, unsafe.Pointer(&u8))
		check("uint16", u16, reflect.Uint16, unsafe.Pointer(&u16))
		check("uint32", u32, reflect.Uint32, unsafe.Pointer(&u32))
		check("uintptr", up, reflect.Uintptr, unsafe.Pointer(&up))
		b := i%2 == 0
		check("bool", b, reflect.Bool, unsafe.Pointer(&b))
		check("NaN", math.NaN(), reflect.Float64, unsafe.Pointer(&[]float64{math.NaN()}[0]))
		if got := appendJSONString(nil, s); string(got) != string(must(json.Marshal(s))) {
			t.Fatalf("appendJSONString(%q) = %s", s, got)
		}
		checkSlice := func(v any) {
			t.Helper()
			rv := reflect.New(reflect.TypeOf(v))
			rv.Elem().Set(reflect.ValueOf(v))
			m := newFieldMemo(reflect.StructOf([]reflect.StructField{{Name: "X", Type: rv.Elem().Type()}}), &fieldSpec{index: []int{0}, typ: rv.Elem().Type()})
			want, werr := json.Marshal(v)
			got, ok := m.appendSlice(nil, rv.UnsafePointer())
			if ok != (werr == nil) || ok && string(got) != string(want) {
				t.Fatalf("%#v: appendSlice %q (ok %v), encoding/json %q (%v)", v, got, ok, want, werr)
			}
		}
		checkSlice([]string{s, "", s})
		checkSlice([]float64{x, 1})
		checkSlice([]float32{y})
		checkSlice([]int64{i, -i})
		checkSlice([]uint16{uint16(u)})
		checkSlice([]bool{b, !b})
		checkSlice([]string(nil))
		checkSlice([]int{})
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
