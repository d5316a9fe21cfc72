package wspresence_test

import (
	"strings"
	"testing"

	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wssynctest"
)

// With WithClientView, clients see what it returns (here neither id), ordered by what it
// returns, while Members keeps the ids; the Meta passes through.
func TestClientViewHidesIDs(t *testing.T) {
	t.Parallel()
	p, err := wspresence.New(wsmemory.New(), "room", "ROOM", wspresence.WithClientView(func(m wspresence.Member) wspresence.Member {
		return wspresence.Member{User: "name of " + m.User[:1], Session: "tag", Meta: m.Meta}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := testCtx(t)
	url, sessions := joinedRoom(t, p)
	c := dialAs(t, ctx, url, "zed-secret", "secret-session-1")
	sess := <-sessions
	dialAs(t, ctx, url, "amy-secret", "secret-session-2")
	if err := p.SetMeta(sess, map[string]bool{"typing": true}); err != nil {
		t.Fatal(err)
	}
	st, err := wssynctest.WaitState(ctx, c, "ROOM", func(s wspresence.State) bool {
		return len(s.Members) == 2 && s.Members[1].Meta != nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Members[0].User + "," + st.Members[1].User + " " + string(st.Members[1].Meta); got != `name of a,name of z {"typing":true}` {
		t.Errorf("the client sees %q", got)
	}
	raw, _, _ := c.State("ROOM")
	if strings.Contains(string(raw), "secret") {
		t.Errorf("an id reached the client: %s", raw)
	}
	waitMembers(t, p, "amy-secret/secret-session-2,zed-secret/secret-session-1")
}
