package wssync

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// recorder is a subscriber that keeps what it is handed.
type recorder struct {
	mu      sync.Mutex
	frames  []string
	resyncs int
}

func (r *recorder) deliver(_ *object, f *frame) {
	r.mu.Lock()
	r.frames = append(r.frames, string(f.data))
	r.mu.Unlock()
}

func (r *recorder) resync(*object) {
	r.mu.Lock()
	r.resyncs++
	r.mu.Unlock()
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...)
}

// objDoc has a field whose encoding can be made to panic.
type objDoc struct {
	Title string   `sync:"title"`
	Count int      `sync:"count"`
	Trap  *objTrap `sync:"trap"`
	Items []string `sync:"items"`
}

type objTrap struct{ Armed bool }

func (t *objTrap) MarshalJSON() ([]byte, error) {
	if t.Armed {
		panic("trap")
	}
	return []byte(`"safe"`), nil
}

func newObject(t *testing.T) (*Synced[objDoc], *objDoc) {
	t.Helper()
	d := &objDoc{Title: "t", Trap: &objTrap{}}
	s, err := NewShared("DOC", d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	return s, d
}

// TestObjectPublishesOnePatchPerChange: a subscriber is handed one _PATCH frame per Sync
// that changes something, at the next version, and nothing for a Sync without changes.
func TestObjectPublishesOnePatchPerChange(t *testing.T) {
	s, _ := newObject(t)
	o := s.o
	r := &recorder{}
	o.subscribe(r)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.got()); n != 0 {
		t.Fatalf("a Sync without changes delivered %d frames", n)
	}
	_ = s.Update(func(d *objDoc) { d.Count = 2; d.Items = []string{"a"} })
	fs := r.got()
	if len(fs) != 1 {
		t.Fatalf("delivered %d frames, want 1", len(fs))
	}
	var f struct {
		Type string
		Data []map[string]any
		V    uint64
	}
	if err := json.Unmarshal([]byte(fs[0]), &f); err != nil {
		t.Fatalf("frame %s: %v", fs[0], err)
	}
	if f.Type != "_PATCH:DOC" || f.V != 1 || len(f.Data) != 2 {
		t.Errorf("frame %s: want a _PATCH:DOC of two ops at version 1", fs[0])
	}
	o.unsubscribe(r)
	_ = s.Update(func(d *objDoc) { d.Count = 3 })
	if n := len(r.got()); n != 1 {
		t.Errorf("an unsubscribed subscriber was handed %d more frames", n-1)
	}
}

// TestObjectReusesUnchangedFields: a field whose encoding did not change keeps the
// published slice itself, so that the diff skips it without comparing.
func TestObjectReusesUnchangedFields(t *testing.T) {
	s, _ := newObject(t)
	o := s.o
	o.pub.Lock()
	before := append([][]byte(nil), o.last...)
	o.pub.Unlock()
	_ = s.Update(func(d *objDoc) { d.Count = 9 })
	o.pub.Lock()
	defer o.pub.Unlock()
	for i, f := range o.fields {
		if same := reused(before[i], o.last[i]); same != (f.wire != "count") {
			t.Errorf("field %s: reused %v after a change of count only", f.wire, same)
		}
	}
}

// TestObjectSetFrame: the _SET frame carries the published state and version, is built
// once per version, and size bounds the state's length.
func TestObjectSetFrame(t *testing.T) {
	s, _ := newObject(t)
	o := s.o
	_ = s.Update(func(d *objDoc) { d.Title = `q"uote` })
	o.pub.Lock()
	f := o.setFrame()
	again := o.setFrame()
	state := o.appendState(nil)
	size := o.size()
	o.pub.Unlock()
	if f != again {
		t.Error("setFrame built a second frame for the same version")
	}
	// size counts a separator per field, one more than the commas: a bound, one byte over.
	if size < len(state) || size > len(state)+1 {
		t.Errorf("size() = %d, the state takes %d bytes", size, len(state))
	}
	want := `{"type":"_SET:DOC","data":` + string(state) + `,"v":1,"epoch":"` + o.epoch + `"}`
	if string(f.data) != want {
		t.Errorf("_SET frame %s, want %s", f.data, want)
	}
	_ = s.Update(func(d *objDoc) { d.Count = 1 })
	o.pub.Lock()
	defer o.pub.Unlock()
	if o.setFrame() == f {
		t.Error("setFrame returned the frame of the previous version")
	}
}

// TestObjectEncodePanicIsAnError: a MarshalJSON that panics fails Sync with an error naming
// the key and field; nothing is published.
func TestObjectEncodePanicIsAnError(t *testing.T) {
	s, d := newObject(t)
	r := &recorder{}
	s.o.subscribe(r)
	s.Lock()
	d.Trap.Armed = true
	d.Count = 5
	s.Unlock()
	err := s.Sync()
	if err == nil || !strings.Contains(err.Error(), `"DOC"`) || !strings.Contains(err.Error(), `"trap"`) || !strings.Contains(err.Error(), "panic") {
		t.Errorf("Sync with a panicking field: %v, want an error naming key DOC, field trap and the panic", err)
	}
	if n := len(r.got()); n != 0 || s.Version() != 0 {
		t.Errorf("after the failed Sync: %d frames delivered, version %d; want none and 0", n, s.Version())
	}
}

func TestObjectResyncAll(t *testing.T) {
	s, _ := newObject(t)
	a, b := &recorder{}, &recorder{}
	s.o.subscribe(a)
	s.o.subscribe(b)
	s.o.pub.Lock()
	s.o.resyncAllLocked()
	s.o.pub.Unlock()
	if a.resyncs != 1 || b.resyncs != 1 {
		t.Errorf("resyncAllLocked: resyncs %d and %d, want 1 each", a.resyncs, b.resyncs)
	}
}

// TestObjectDeliversOncePerSubscriber: delivery walks the subscriber list, which must
// hold each subscriber once however often it subscribes, and none that left.
func TestObjectDeliversOncePerSubscriber(t *testing.T) {
	st := &struct {
		N int `sync:"n"`
	}{}
	s, err := Register(NewSession(), "K", st)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := &capture{}, &capture{}, &capture{}
	s.o.subscribe(a)
	s.o.subscribe(b)
	s.o.subscribe(a) // again: still one subscription
	s.o.subscribe(c)
	s.o.unsubscribe(b)
	s.o.unsubscribe(b) // twice: nothing more to remove
	s.Lock()
	st.N = 1
	s.Unlock()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(a.frames) != 1 || len(b.frames) != 0 || len(c.frames) != 1 {
		t.Fatalf("frames: a %d, b %d, c %d; want 1, 0, 1", len(a.frames), len(b.frames), len(c.frames))
	}
	if len(s.o.subList) != len(s.o.subs) {
		t.Fatalf("%d subscribers listed, %d subscribed", len(s.o.subList), len(s.o.subs))
	}
}
