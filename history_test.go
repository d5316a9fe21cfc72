package wssync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// TestHistoryBounded: whatever is recorded, the history holds at most its count and its
// bytes, and what it holds is the latest consecutive run.
func TestHistoryBounded(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for _, bounds := range [][2]int{{64, 256 << 10}, {8, 1000}, {1, 1 << 20}, {1000, 4096}} {
		h := newHistory(bounds[0], bounds[1])
		var v uint64
		for range 20_000 {
			v++
			f := bytes.Repeat([]byte{'x'}, 1+r.IntN(600))
			h.add(v, f)
			n, b := h.size()
			if n > bounds[0] || b > bounds[1] {
				t.Fatalf("bounds %v: holds %d frames, %d bytes", bounds, n, b)
			}
			frames, ok := h.since(v-uint64(n), v)
			if !ok || len(frames) != n || (n > 0 && !bytes.Equal(frames[n-1], f)) {
				t.Fatalf("bounds %v: since(%d) = %d frames, %v", bounds, v-uint64(n), len(frames), ok)
			}
			if _, ok := h.since(v-uint64(n)-1, v); ok && v > uint64(n) {
				t.Fatalf("bounds %v: since reaches before the run", bounds)
			}
		}
	}
	t.Run("too large", func(t *testing.T) {
		h := newHistory(8, 100)
		h.add(1, make([]byte, 50))
		h.add(2, make([]byte, 101))
		if n, b := h.size(); n != 0 || b != 0 {
			t.Fatalf("a frame over the bound left %d frames, %d bytes", n, b)
		}
		if f, ok := h.since(2, 2); !ok || len(f) != 0 {
			t.Fatal("a client at the version of the large patch is not up to date")
		}
		if _, ok := h.since(1, 2); ok {
			t.Fatal("the patch that was not kept was resumed")
		}
	})
	t.Run("gap", func(t *testing.T) {
		h := newHistory(8, 1000)
		h.add(1, []byte("a"))
		h.add(3, []byte("c")) // version 2 was never recorded
		if _, ok := h.since(1, 3); ok {
			t.Fatal("resumed across a gap")
		}
		if f, ok := h.since(2, 3); !ok || len(f) != 1 {
			t.Fatal("the run after the gap is lost")
		}
	})
	t.Run("off", func(t *testing.T) {
		h := newHistory(0, 0)
		h.add(1, []byte("a"))
		if _, ok := h.since(1, 1); ok || h.ring != nil {
			t.Fatal("a history that is off keeps something")
		}
	})
}

// TestHistoryMemoryPerObject: an object's history holds its bounds of memory however many
// patches it published: the heap after 5,000 large patches is within the bound.
func TestHistoryMemoryPerObject(t *testing.T) {
	t.Parallel()
	type big struct {
		Blob string `sync:"blob"`
	}
	s, err := NewShared("BIG", &big{}, WithHistory(16, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	s.o.subscribe(&countingSubscriber{}) // patches are diffed only for a subscriber
	for i := range 5000 {
		_ = s.Update(func(b *big) { b.Blob = strconv.Itoa(i) + string(bytes.Repeat([]byte{'y'}, 10_000)) })
	}
	s.o.pub.Lock()
	n, b := s.o.hist.size()
	s.o.pub.Unlock()
	if n > 16 || b > 64<<10 || n == 0 {
		t.Fatalf("history holds %d frames, %d bytes", n, b)
	}
}

func FuzzDecodeResume(f *testing.F) {
	for _, s := range []string{
		`{"NOTES":{"v":41,"epoch":"abc"}}`, `{}`, `[]`, `null`, `{"a":{"v":-1,"epoch":"e"}}`,
		`{"a":{"v":1.5,"epoch":"e"}}`, `{"a":{"v":1e3,"epoch":"e"}}`, `{"a":{"v":18446744073709551616,"epoch":"e"}}`,
		`{"a":{"v":"1","epoch":"e"}}`, `{"a":{"v":1,"epoch":5}}`, `{"a":{"v":1}}`, `{"a":1,"b":2,"c":3}`,
		`{"a":{"v":1,"epoch":"e"},"a":{"v":2,"epoch":"f"}}`, `{"a":{"v":0,"epoch":""}}`,
	} {
		f.Add([]byte(s), 2)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxKeys int) {
		maxKeys = max(0, maxKeys%64)
		held, err := decodeResume(data, maxKeys)
		if err != nil {
			if held != nil || err.Code != CodeBadData || err.Message == "" {
				t.Fatalf("bad refusal: %+v", err)
			}
			return
		}
		if len(held) > maxKeys {
			t.Fatalf("%d keys accepted, bound %d", len(held), maxKeys)
		}
		// Every accepted entry is what encoding/json reads there.
		var ref map[string]struct {
			V     json.Number `json:"v"`
			Epoch string      `json:"epoch"`
		}
		if json.Unmarshal(data, &ref) != nil {
			return // a member that encoding/json cannot read as an entry: left out here
		}
		for key, h := range held {
			r := ref[key]
			if h.epoch != r.Epoch || h.epoch == "" || len(h.epoch) > maxEpochBytes || r.V.String() != strconv.FormatUint(h.v, 10) {
				t.Fatalf("%q: decoded %+v, encoding/json reads %+v", key, h, r)
			}
		}
	})
}

// FuzzResumeKey: whatever version and epoch a client names, the frames resume sends are
// those that lead the state the server published at that version to the present one,
// and there are none for a version it never published in that epoch.
func FuzzResumeKey(f *testing.F) {
	f.Add(uint8(10), uint64(3), true, uint8(4))
	f.Add(uint8(70), uint64(1), true, uint8(8))
	f.Add(uint8(5), uint64(9), true, uint8(4))
	f.Add(uint8(5), uint64(2), false, uint8(4))
	f.Add(uint8(0), uint64(0), true, uint8(1))
	f.Fuzz(func(t *testing.T, changes uint8, v uint64, sameEpoch bool, keep uint8) {
		type doc struct {
			N    int      `sync:"n"`
			List []string `sync:"list"`
		}
		s, err := NewShared("DOC", &doc{}, WithHistory(int(keep%16), 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unregister()
		s.o.subscribe(&countingSubscriber{})
		states := map[uint64][]byte{}
		st, ver := s.Published()
		states[ver] = st
		for i := range int(changes) {
			_ = s.Update(func(d *doc) {
				d.N = i
				if i%3 == 0 {
					d.List = append(d.List, fmt.Sprint(i))
				} else if len(d.List) > 0 {
					d.List = d.List[1:]
				}
			})
			st, ver = s.Published()
			states[ver] = st
		}
		epoch := s.o.epoch
		if !sameEpoch {
			epoch = "b" + epoch
		}
		s.o.pub.Lock()
		frames, ok, _ := s.o.missedLocked(heldKey{v: v, epoch: epoch})
		s.o.pub.Unlock()
		if !ok {
			return
		}
		base, published := states[v]
		if !sameEpoch || !published || keep%16 == 0 {
			t.Fatalf("resumed version %d (epoch ok %v, published %v, history %d)", v, sameEpoch, published, keep%16)
		}
		if uint64(len(frames)) != ver-v {
			t.Fatalf("%d frames from %d to %d", len(frames), v, ver)
		}
		cur := base
		for i, fr := range frames {
			var pf struct {
				Data json.RawMessage `json:"data"`
				V    uint64          `json:"v"`
			}
			if err := json.Unmarshal(fr, &pf); err != nil || pf.V != v+uint64(i)+1 {
				t.Fatalf("frame %s: %v", fr, err)
			}
			p, err := jsonpatch.DecodePatch(pf.Data)
			if err != nil {
				t.Fatal(err)
			}
			if cur, err = p.Apply(cur); err != nil {
				t.Fatal(err)
			}
		}
		if !jsonpatch.Equal(cur, states[ver]) {
			t.Fatalf("resumed to %s, published %s", cur, states[ver])
		}
	})
}
