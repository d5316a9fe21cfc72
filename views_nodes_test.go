package wssync_test

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wsredis"
)

// Views across nodes, on the in-memory backend: the admin on one node, the guest on the
// other, changes made on both.
func TestViewsAcrossNodesMemory(t *testing.T) {
	t.Parallel()
	be := wsmemory.New()
	runViewNodes(t, be, be)
}

// Views across nodes on a real Redis.
func TestViewsAcrossNodesRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var bes []wssync.Backend
	for range 2 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		rb := wsredis.New(c, wsredis.Options{})
		t.Cleanup(func() { rb.Close(); _ = c.Close() })
		bes = append(bes, rb)
	}
	runViewNodes(t, bes[0], bes[1])
}

// runViewNodes serves one Team from two nodes, an admin on the first and a guest on the
// second, makes 300 random changes spread over both nodes, and checks that the guest's
// raw stream holds no secret and that it ends in the guest view of the common state.
func runViewNodes(t *testing.T, a, b wssync.Backend) {
	nodes := make([]*wssync.Synced[Team], 2)
	dones := make([]chan string, 2)
	urls := make([]string, 2)
	for i, be := range []wssync.Backend{a, b} {
		_, nodes[i] = newTeam(t, wssync.WithBackend(be))
		t.Cleanup(nodes[i].Unregister)
		dones[i] = doneAction(t, nodes[i])
		urls[i] = serveManager(t, teamManager(t, nodes[i]))
	}
	adminURL, adminTap := tapURL(t, urls[0])
	guestURL, guestTap := tapURL(t, urls[1])
	admin := wstest.Dial(t, adminURL+"?u=root&s=a1&role=admin")
	guest := wstest.Dial(t, guestURL+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, admin, "_SET:TEAM")
	wstest.WaitType(t, guest, "_SET:TEAM")

	r := rand.New(rand.NewPCG(5, 300))
	for n := range 300 {
		randomTeamChange(t, r, n, nodes[n%2], admin, guest)
	}
	_ = admin.Send("_ACTION:TEAM", map[string]any{"type": "done"})
	_ = guest.Send("_ACTION:TEAM", map[string]any{"type": "done"})
	wstest.Receive(t, dones[0], "the admin's frames handled")
	wstest.Receive(t, dones[1], "the guest's frames handled")
	wstest.Eventually(t, "both nodes at one version", func() bool {
		_ = nodes[0].Sync()
		_ = nodes[1].Sync()
		return nodes[0].Version() == nodes[1].Version()
	})
	state, v := nodes[1].Published()
	if s0, _ := nodes[0].Published(); !bytes.Equal(s0, state) {
		t.Fatalf("the nodes differ at v%d:\n%s\n%s", v, s0, state)
	}
	gotGuest, err := guest.WaitVersion(ctxT(t), "TEAM", v)
	if err != nil {
		t.Fatal(err)
	}
	if want := guestFilter(t, state); !reflect.DeepEqual(decodeJSON(t, gotGuest), want) {
		t.Fatalf("guest holds %s\nwant %v", gotGuest, want)
	}
	if gotAdmin, err := admin.WaitVersion(ctxT(t), "TEAM", v); err != nil || !reflect.DeepEqual(decodeJSON(t, gotAdmin), decodeJSON(t, state)) {
		t.Fatalf("admin holds %s (%v)\nwant %s", gotAdmin, err, state)
	}
	if g := guestTap.bytes(); bytes.Contains(g, []byte(secret)) {
		i := bytes.Index(g, []byte(secret))
		t.Fatalf("the guest received a secret: …%q…", g[max(0, i-200):min(len(g), i+50)])
	}
	if !bytes.Contains(adminTap.bytes(), []byte(secret)) {
		t.Fatal("the admin's stream holds no secret")
	}
}
