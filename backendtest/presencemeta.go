package backendtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wssynctest"
)

// testPresenceMeta: a member's client sets its Meta on one node; every node's Members,
// every node's OnChange (as an update) and every client's state carry it, and the leave
// reaches every node's OnChange too. An Online on each node answers for users connected
// to any of them.
func testPresenceMeta(t *testing.T, nodes Nodes) {
	if len(nodes.Presence) < 3 {
		t.Skip("no presence stores")
	}
	ctx := ctxFor(t)
	room := "meta-" + fmt.Sprint(time.Now().UnixNano())
	var mu sync.Mutex
	events := make([][]string, 3) // what each node's OnChange saw, in order
	ps := make([]*wspresence.Presence, 3)
	onlines := make([]*wspresence.Online, 3)
	urls := make([]string, 3)
	for i := range ps {
		p, err := wspresence.New(nodes.Presence[i], room, "PRESENCE",
			wspresence.WithClientMeta(wspresence.ClientMeta{}),
			wspresence.OnChange(func(d wspresence.Diff) {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range d.Joined {
					events[i] = append(events[i], "+"+m.User)
				}
				for _, m := range d.Updated {
					events[i] = append(events[i], "~"+m.User+string(m.Meta))
				}
				for _, m := range d.Left {
					events[i] = append(events[i], "-"+m.User)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		o, err := wspresence.NewOnline(nodes.Presence[i], room+"-online")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(o.Close)
		ps[i], onlines[i] = p, o
		urls[i] = serveManager(t, wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
			if err := o.Track(sess); err != nil {
				return err
			}
			return p.Join(sess)
		}))
	}
	cs := make([]*wssynctest.Client, 3)
	for i := range cs {
		cs[i] = dial(t, urls[i], wssynctest.WithIdentity(fmt.Sprintf("user%d", i), fmt.Sprintf("%s-tab%d", room, i)))
	}
	seen := func(what string, want func(node int, ev []string) bool) {
		t.Helper()
		waitUntil(t, what, func() error {
			mu.Lock()
			defer mu.Unlock()
			for i, ev := range events {
				if !want(i, ev) {
					return fmt.Errorf("node%d saw %v", i, ev)
				}
			}
			return nil
		})
	}
	seen("every node sees every join", func(_ int, ev []string) bool {
		return strings.Contains(strings.Join(ev, " "), "+user0") && len(ev) >= 3
	})
	for i, o := range onlines {
		waitUntil(t, fmt.Sprintf("node%d finds user0 online", i), func() error {
			ms, err := o.Sessions(ctx, "user0")
			if err != nil || len(ms) != 1 || ms[0].Session != room+"-tab0" {
				return fmt.Errorf("user0's sessions %v, %v", ms, err)
			}
			return nil
		})
	}

	if err := cs[0].SendFrame(map[string]any{"type": "_ACTION:PRESENCE", "id": "m",
		"data": map[string]any{"type": wspresence.MetaAction, "meta": map[string]any{"typing": true}}}); err != nil {
		t.Fatal(err)
	}
	const want = `{"typing":true}`
	seen("every node's OnChange gets the update", func(_ int, ev []string) bool {
		return len(ev) > 0 && ev[len(ev)-1] == "~user0"+want
	})
	waitUntil(t, "every node and client carries the meta", func() error {
		for i := range ps {
			if got := ps[i].Members()[0]; string(got.Meta) != want {
				return fmt.Errorf("node%d lists %+v", i, got)
			}
			st, err := wssynctest.WaitState(ctx, cs[i], "PRESENCE", func(wspresence.State) bool { return true })
			if err != nil {
				return err
			}
			if len(st.Members) != 3 || string(st.Members[0].Meta) != want {
				return fmt.Errorf("node%d's client lists %+v", i, st.Members)
			}
		}
		return nil
	})

	_ = cs[0].Close()
	seen("every node's OnChange gets the leave", func(_ int, ev []string) bool {
		return len(ev) > 0 && ev[len(ev)-1] == "-user0"
	})
	for i, o := range onlines {
		waitUntil(t, fmt.Sprintf("node%d finds user0 offline", i), func() error {
			if here, err := o.IsOnline(ctx, "user0"); err != nil || here {
				return fmt.Errorf("IsOnline(user0) = %v, %v", here, err)
			}
			return nil
		})
	}
}
