package wssync

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
)

type listRow struct {
	ID    int            `json:"id"`
	Name  string         `json:"name"`
	Tags  []string       `json:"tags"`
	Attrs map[string]int `json:"attrs,omitempty"`
	Owner *nestedDetail  `json:"owner"`
}

type listDoc struct {
	Title string          `sync:"title" json:"title"`
	Rows  List[listRow]   `sync:"rows" json:"rows"`
	Nums  List[int]       `sync:"nums" json:"nums"`
	Plain []nestedItem    `sync:"plain" json:"plain"` // beside a List: the list cache's field
	Ptrs  List[*listItem] `sync:"ptrs" json:"ptrs"`
}

func randomListRow(r *rand.Rand) listRow {
	row := listRow{ID: r.IntN(1000), Name: randomText(r), Tags: randomTexts(r)}
	if r.IntN(3) == 0 {
		row.Attrs = map[string]int{"a": r.IntN(5)}
	}
	if r.IntN(2) == 0 {
		row.Owner = randomDetail(r)
	}
	return row
}

// mutateListDoc makes one random change to d: through the List methods mostly, and now and
// then by assigning a copy, a decoded List or a Reset, or many changes at once (past the
// List's log, past the ops a Sync sends one by one).
func mutateListDoc(r *rand.Rand, d *listDoc) {
	rows := &d.Rows
	n := rows.Len()
	switch k := r.IntN(100); {
	case k < 25 && n > 0:
		rows.Set(r.IntN(n), randomListRow(r))
	case k < 35 && n > 0:
		rows.Update(r.IntN(n), func(row *listRow) {
			switch r.IntN(3) {
			case 0:
				row.Tags = append(row.Tags, randomText(r))
			case 1:
				row.Attrs = map[string]int{"b": r.IntN(9)}
			default:
				// unchanged: recorded all the same
			}
		})
	case k < 50:
		vs := make([]listRow, 1+r.IntN(3))
		for i := range vs {
			vs[i] = randomListRow(r)
		}
		rows.Insert(r.IntN(n+1), vs...)
	case k < 58:
		rows.Append(randomListRow(r))
	case k < 72 && n > 0:
		i := r.IntN(n)
		rows.Delete(i, min(n, i+1+r.IntN(3)))
	case k < 75:
		for range listLogSize + r.IntN(10) { // more changes than the log holds
			rows.Append(randomListRow(r))
			rows.Delete(0, 1)
		}
	case k < 78:
		for range 40 { // more elements than one Sync sends op by op
			rows.Append(randomListRow(r))
		}
	case k < 81:
		vs := make([]listRow, r.IntN(40))
		for i := range vs {
			vs[i] = randomListRow(r)
		}
		rows.Reset(vs...)
	case k < 84:
		cp := *rows // a copy: changing it must not change rows
		if n > 0 {
			cp.Set(0, listRow{Name: "copy"})
		}
		cp.Append(randomListRow(r))
		if r.IntN(2) == 0 {
			*rows = cp // assigned back: a change of the whole list
		}
	case k < 85 && n > 1:
		cp := *rows // a copy, put back after the list changed in place: behind its history
		rows.Set(0, listRow{Name: "moved on"})
		rows.Delete(n-1, n)
		rows.Insert(0, listRow{Name: "front"})
		*rows = cp
	case k < 86:
		b, _ := json.Marshal(rows)
		var back List[listRow]
		if err := json.Unmarshal(b, &back); err != nil {
			panic(err)
		}
		if back.Len() > 0 {
			back.Set(back.Len()-1, randomListRow(r))
		}
		*rows = back
	case k < 90:
		if m := d.Nums.Len(); m > 0 && r.IntN(2) == 0 {
			d.Nums.Set(r.IntN(m), r.IntN(100))
		} else {
			d.Nums.Insert(r.IntN(m+1), r.IntN(100))
		}
	case k < 93:
		if m := d.Ptrs.Len(); m > 0 && r.IntN(3) == 0 {
			i := r.IntN(m)
			d.Ptrs.Delete(i, i+1+r.IntN(m-i))
		} else {
			it := randomListItem(r)
			d.Ptrs.Append(&it, nil)
		}
	case k < 96:
		d.Title = randomText(r)
		if len(d.Plain) > 0 {
			d.Plain[r.IntN(len(d.Plain))].ID++
		}
	default:
		if n > 0 { // the same value again: recorded, nothing to send
			rows.Set(n-1, rows.At(n-1))
		}
	}
}

// checkLogCaches checks each List cache's offsets against its encoding.
func checkLogCaches(t *testing.T, o *object) {
	t.Helper()
	for i, c := range o.logs {
		if c == nil || !c.valid {
			continue
		}
		n := len(c.off) - 1
		want := []int{len(c.full)}
		if n > 0 {
			want = splitArray(nil, c.full, n)
		}
		if !slices.Equal(want, c.off) {
			t.Fatalf("field %s: offsets %v, want %v (encoding %s)", o.fields[i].wire, c.off, want, c.full)
		}
	}
}

// runListDocSteps registers a listDoc, applies steps rounds of random changes and checks
// every published patch and state; it returns how many patches took a List's own ops.
func runListDocSteps(t *testing.T, r *rand.Rand, steps int) (logged int) {
	t.Helper()
	d := &listDoc{}
	for range r.IntN(60) {
		d.Rows.Append(randomListRow(r))
	}
	for range listCacheMin + r.IntN(10) {
		d.Plain = append(d.Plain, randomNested(r))
	}
	runSyncSteps(t, d, steps, func() {
		for range 1 + r.IntN(4) {
			mutateListDoc(r, d)
		}
	}, func(o *object) {
		checkLogCaches(t, o)
		for _, c := range o.logs {
			if c != nil && c.ops {
				logged++
			}
		}
	})
	return logged
}

// Over random changes through List's methods (set, update, insert, append, delete, reset),
// copies changed and assigned back, decoded Lists assigned, and more changes than the log
// holds, every published patch applied to the previous published state gives the new one,
// and the published state is json.Marshal of the struct.
func TestListPatchesApplyExactly(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 23))
	logged := 0
	for range 30 {
		logged += runListDocSteps(t, r, 60)
	}
	if logged < 800 {
		t.Fatalf("only %d patches came from a List's own ops", logged)
	}
}

// FuzzList runs the random changes from a fuzzed seed.
func FuzzList(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(5), uint64(77))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		runListDocSteps(t, rand.New(rand.NewPCG(a, b)), 6)
	})
}

// The ops a List's changes publish: one per change, at the index the change had, with the
// diff of a replaced element; a row added and deleted in one Sync is added as null first.
func TestListOps(t *testing.T) {
	t.Parallel()
	d := &listDoc{Rows: NewList(listRow{ID: 1, Tags: []string{}}, listRow{ID: 2, Tags: []string{}}, listRow{ID: 3, Tags: []string{}})}
	s, err := Register(NewSession(), "K", d)
	if err != nil {
		t.Fatal(err)
	}
	sub := &capture{}
	s.o.subscribe(sub)
	for _, step := range []struct {
		change func()
		want   string
	}{
		{func() { d.Rows.Update(1, func(r *listRow) { r.Name = "b" }) }, `[{"op":"replace","path":"/rows/1/name","value":"b"}]`},
		{func() { d.Rows.Insert(0, listRow{ID: 0}) }, `[{"op":"add","path":"/rows/0","value":{"id":0,"name":"","tags":null,"owner":null}}]`},
		{func() { d.Rows.Delete(1, 3) }, `[{"op":"remove","path":"/rows/1"},{"op":"remove","path":"/rows/1"}]`},
		{func() { d.Rows.Append(listRow{ID: 9}); d.Rows.Delete(2, 3) }, `[{"op":"add","path":"/rows/2","value":null},{"op":"remove","path":"/rows/2"}]`},
		{func() { d.Rows.Set(0, listRow{ID: 7}); d.Rows.Delete(0, 1) }, `[{"op":"remove","path":"/rows/0"}]`},
		{func() { d.Rows.Set(0, d.Rows.At(0)) }, ``},
	} {
		before := len(sub.frames)
		s.Update(func(*listDoc) { step.change() })
		if step.want == "" {
			if len(sub.frames) != before {
				t.Errorf("published %s, want nothing", sub.frames[before:])
			}
			continue
		}
		if data := frameData(t, sub.frames[len(sub.frames)-1]); string(data) != step.want {
			t.Errorf("patch %s, want %s", data, step.want)
		}
	}
}

// A List's value semantics: the zero value encodes as [], null decodes as empty, a copy's
// change leaves the original alone, and Values is a copy.
func TestListValue(t *testing.T) {
	t.Parallel()
	var l List[int]
	if b, _ := json.Marshal(l); string(b) != "[]" {
		t.Fatalf("zero List encodes as %s", b)
	}
	if err := json.Unmarshal([]byte("null"), &l); err != nil || l.Len() != 0 {
		t.Fatalf("null: %v, %d elements", err, l.Len())
	}
	if err := json.Unmarshal([]byte(`{"a":1}`), &l); err == nil {
		t.Fatal("an object decoded into a List")
	}
	l = NewList(1, 2, 3)
	l.Set(0, 10) // own history, in place
	cp := l
	cp.Set(1, 20)
	cp.Append(4)
	if got := l.Values(); !slices.Equal(got, []int{10, 2, 3}) {
		t.Fatalf("original %v after its copy changed", got)
	}
	if got := cp.Values(); !slices.Equal(got, []int{10, 20, 3, 4}) {
		t.Fatalf("copy %v", got)
	}
	v := l.Values()
	v[0] = 99
	if l.At(0) != 10 {
		t.Fatal("changing Values changed the list")
	}
	var got []int
	for i, x := range cp.All() {
		got = append(got, i, x)
	}
	if !slices.Equal(got, []int{0, 10, 1, 20, 2, 3, 3, 4}) {
		t.Fatalf("All: %v", got)
	}
	for name, f := range map[string]func(){
		"Set":    func() { l.Set(3, 0) },
		"Update": func() { l.Update(-1, func(*int) {}) },
		"Insert": func() { l.Insert(4, 1) },
		"Delete": func() { l.Delete(2, 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s out of range did not panic", name)
				}
			}()
			f()
		}()
	}
	if got := l.Values(); !slices.Equal(got, []int{10, 2, 3}) {
		t.Fatalf("after the panics: %v", got)
	}
}

// A client write into a List field goes through its JSON decoding; the next Sync sees the
// whole list changed and publishes the state the write made.
func TestListClientWrite(t *testing.T) {
	t.Parallel()
	type doc struct {
		Rows List[listRow] `sync:"rows,write"`
	}
	d := &doc{Rows: NewList(listRow{ID: 1}, listRow{ID: 2})}
	s, err := Register(NewSession(), "K", d)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.o.clientPatch(nil, json.RawMessage(`[{"op":"replace","path":"/rows/1/name","value":"x"},{"op":"add","path":"/rows/-","value":{"id":3,"tags":["t"]}}]`), 1<<20); err != nil {
		t.Fatal(err)
	}
	s.Update(func(d *doc) { d.Rows.Set(0, listRow{ID: 5}) })
	got, _ := s.Published()
	want := `{"rows":[{"id":5,"name":"","tags":null,"owner":null},{"id":2,"name":"x","tags":null,"owner":null},{"id":3,"name":"","tags":["t"],"owner":null}]}`
	if string(got) != want {
		t.Fatalf("published %s\nwant      %s", got, want)
	}
}

// Schema describes a List as an array of its elements, never null.
func TestListSchema(t *testing.T) {
	t.Parallel()
	b := newSchemaBuilder()
	s := b.typeSchema(reflect.TypeFor[List[int]]())
	out, _ := json.Marshal(s)
	if string(out) != `{"type":"array","items":{"type":"integer"}}` {
		t.Fatalf("schema %s", out)
	}
}

// A copy of a List in another object, whose original goes on changing under its own
// object's lock, is encoded from its own elements without reading the original's history
// (a data race under -race if it did).
func TestListCopyInAnotherObjectRace(t *testing.T) {
	t.Parallel()
	type doc struct {
		Rows List[int] `sync:"rows"`
	}
	d1 := &doc{}
	d1.Rows.Append(1, 2, 3)
	d2 := &doc{Rows: d1.Rows} // shares d1's history
	s1, err := Register(NewSession(), "A", d1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Register(NewSession(), "B", d2)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			s1.Update(func(d *doc) { d.Rows.Append(i) })
		}
	})
	wg.Go(func() {
		for range 200 {
			if err := s2.Sync(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if got, _ := s2.Published(); string(got) != `{"rows":[1,2,3]}` {
		t.Fatalf("the copy published %s", got)
	}
	s2.Update(func(d *doc) { d.Rows.Append(4) })
	if got, _ := s2.Published(); string(got) != `{"rows":[1,2,3,4]}` {
		t.Fatalf("the copy, changed, published %s", got)
	}
}

// A List a client write decoded is the field's own history once assigned: the next
// change of it is replayed from the log, not encoded whole.
func TestListClientWriteThenLoggedChange(t *testing.T) {
	t.Parallel()
	type doc struct {
		Rows List[int] `sync:"rows,write"`
	}
	d := &doc{Rows: NewList(1, 2, 3)}
	s, err := Register(NewSession(), "K", d)
	if err != nil {
		t.Fatal(err)
	}
	s.o.subscribe(&capture{})
	if err := s.o.clientPatch(nil, json.RawMessage(`[{"op":"replace","path":"/rows/0","value":9}]`), 1<<20); err != nil {
		t.Fatal(err)
	}
	s.Update(func(d *doc) { d.Rows.Set(1, 8) })
	if c := s.o.logs[0]; !c.valid || !c.ops {
		t.Fatalf("after the write, a Set was not replayed from the log (valid %v, ops %v)", c.valid, c.ops)
	}
	if got, _ := s.Published(); string(got) != `{"rows":[9,8,3]}` {
		t.Fatalf("published %s", got)
	}
}
