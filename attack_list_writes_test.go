package wssync

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

type atk2Row struct {
	ID   int      `json:"id" validate:"min=0"`
	Name string   `json:"name" validate:"max=5"`
	Tags []string `json:"tags"`
	P    *int     `json:"p,omitempty"`
}

type atk2L struct {
	X List[atk2Row] `sync:"x,write" json:"x" validate:"max=4,dive"`
}
type atk2S struct {
	X []atk2Row `sync:"x,write" json:"x" validate:"max=4,dive"`
}

// atk2Out is what a write did: its error (code and path) and the published state.
type atk2Out struct {
	Err   string
	State string
}

func atk2Errs(err error) string {
	if err == nil {
		return "ok"
	}
	var e *Error
	if p, ok := err.(atk2Panic); ok {
		return p.Error()
	}
	if errors.As(err, &e) {
		return fmt.Sprintf("%s @%q", e.Code, e.Path)
	}
	return "other: " + err.Error()
}

// atk2Apply registers d, applies the write (a patch, or a _SET when set), and returns the outcome.
func atk2Apply[T any](t *testing.T, d *T, set bool, data string) (atk2Out, error) {
	t.Helper()
	sess := NewSession()
	defer sess.Close()
	s, err := Register(sess, "K", d)
	if err != nil {
		t.Fatal(err)
	}
	if set {
		err = s.o.clientSet(nil, json.RawMessage(data), 1<<20)
	} else {
		err = s.o.clientPatch(nil, json.RawMessage(data), 1<<20)
	}
	pub, _ := s.Published()
	return atk2Out{atk2Errs(err), string(pub)}, err
}

// ---------------------------------------------------------------------------
// 1. A List element with a member its type does not have: the slice field refuses it
// (the write decoder disallows unknown fields); the List decodes its elements with a
// json.Unmarshal of its own, which does not.

func TestAttackListWritesUnknownMemberInElement(t *testing.T) {
	rows := []atk2Row{{ID: 1, Name: "a"}}
	for _, w := range []struct {
		set  bool
		data string
	}{
		{false, `[{"op":"add","path":"/x/-","value":{"id":3,"name":"c","bogus":1}}]`},
		{false, `[{"op":"add","path":"/x/0/bogus","value":1}]`},
		{true, `{"x":[{"id":1,"name":"a","bogus":true}]}`},
	} {
		ol, _ := atk2Apply(t, &atk2L{X: NewList(rows...)}, w.set, w.data)
		os, _ := atk2Apply(t, &atk2S{X: slices.Clone(rows)}, w.set, w.data)
		if ol != os {
			t.Errorf("%s\n  List field:  %s  state %s\n  slice field: %s  state %s", w.data, ol.Err, ol.State, os.Err, os.State)
		}
	}
}

// ---------------------------------------------------------------------------
// 2. omitempty on a List: the schema lets the List's zero encoding ([]) through without
// the rules, but the validator never skips a List (listValues is never nil), so [] fails
// min=1. For the slice field the schema's exception is null, which the validator skips.

type atk2OmitL struct {
	O List[int] `sync:"o,write" json:"o" validate:"omitempty,min=1"`
}
type atk2OmitS struct {
	O []int `sync:"o,write" json:"o" validate:"omitempty,min=1"`
}

// atk2SchemaAccepts reports whether the field's schema (as Synced publishes it) accepts v:
// a tiny evaluator of the keywords applyValidate emits for arrays.
func atk2SchemaAccepts(s *JSONSchema, v any) bool {
	if s.AnyOf != nil {
		for _, a := range s.AnyOf {
			if atk2SchemaAccepts(a, v) {
				goto rest
			}
		}
		return false
	}
rest:
	if s.Const != nil && !reflect.DeepEqual(*s.Const, v) {
		return false
	}
	if len(s.Type) > 0 {
		kind := "null"
		switch v.(type) {
		case []any:
			kind = "array"
		case float64:
			kind = "integer"
		}
		if !s.Type.Has(kind) {
			return false
		}
	}
	if a, ok := v.([]any); ok {
		if s.MinItems != nil && len(a) < *s.MinItems || s.MaxItems != nil && len(a) > *s.MaxItems {
			return false
		}
	}
	return true
}

func atk2FieldSchema[T any](t *testing.T, d *T, name string) *JSONSchema {
	t.Helper()
	s, err := Register(NewSession(), "K", d)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.o.schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sc.State.Properties {
		if p.Name == name {
			return p.Schema
		}
	}
	t.Fatalf("no property %q", name)
	return nil
}

func TestAttackListWritesSchemaOmitemptyMatchesValidator(t *testing.T) {
	cases := []struct {
		name   string
		schema *JSONSchema
		apply  func(v string) atk2Out
	}{
		{"List", atk2FieldSchema(t, &atk2OmitL{}, "o"), func(v string) atk2Out {
			o, _ := atk2Apply(t, &atk2OmitL{O: NewList(1)}, false, `[{"op":"replace","path":"/o","value":`+v+`}]`)
			return o
		}},
		{"slice", atk2FieldSchema(t, &atk2OmitS{}, "o"), func(v string) atk2Out {
			o, _ := atk2Apply(t, &atk2OmitS{O: []int{1}}, false, `[{"op":"replace","path":"/o","value":`+v+`}]`)
			return o
		}},
	}
	for _, c := range cases {
		sb, _ := json.Marshal(c.schema)
		for _, v := range []string{`[]`, `null`, `[1]`} {
			var val any
			_ = json.Unmarshal([]byte(v), &val)
			schemaOK := atk2SchemaAccepts(c.schema, val)
			out := c.apply(v)
			if schemaOK != (out.Err == "ok") {
				t.Errorf("%s field, validate:\"omitempty,min=1\", schema %s: value %s: schema accepts=%v, write: %s (state %s)",
					c.name, sb, v, schemaOK, out.Err, out.State)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// 3. Fuzz-like: random client patches and _SETs against List fields and against the same
// data in slice fields (same wire names, same validate tags): same code and path, same
// state; the List object's published state and patches checked after each write; server
// changes of the Lists (and the same on the slices) in between.

type atk2FL struct {
	X List[atk2Row]   `sync:"x,write" json:"x" validate:"max=6,dive"`
	Y List[int]       `sync:"y,write" json:"y" validate:"max=5,dive,min=0"`
	N List[List[int]] `sync:"n,write" json:"n" validate:"max=4,dive,max=3"`
}
type atk2FS struct {
	X []atk2Row `sync:"x,write" json:"x" validate:"max=6,dive"`
	Y []int     `sync:"y,write" json:"y" validate:"max=5,dive,min=0"`
	N [][]int   `sync:"n,write" json:"n" validate:"max=4,dive,max=3"`
}

var (
	atk2Any = []string{`0`, `-1`, `5`, `1.5`, `1e30`, `"a"`, `"toolong"`, `true`, `null`, `[]`, `[1]`, `[1,2,3,4]`,
		`["a"]`, `[null]`, `{}`, `{"id":1}`, `{"id":"x"}`, `{"name":"abcdefg"}`, `{"tags":["a"]}`, `{"p":null}`,
		`{"p":3}`, `{"id":2,"name":"b","tags":[]}`, `{"ID":4}`, `[{"id":1}]`, `[[1],[2]]`, `[[1,2,3,4]]`}
	// values without null for a whole field or an element of n (null decodes as [] into a
	// List, nil into a slice: a known difference)
	atk2NoNull = []string{`0`, `"a"`, `[]`, `[1]`, `[1,2,3,4]`, `[-1]`, `[{"id":1}]`, `[{"id":1,"name":"a"},{"id":2}]`,
		`[[1],[2]]`, `[[1,2,3,4]]`, `[[]]`, `{}`, `[1,"x"]`, `[{"id":-1}]`, `[{"name":"toolong"}]`}
)

func atk2RandOp(r *rand.Rand, f string, n int) string {
	idx := func() string {
		switch k := r.IntN(12); {
		case k == 0:
			return "-"
		case k == 1:
			return "01"
		case k == 2:
			return "-1"
		case k == 3:
			return strconv.Itoa(n + r.IntN(2))
		default:
			if n == 0 {
				return "0"
			}
			return strconv.Itoa(r.IntN(n))
		}
	}
	path := func() (string, bool) { // the path, and whether null may go there
		switch k := r.IntN(10); {
		case k == 0:
			return "/" + f, false
		case f == "x" && k < 6:
			m := []string{"id", "name", "tags", "p", "tags/0", "tags/-", "Name"}[r.IntN(7)]
			return "/x/" + idx() + "/" + m, true
		case f == "n" && k < 6:
			return "/n/" + idx() + "/" + idx(), true
		default:
			return "/" + f + "/" + idx(), f != "n"
		}
	}
	val := func(null bool) string {
		if null {
			return atk2Any[r.IntN(len(atk2Any))]
		}
		return atk2NoNull[r.IntN(len(atk2NoNull))]
	}
	p, null := path()
	switch r.IntN(6) {
	case 0, 1:
		return fmt.Sprintf(`{"op":"add","path":%q,"value":%s}`, p, val(null))
	case 2:
		return fmt.Sprintf(`{"op":"replace","path":%q,"value":%s}`, p, val(null))
	case 3:
		return fmt.Sprintf(`{"op":"remove","path":%q}`, p)
	case 4:
		return fmt.Sprintf(`{"op":"test","path":%q,"value":%s}`, p, val(null))
	default: // move or copy inside the same field, between paths of the same kind
		q, _ := path()
		if !strings.HasPrefix(q, "/"+f+"/") || !strings.HasPrefix(p, "/"+f+"/") || strings.Count(p, "/") != strings.Count(q, "/") {
			return fmt.Sprintf(`{"op":"remove","path":%q}`, p)
		}
		op := "move"
		if r.IntN(2) == 0 {
			op = "copy"
		}
		return fmt.Sprintf(`{"op":%q,"from":%q,"path":%q}`, op, q, p)
	}
}

func atk2RowsL(vs []atk2Row) List[atk2Row] { return NewList(slices.Clone(vs)...) }

func TestAttackListWritesFuzzClientWrites(t *testing.T) {
	panicked := false
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 77))
		rows := []atk2Row{{ID: 1, Name: "a"}, {ID: 2, Name: "b", Tags: []string{"t"}}}
		dl := &atk2FL{X: atk2RowsL(rows), Y: NewList(1, 2), N: NewList(NewList(1), NewList(2, 3))}
		ds := &atk2FS{X: slices.Clone(rows), Y: []int{1, 2}, N: [][]int{{1}, {2, 3}}}
		hl, hs := newAtk(t, dl), newAtk(t, ds)
		for step := range 150 {
			hl.s.RLock()
			lens := map[string]int{"x": dl.X.Len(), "y": dl.Y.Len(), "n": dl.N.Len()}
			hl.s.RUnlock()
			var data string
			set := r.IntN(8) == 0
			if set {
				f := []string{"x", "y", "n"}[r.IntN(3)]
				data = fmt.Sprintf(`{%q:%s}`, f, atk2NoNull[r.IntN(len(atk2NoNull))])
			} else {
				ops := make([]string, 1+r.IntN(3))
				f := []string{"x", "y", "n"}[r.IntN(3)] // one field: of several failing fields, which is reported is the map's order
				for i := range ops {
					ops[i] = atk2RandOp(r, f, lens[f])
				}
				data = "[" + strings.Join(ops, ",") + "]"
			}
			var el, es error
			if set {
				el = atk2Call(func() error { return hl.s.o.clientSet(nil, json.RawMessage(data), 1<<20) })
				es = atk2Call(func() error { return hs.s.o.clientSet(nil, json.RawMessage(data), 1<<20) })
			} else {
				el = atk2Call(func() error { return hl.s.o.clientPatch(nil, json.RawMessage(data), 1<<20) })
				es = atk2Call(func() error { return hs.s.o.clientPatch(nil, json.RawMessage(data), 1<<20) })
			}
			if p, ok := el.(atk2Panic); ok && !panicked {
				panicked = true
				t.Logf("seed %d step %d: write %s panics (List field: %v; slice field: %v)", seed, step, data, p, es)
			}
			okL := hl.sync(fmt.Sprintf("seed %d step %d List after %s", seed, step, data))
			hs.sync(fmt.Sprintf("seed %d step %d slice after %s", seed, step, data))
			pl, _ := hl.s.Published()
			ps, _ := hs.s.Published()
			outcomes[atk2Errs(el)]++
			if atk2Errs(el) != atk2Errs(es) || !jsonEq(pl, ps) {
				t.Errorf("seed %d step %d: write %s\n  List:  %s -> %s\n  slice: %s -> %s", seed, step, data, atk2Errs(el), pl, atk2Errs(es), ps)
				break
			}
			if !okL {
				break
			}
			if r.IntN(4) == 0 { // a server change, the same on both
				k, v := r.IntN(4), r.IntN(9)
				hl.do(func() {
					switch {
					case k == 0:
						dl.Y.Append(v)
					case k == 1 && dl.Y.Len() > 0:
						dl.Y.Set(0, v)
					case k == 2 && dl.X.Len() > 0:
						dl.X.Update(dl.X.Len()-1, func(row *atk2Row) { row.Tags = append(row.Tags, "s") })
					case k == 3 && dl.N.Len() > 0:
						dl.N.Delete(0, 1)
					}
				})
				hs.do(func() {
					switch {
					case k == 0:
						ds.Y = append(ds.Y, v)
					case k == 1 && len(ds.Y) > 0:
						ds.Y[0] = v
					case k == 2 && len(ds.X) > 0:
						row := &ds.X[len(ds.X)-1]
						row.Tags = append(slices.Clip(row.Tags), "s")
					case k == 3 && len(ds.N) > 0:
						ds.N = slices.Delete(slices.Clone(ds.N), 0, 1)
					}
				})
				hl.sync(fmt.Sprintf("seed %d step %d List server change", seed, step))
				hs.sync(fmt.Sprintf("seed %d step %d slice server change", seed, step))
			}
		}
	}
}

type atk2Panic struct{ v any }

func (p atk2Panic) Error() string { return fmt.Sprintf("panic: %v", p.v) }

// atk2Call calls f, turning a panic into an atk2Panic error (as conn.callHandler turns
// one into CodeInternal).
func atk2Call(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = atk2Panic{p}
		}
	}()
	return f()
}

// ---------------------------------------------------------------------------
// 4. A List reached through an unexported embedded struct: encoding/json and the validator
// both go through such an embedding (its exported fields are promoted); the List's custom
// type func calls reflect.Value.Interface on a value read through an unexported field,
// which panics, and checkTags turns the panic into a refusal of every write.

type atk2inner struct {
	L List[int] `json:"l" validate:"max=2"`
}
type atk2innerS struct {
	L []int `json:"l" validate:"max=2"`
}
type atk2Outer struct {
	atk2inner
	Z int `json:"z"`
}
type atk2OuterS struct {
	atk2innerS
	Z int `json:"z"`
}
type atk2EmbL struct {
	In atk2Outer `sync:"in,write" json:"in"`
}
type atk2EmbS struct {
	In atk2OuterS `sync:"in,write" json:"in"`
}

func TestAttackListWritesUnexportedEmbeddedList(t *testing.T) {
	for _, op := range []string{
		`[{"op":"replace","path":"/in/z","value":1}]`,
		`[{"op":"add","path":"/in/l/-","value":2}]`,
		`[{"op":"add","path":"/in/l/-","value":2},{"op":"add","path":"/in/l/-","value":3}]`,
	} {
		ol, _ := atk2Apply(t, &atk2EmbL{In: atk2Outer{atk2inner: atk2inner{L: NewList(1)}}}, false, op)
		os, _ := atk2Apply(t, &atk2EmbS{In: atk2OuterS{atk2innerS: atk2innerS{L: []int{1}}}}, false, op)
		t.Logf("%s: List %s, slice %s", op, ol.Err, os.Err)
		if ol != os {
			_, e := atk2Apply(t, &atk2EmbL{In: atk2Outer{atk2inner: atk2inner{L: NewList(1)}}}, false, op)
			t.Errorf("%s\n  List field:  %s  state %s\n  slice field: %s  state %s\n  (List error: %v)", op, ol.Err, ol.State, os.Err, os.State, e)
		}
	}
}

// ---------------------------------------------------------------------------
// 5. Races: the first use of a root type's validator from several goroutines at once
// (objects of a type not validated before), and client writes, server Updates, Syncs and
// reads of one List field at once (go test -race).

type atk2RaceDoc struct {
	L List[atk2Row] `sync:"l,write" json:"l" validate:"max=50,dive"`
	N List[int]     `sync:"n,write" json:"n" validate:"dive,min=0"`
}

func TestAttackListWritesRaceWrites(t *testing.T) {
	var objs []*Synced[atk2RaceDoc]
	for range 4 {
		s, err := Register(NewSession(), "K", &atk2RaceDoc{L: NewList(atk2Row{ID: 1})})
		if err != nil {
			t.Fatal(err)
		}
		s.o.subscribe(&capture{})
		objs = append(objs, s)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g, s := range objs { // the validator's first use, from 4 goroutines at once
		wg.Go(func() {
			<-start
			for i := range 100 {
				_ = s.o.clientPatch(nil, json.RawMessage(fmt.Sprintf(`[{"op":"add","path":"/l/-","value":{"id":%d,"name":"g"}}]`, i-g)), 1<<20)
				_ = s.o.clientPatch(nil, json.RawMessage(`[{"op":"add","path":"/n/0","value":1}]`), 1<<20)
			}
		})
	}
	s := objs[0]
	wg.Go(func() {
		<-start
		for i := range 200 {
			_ = s.Update(func(d *atk2RaceDoc) {
				d.N.Append(i)
				if d.L.Len() > 40 {
					d.L.Delete(0, 30)
				}
				if d.L.Len() > 0 {
					d.L.Update(0, func(r *atk2Row) { r.Tags = append(r.Tags, "u") })
				}
			})
		}
	})
	wg.Go(func() {
		<-start
		for range 200 {
			_ = s.Sync()
			_, _ = s.Published()
			s.RLock()
			_, _ = json.Marshal(s.o.val.Interface())
			s.RUnlock()
		}
	})
	close(start)
	wg.Wait()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	pub, _ := s.Published()
	s.RLock()
	want, _ := json.Marshal(s.o.val.Interface())
	s.RUnlock()
	if !jsonEq(pub, want) {
		t.Errorf("published %s\nwant %s", pub, want)
	}
}

// ---------------------------------------------------------------------------
// 6. The schema of each List field against the slice field of the same data and tags,
// with null taken out of the slice's (a List is never null).

type atk2SchL struct {
	X  List[atk2Row]         `sync:"x,write" json:"x" validate:"max=6,dive"`
	Y  List[int]             `sync:"y,write" json:"y" validate:"min=1,max=5,dive,min=0,max=9"`
	N  List[List[int]]       `sync:"n,write" json:"n" validate:"max=4,dive,max=3,dive,gt=0"`
	M  map[string]List[int]  `sync:"m,write" json:"m" validate:"dive,len=2"`
	R  List[string]          `sync:"r,write" json:"r" validate:"required,dive,oneof=a b"`
	E  List[string]          `sync:"e,write" json:"e" validate:"dive,email"`
	A  List[[2]int]          `sync:"a,write" json:"a" validate:"lt=3"`
	B  List[byte]            `sync:"b,write" json:"b" validate:"max=3,dive,max=200"`
	P  *List[int]            `sync:"p,write" json:"p" validate:"required,max=2"`
	In struct{ L List[int] } `sync:"in,write" json:"in"`
}
type atk2SchS struct {
	X  []atk2Row         `sync:"x,write" json:"x" validate:"max=6,dive"`
	Y  []int             `sync:"y,write" json:"y" validate:"min=1,max=5,dive,min=0,max=9"`
	N  [][]int           `sync:"n,write" json:"n" validate:"max=4,dive,max=3,dive,gt=0"`
	M  map[string][]int  `sync:"m,write" json:"m" validate:"dive,len=2"`
	R  []string          `sync:"r,write" json:"r" validate:"required,dive,oneof=a b"`
	E  []string          `sync:"e,write" json:"e" validate:"dive,email"`
	A  [][2]int          `sync:"a,write" json:"a" validate:"lt=3"`
	B  []uint16          `sync:"b,write" json:"b" validate:"max=3,dive,max=200"`
	P  *[]int            `sync:"p,write" json:"p" validate:"required,max=2"`
	In struct{ L []int } `sync:"in,write" json:"in"`
}

func atk2DropNull(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if ty, ok := x["type"].([]any); ok {
			var kept []any
			for _, e := range ty {
				if e != "null" {
					kept = append(kept, e)
				}
			}
			if len(kept) == 1 {
				x["type"] = kept[0]
			} else {
				x["type"] = kept
			}
		}
		if ao, ok := x["anyOf"].([]any); ok && len(ao) == 2 {
			if m, ok := ao[1].(map[string]any); ok && m["type"] == "null" {
				delete(x, "anyOf")
				for k, v := range ao[0].(map[string]any) {
					x[k] = v
				}
			}
		}
		for k, e := range x {
			x[k] = atk2DropNull(e)
		}
		delete(x, "x-go-type")
	case []any:
		for i := range x {
			x[i] = atk2DropNull(x[i])
		}
	}
	return v
}

func TestAttackListWritesSchemaAgainstSlice(t *testing.T) {
	for _, name := range []string{"x", "y", "n", "m", "r", "e", "a", "b", "p", "in"} {
		l, _ := json.Marshal(atk2FieldSchema(t, &atk2SchL{}, name))
		s, _ := json.Marshal(atk2FieldSchema(t, &atk2SchS{}, name))
		var lv, sv any
		_ = json.Unmarshal(l, &lv)
		_ = json.Unmarshal(s, &sv)
		lv, sv = atk2DropNull(lv), atk2DropNull(sv)
		if name == "r" || name == "p" { // required: an empty List is nil to the validator
			if m, ok := lv.(map[string]any); !ok || m["minItems"] != float64(1) {
				t.Errorf("field %s: a required List without minItems 1: %s", name, l)
			} else {
				delete(m, "minItems")
			}
		}
		if !reflect.DeepEqual(lv, sv) {
			t.Errorf("field %s:\n  List:  %s\n  slice: %s", name, l, s)
		}
	}
}

// ---------------------------------------------------------------------------
// 7. More validator rules on a List than max and dive: unique, len, ne, isdefault,
// cross-field rules naming a List or named by one, dive into map keys of a map of Lists.

type atk2RulesL struct {
	U  List[int]            `sync:"u,write" json:"u" validate:"unique"`
	Q  List[int]            `sync:"q,write" json:"q" validate:"len=2"`
	NE List[int]            `sync:"ne,write" json:"ne" validate:"omitempty,ne=1"`
	C  int                  `sync:"c,write" json:"c" validate:"required_with=U"`
	G  List[int]            `sync:"g,write" json:"g" validate:"gtfield=Q"`
	E  List[int]            `sync:"e,write" json:"e" validate:"excluded_with=C"`
	K  map[string]List[int] `sync:"k,write" json:"k" validate:"dive,keys,min=2,endkeys,max=1"`
	US List[atk2Row]        `sync:"us,write" json:"us" validate:"unique=ID"`
}
type atk2RulesS struct {
	U  []int            `sync:"u,write" json:"u" validate:"unique"`
	Q  []int            `sync:"q,write" json:"q" validate:"len=2"`
	NE []int            `sync:"ne,write" json:"ne" validate:"omitempty,ne=1"`
	C  int              `sync:"c,write" json:"c" validate:"required_with=U"`
	G  []int            `sync:"g,write" json:"g" validate:"gtfield=Q"`
	E  []int            `sync:"e,write" json:"e" validate:"excluded_with=C"`
	K  map[string][]int `sync:"k,write" json:"k" validate:"dive,keys,min=2,endkeys,max=1"`
	US []atk2Row        `sync:"us,write" json:"us" validate:"unique=ID"`
}

func TestAttackListWritesMoreRules(t *testing.T) {
	newL := func() *atk2RulesL {
		return &atk2RulesL{U: NewList(1, 2), Q: NewList(1, 2), NE: NewList(2), C: 1, G: NewList(1, 2, 3), K: map[string]List[int]{"kk": NewList(1)}, US: NewList(atk2Row{ID: 1})}
	}
	newS := func() *atk2RulesS {
		return &atk2RulesS{U: []int{1, 2}, Q: []int{1, 2}, NE: []int{2}, C: 1, G: []int{1, 2, 3}, E: []int{}, K: map[string][]int{"kk": {1}}, US: []atk2Row{{ID: 1}}}
	}
	for _, op := range []string{
		`[{"op":"add","path":"/u/-","value":1}]`,
		`[{"op":"add","path":"/u/-","value":3}]`,
		`[{"op":"add","path":"/q/-","value":3}]`,
		`[{"op":"replace","path":"/ne","value":[1]}]`,
		`[{"op":"replace","path":"/ne","value":[]}]`,
		`[{"op":"replace","path":"/c","value":0}]`,
		`[{"op":"remove","path":"/g/0"}]`,
		`[{"op":"add","path":"/g/0","value":0}]`,
		`[{"op":"add","path":"/e/0","value":0}]`,
		`[{"op":"replace","path":"/c","value":0},{"op":"add","path":"/e/0","value":0}]`,
		`[{"op":"add","path":"/k/k","value":[1]}]`,
		`[{"op":"add","path":"/k/kk/-","value":1}]`,
		`[{"op":"add","path":"/us/-","value":{"id":1}}]`,
		`[{"op":"add","path":"/us/-","value":{"id":2}}]`,
	} {
		ol, el := atk2Apply(t, newL(), false, op)
		os, es := atk2Apply(t, newS(), false, op)
		if ol.Err != os.Err || !jsonEq([]byte(ol.State), []byte(os.State)) {
			t.Errorf("%s\n  List field:  %s  state %s (%v)\n  slice field: %s  state %s (%v)", op, ol.Err, ol.State, el, os.Err, os.State, es)
		}
	}
	// An empty List is absent to required_with (nil to the validator), as a nil slice is.
	op := `[{"op":"replace","path":"/u","value":[]},{"op":"replace","path":"/c","value":0}]`
	if ol, err := atk2Apply(t, newL(), false, op); ol.Err != "ok" {
		t.Errorf("%s on the List struct: %s (%v), want it accepted", op, ol.Err, err)
	}
}

// ---------------------------------------------------------------------------
// 8. null written to a `validate:"required"` List: refused, as for the slice field (which
// refuses it by its rule: a nil slice fails required); the List refuses null itself, as
// its schema (type array) says.

type atk2ReqL struct {
	R List[int] `sync:"r,write" json:"r" validate:"required"`
}
type atk2ReqS struct {
	R []int `sync:"r,write" json:"r" validate:"required"`
}

func TestAttackListWritesRequiredNull(t *testing.T) {
	ol, _ := atk2Apply(t, &atk2ReqL{R: NewList(1, 2)}, false, `[{"op":"replace","path":"/r","value":null}]`)
	os, _ := atk2Apply(t, &atk2ReqS{R: []int{1, 2}}, false, `[{"op":"replace","path":"/r","value":null}]`)
	sl, _ := json.Marshal(atk2FieldSchema(t, &atk2ReqL{}, "r"))
	ss, _ := json.Marshal(atk2FieldSchema(t, &atk2ReqS{}, "r"))
	t.Logf("null into required List: %s -> %s; into required slice: %s -> %s; schemas %s / %s", ol.Err, ol.State, os.Err, os.State, sl, ss)
	schemaNull := atk2SchemaAccepts(atk2FieldSchema(t, &atk2ReqL{}, "r"), nil)
	if schemaNull != (ol.Err == "ok") || ol.Err == "ok" || os.Err == "ok" {
		t.Errorf("validate:\"required\": null written to the List: %s (state %s), to the slice: %s; the List's schema %s accepts null: %v",
			ol.Err, ol.State, os.Err, sl, schemaNull)
	}
	ol, _ = atk2Apply(t, &atk2ReqL{R: NewList(1, 2)}, true, `{"r":null}`)
	os, _ = atk2Apply(t, &atk2ReqS{R: []int{1, 2}}, true, `{"r":null}`)
	if ol.Err == "ok" || os.Err == "ok" {
		t.Errorf("_SET {\"r\":null}: List %s (state %s), slice %s; want both refused", ol.Err, ol.State, os.Err)
	}
}

// The same for params: decodeStrict (params.go) refuses an unknown member of a []Row
// param, not of a List[Row] one.
func TestAttackListWritesUnknownMemberInParam(t *testing.T) {
	raw := json.RawMessage(`[{"id":1,"bogus":2}]`)
	var l List[atk2Row]
	var s []atk2Row
	el := decodeStrict(raw, reflect.ValueOf(&l).Elem(), "/p")
	es := decodeStrict(raw, reflect.ValueOf(&s).Elem(), "/p")
	if (el == nil) != (es == nil) {
		t.Errorf("decodeStrict of %s: into List[atk2Row] %v, into []atk2Row %v", raw, el, es)
	}
}

// ---------------------------------------------------------------------------
// 9. Pointer elements: null elements, dive into them, error paths through the pointer.

type atk2PL struct {
	X List[*atk2Row] `sync:"x,write" json:"x" validate:"dive"`
	Y List[*atk2Row] `sync:"y,write" json:"y" validate:"dive,required"`
}
type atk2PS struct {
	X []*atk2Row `sync:"x,write" json:"x" validate:"dive"`
	Y []*atk2Row `sync:"y,write" json:"y" validate:"dive,required"`
}

func TestAttackListWritesPointerElements(t *testing.T) {
	for _, op := range []string{
		`[{"op":"add","path":"/x/-","value":null}]`,
		`[{"op":"add","path":"/y/-","value":null}]`,
		`[{"op":"add","path":"/x/-","value":{"name":"toolong"}}]`,
		`[{"op":"add","path":"/y/0","value":{"id":-5}}]`,
		`[{"op":"replace","path":"/x/0/name","value":"abcdefgh"}]`,
		`[{"op":"replace","path":"/y","value":[{"id":1},null]}]`,
		`[{"op":"copy","from":"/x/0","path":"/y/-"}]`,
	} {
		ol, el := atk2Apply(t, &atk2PL{X: NewList(&atk2Row{ID: 1}), Y: NewList(&atk2Row{ID: 2})}, false, op)
		os, es := atk2Apply(t, &atk2PS{X: []*atk2Row{{ID: 1}}, Y: []*atk2Row{{ID: 2}}}, false, op)
		if ol.Err != os.Err || !jsonEq([]byte(ol.State), []byte(os.State)) {
			t.Errorf("%s\n  List field:  %s  state %s (%v)\n  slice field: %s  state %s (%v)", op, ol.Err, ol.State, el, os.Err, os.State, es)
		}
	}
}

// ---------------------------------------------------------------------------
// 10. encodeAll against MarshalJSON: elements with a pointer-receiver MarshalJSON that
// returns spaced, HTML-bearing JSON, a TextMarshaler, a byte-kind type with MarshalJSON;
// whole encodes (copies put back, Reset) mixed with replayed changes.

type atk2PM struct{ V int }

func (p *atk2PM) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(` { "v" : %d , "h": "<&>" } `, p.V)), nil
}

type atk2TM struct{ S string }

func (m atk2TM) MarshalText() ([]byte, error) { return []byte("t:" + m.S), nil }

type atk2BM uint8

func (b *atk2BM) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf(`"b%d"`, *b)), nil }

type atk2EncDoc struct {
	P List[atk2PM] `sync:"p" json:"p"`
	T List[atk2TM] `sync:"t" json:"t"`
	B List[atk2BM] `sync:"b" json:"b"`
}

func TestAttackListWritesEncodeAll(t *testing.T) {
	d := &atk2EncDoc{P: NewList(atk2PM{1}), T: NewList(atk2TM{"a"}), B: NewList[atk2BM](1, 2)}
	h := newAtk(t, d)
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 200 {
		h.do(func() {
			switch r.IntN(6) {
			case 0:
				d.P.Append(atk2PM{step})
				d.T.Insert(0, atk2TM{fmt.Sprint(step)})
				d.B.Append(atk2BM(step))
			case 1:
				if d.P.Len() > 0 {
					d.P.Set(0, atk2PM{-step})
					d.B.Update(0, func(b *atk2BM) { *b++ })
				}
			case 2:
				cp := d.P
				d.P.Append(atk2PM{99})
				d.P = cp
			case 3:
				d.T.Reset(atk2TM{"r"}, atk2TM{"<"})
				d.B.Reset(d.B.Values()...)
			case 4:
				if n := d.T.Len(); n > 1 {
					d.T.Delete(0, n/2)
					d.P.Delete(0, d.P.Len()/2)
				}
			case 5:
				var back List[atk2BM]
				_ = json.Unmarshal([]byte(`[3,4,5]`), &back)
				d.B = back
			}
		})
		if !h.sync(fmt.Sprintf("step %d", step)) {
			return
		}
	}
}

// ---------------------------------------------------------------------------
// 11. Found by the fuzz: a test op whose value is an array compared with an array holding
// null panics inside evanphx/json-patch (lazyNode.equal on a nil node), for a List and a
// slice field alike; conn.callHandler turns it into CodeInternal on a real connection.

func TestAttackListWritesTestOpNullPanics(t *testing.T) {
	const op = `[{"op":"add","path":"/y/0","value":[null]},{"op":"test","path":"/y/0","value":[[1]]}]`
	dl := &atk2FL{Y: NewList(1)}
	ds := &atk2FS{Y: []int{1}}
	var el, es error
	func() {
		s, _ := Register(NewSession(), "K", dl)
		el = atk2Call(func() error { return s.o.clientPatch(nil, json.RawMessage(op), 1<<20) })
	}()
	func() {
		s, _ := Register(NewSession(), "K", ds)
		es = atk2Call(func() error { return s.o.clientPatch(nil, json.RawMessage(op), 1<<20) })
	}()
	for name, err := range map[string]error{"List": el, "slice": es} {
		if _, ok := err.(atk2Panic); ok {
			t.Errorf("%s field: clientPatch %s: %v", name, op, err)
		}
	}
}
