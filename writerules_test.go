package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type ruleNote struct {
	ID     string `json:"id"`
	Author string `json:"author"`
	Text   string `json:"text"`
}

type ruleRoom struct {
	Title string              `sync:"title,write=admin|editor"`
	Notes []ruleNote          `sync:"notes,write,owner=author"`
	ByID  map[string]ruleNote `sync:"byId,write,owner=author"`
	Free  string              `sync:"free,write"`
}

func newRuleRoom() *ruleRoom {
	return &ruleRoom{
		Title: "room",
		Notes: []ruleNote{{"a1", "ann", "ann's first"}, {"b1", "bob", "bob's"}, {"a2", "ann", "ann's second"}},
		ByID:  map[string]ruleNote{"k1": {"k1", "ann", "ann's"}, "k2": {"k2", "bob", "bob's"}},
	}
}

// serveRoom serves one shared room through a Manager whose auth hook takes the user and
// role from the query, and dials ann (an admin) and bob (a guest).
func serveRoom(t *testing.T, room *ruleRoom, limits wssync.Limits) (s *wssync.Synced[ruleRoom], ann, bob *wssynctest.Client) {
	t.Helper()
	s, err := wssync.NewShared("ROOM", room)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return s.Join(sess) },
		wssync.WithLimits(limits),
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: q.Get("user"), Session: q.Get("user") + "-tab", Roles: []string{q.Get("role")}}, nil
		}))
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	ann = wstest.Dial(t, url+"?user=ann&role=admin")
	bob = wstest.Dial(t, url+"?user=bob&role=guest")
	wstest.WaitType(t, ann, "_SET:ROOM")
	wstest.WaitType(t, bob, "_SET:ROOM")
	return s, ann, bob
}

func roomJSON(s *wssync.Synced[ruleRoom], r *ruleRoom) string {
	s.RLock()
	defer s.RUnlock()
	b, _ := json.Marshal(r)
	return string(b)
}

// roomWrite sends one raw write and returns the refusal, or nil when it was applied.
// Steps are sequential, so a _PATCH with a version above the one before the write is its
// own (not another client's write that reached c earlier).
func roomWrite(t *testing.T, s *wssync.Synced[ruleRoom], c *wssynctest.Client, event, data string) *wssync.Error {
	t.Helper()
	v0 := s.Version()
	if err := c.SendRaw([]byte(`{"type":"` + event + `","data":` + data + `}`)); err != nil {
		t.Fatal(err)
	}
	f, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool {
		return f.Type == "_ERROR" || f.Type == "_PATCH:ROOM" && f.V != nil && *f.V > v0
	})
	if err != nil {
		t.Fatalf("no answer to %s %s: %v", event, data, err)
	}
	if f.Type == "_PATCH:ROOM" {
		return nil
	}
	e := errorOf(t, f)
	wstest.WaitType(t, c, "_SET:ROOM")
	return &e
}

// A guest cannot change, remove, reorder, copy or forge ann's elements, nor the admins'
// title, through _PATCH or _SET: each write is refused with the exact code and path, and
// the struct is byte-identical.
func TestWriteRulesRefuseAnotherUsersElements(t *testing.T) {
	refused := []struct{ name, event, data, code, path string }{
		{"role field", "_PATCH:ROOM", `[{"op":"replace","path":"/title","value":"mine"}]`, "read_only", "/title"},
		{"role field by _SET", "_SET:ROOM", `{"title":"mine"}`, "read_only", "/title"},
		{"nested change", "_PATCH:ROOM", `[{"op":"replace","path":"/notes/0/text","value":"x"}]`, "read_only", "/notes/0"},
		{"take over the owner", "_PATCH:ROOM", `[{"op":"replace","path":"/notes/2/author","value":"bob"}]`, "read_only", "/notes/2"},
		{"remove", "_PATCH:ROOM", `[{"op":"remove","path":"/notes/2"}]`, "read_only", "/notes/2"},
		{"replace the element", "_PATCH:ROOM", `[{"op":"replace","path":"/notes/0","value":{"id":"a1","author":"ann","text":"x"}}]`, "read_only", "/notes/0"},
		{"forged owner on add", "_PATCH:ROOM", `[{"op":"add","path":"/notes/-","value":{"id":"f","author":"ann","text":"forged"}}]`, "read_only", "/notes/3"},
		{"forged owner in front", "_PATCH:ROOM", `[{"op":"add","path":"/notes/0","value":{"id":"f","author":"ann","text":"forged"}}]`, "read_only", "/notes/0"},
		{"own element given away", "_PATCH:ROOM", `[{"op":"replace","path":"/notes/1/author","value":"ann"}]`, "read_only", "/notes/1"},
		{"reorder by move", "_PATCH:ROOM", `[{"op":"move","from":"/notes/0","path":"/notes/-"}]`, "read_only", "/notes/1"},
		{"duplicate by copy", "_PATCH:ROOM", `[{"op":"copy","from":"/notes/0","path":"/notes/-"}]`, "read_only", "/notes/3"},
		{"whole list replaced", "_PATCH:ROOM", `[{"op":"replace","path":"/notes","value":[]}]`, "read_only", "/notes/0"},
		{"whole list by _SET", "_SET:ROOM", `{"notes":[{"id":"b1","author":"bob","text":"bob's"}]}`, "read_only", "/notes/0"},
		{"swap by _SET", "_SET:ROOM", `{"notes":[{"id":"a2","author":"ann","text":"ann's second"},{"id":"b1","author":"bob","text":"bob's"},{"id":"a1","author":"ann","text":"ann's first"}]}`, "read_only", "/notes/0"},
		{"map entry changed", "_PATCH:ROOM", `[{"op":"replace","path":"/byId/k1/text","value":"x"}]`, "read_only", "/byId/k1"},
		{"map entry removed", "_PATCH:ROOM", `[{"op":"remove","path":"/byId/k1"}]`, "read_only", "/byId/k1"},
		{"map entry forged", "_PATCH:ROOM", `[{"op":"add","path":"/byId/zz","value":{"id":"zz","author":"ann","text":"x"}}]`, "read_only", "/byId/zz"},
		{"map entry moved", "_PATCH:ROOM", `[{"op":"move","from":"/byId/k1","path":"/byId/k0"}]`, "read_only", "/byId/k0"},
		{"allowed op then a breach", "_PATCH:ROOM", `[{"op":"replace","path":"/free","value":"x"},{"op":"remove","path":"/notes/0"}]`, "read_only", "/notes/0"},
	}
	room := newRuleRoom()
	s, _, bob := serveRoom(t, room, wssync.Limits{})
	before := roomJSON(s, room)
	for _, tc := range refused {
		e := roomWrite(t, s, bob, tc.event, tc.data)
		if e == nil {
			t.Fatalf("%s: the guest's write was applied: %s", tc.name, roomJSON(s, room))
		}
		if string(e.Code) != tc.code || e.Path != tc.path {
			t.Errorf("%s: refused with %s at %q (%s), want %s at %q", tc.name, e.Code, e.Path, e.Message, tc.code, tc.path)
		}
		if got := roomJSON(s, room); got != before {
			t.Fatalf("%s: the struct changed:\n%s\nwant\n%s", tc.name, got, before)
		}
	}
}

// The owner may do with its own elements what the others may not: change, remove, move,
// add in front of another's (which shifts it but keeps the order), and the admin may
// change the role field.
func TestWriteRulesLetOwnersWrite(t *testing.T) {
	room := newRuleRoom()
	s, ann, bob := serveRoom(t, room, wssync.Limits{})
	steps := []struct {
		c     *wssynctest.Client
		event string
		data  string
	}{
		// ann first: a client's WaitFrame would match the patches of bob's writes
		{ann, "_PATCH:ROOM", `[{"op":"replace","path":"/title","value":"ann's room"},{"op":"remove","path":"/notes/0"}]`},
		{bob, "_PATCH:ROOM", `[{"op":"replace","path":"/notes/0/text","value":"bob's, edited"}]`},
		{bob, "_PATCH:ROOM", `[{"op":"add","path":"/notes/0","value":{"id":"b2","author":"bob","text":"first!"}}]`},
		{bob, "_PATCH:ROOM", `[{"op":"move","from":"/notes/0","path":"/notes/-"}]`},
		{bob, "_PATCH:ROOM", `[{"op":"add","path":"/byId/b9","value":{"id":"b9","author":"bob","text":"mine"}},{"op":"remove","path":"/byId/k2"}]`},
		{bob, "_SET:ROOM", `{"free":"bob was here","notes":[{"id":"a2","author":"ann","text":"ann's second"},{"id":"b2","author":"bob","text":"first!"}]}`},
	}
	for i, st := range steps {
		if e := roomWrite(t, s, st.c, st.event, st.data); e != nil {
			t.Fatalf("step %d (%s) refused: %+v", i, st.data, e)
		}
	}
	want := `{"Title":"ann's room","Notes":[{"id":"a2","author":"ann","text":"ann's second"},{"id":"b2","author":"bob","text":"first!"}],"ByID":{"b9":{"id":"b9","author":"bob","text":"mine"},"k1":{"id":"k1","author":"ann","text":"ann's"}},"Free":"bob was here"}`
	if got := roomJSON(s, room); got != want {
		t.Fatalf("state\n%s\nwant\n%s", got, want)
	}
}

// Refusals by a rule count toward MaxBadFrames like any other refused frame.
func TestWriteRulesRefusalsCountAsBadFrames(t *testing.T) {
	room := newRuleRoom()
	s, _, bob := serveRoom(t, room, wssync.Limits{MaxBadFrames: 3})
	before := roomJSON(s, room)
	for range 3 {
		if err := bob.SendRaw([]byte(`{"type":"_PATCH:ROOM","data":[{"op":"remove","path":"/notes/0"}]}`)); err != nil {
			break
		}
	}
	if code := wstest.CloseCode(t, bob); code != 1008 {
		t.Fatalf("close code %d, want 1008 after 3 refused writes", code)
	}
	if got := roomJSON(s, room); got != before {
		t.Fatalf("the struct changed: %s", got)
	}
}

// Random op sequences by bob, valid and not, over the socket: whatever bob's writes do to
// his own notes, ann's notes come out unchanged and in their order, and the map entry of
// ann is untouched.
func TestWriteRulesPropertyNonOwnerNeverChangesAnothersElement(t *testing.T) {
	room := newRuleRoom()
	s, _, bob := serveRoom(t, room, wssync.Limits{MaxBadFrames: 1 << 20})
	anns := func() string {
		s.RLock()
		defer s.RUnlock()
		var out []string
		for _, n := range room.Notes {
			if n.Author == "ann" {
				out = append(out, n.ID+"="+n.Text)
			}
		}
		return strings.Join(out, ",") + "|" + room.ByID["k1"].Text
	}
	want := anns()
	rng := rand.New(rand.NewPCG(12, 34))
	applied := 0
	for i := range 300 {
		s.RLock()
		n := len(room.Notes)
		s.RUnlock()
		// the first op makes every applied write a change, so it is answered with a _PATCH
		ops := []string{fmt.Sprintf(`{"op":"replace","path":"/free","value":"w%d"}`, i)}
		for range 1 + rng.IntN(3) {
			ops = append(ops, randomOp(rng, n, i))
		}
		if roomWrite(t, s, bob, "_PATCH:ROOM", "["+strings.Join(ops, ",")+"]") == nil {
			applied++
		}
		if got := anns(); got != want {
			t.Fatalf("after %d writes ann's elements are %s, want %s (last ops %v)", i+1, got, want, ops)
		}
	}
	if applied == 0 {
		t.Fatal("no random write was applied: the property was not exercised")
	}
	t.Logf("%d of 300 random writes applied", applied)
}

func randomOp(rng *rand.Rand, n, seq int) string {
	idx := func() string {
		if rng.IntN(6) == 0 {
			return "-"
		}
		return fmt.Sprint(rng.IntN(n + 1))
	}
	author := []string{"bob", "ann", "", "Bob"}[rng.IntN(4)]
	note := fmt.Sprintf(`{"id":"r%d","author":%q,"text":"t%d"}`, seq, author, rng.IntN(3))
	switch rng.IntN(9) {
	case 0:
		return `{"op":"add","path":"/notes/` + idx() + `","value":` + note + `}`
	case 1:
		return `{"op":"remove","path":"/notes/` + idx() + `"}`
	case 2:
		return `{"op":"replace","path":"/notes/` + idx() + `/text","value":"x"}`
	case 3:
		return `{"op":"replace","path":"/notes/` + idx() + `/author","value":"` + author + `"}`
	case 4:
		return `{"op":"move","from":"/notes/` + idx() + `","path":"/notes/` + idx() + `"}`
	case 5:
		return `{"op":"copy","from":"/notes/` + idx() + `","path":"/notes/` + idx() + `"}`
	case 6:
		return `{"op":"replace","path":"/notes/` + idx() + `","value":` + note + `}`
	case 7:
		return `{"op":"replace","path":"/byId/k` + fmt.Sprint(1+rng.IntN(2)) + `/text","value":"y"}`
	default:
		return `{"op":"add","path":"/notes/` + idx() + `","value":{"id":"m","author":"bob","text":"mine"}}`
	}
}
