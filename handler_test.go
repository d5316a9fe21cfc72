package wssync_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

var epoch = regexp.MustCompile(`"epoch":"[^"]*"`)

// The README's quick start, run: a Manager serves every tab (httptest.NewServer takes it
// as it is, a Manager being an http.Handler), each tab has its own session, and all of them
// share one list. Two tabs connect as the React hook with wsAuth does, each receives the
// same frames, and neither replaces the other.
func Example_quickStart() {
	type Notes struct {
		Title string   `sync:"title,write"` // the browser may write it
		Notes []string `sync:"notes"`       // read-only for the browser
	}

	// One list for every tab: each change is diffed and encoded once for all of them.
	notes, err := wssync.NewShared("NOTES", &Notes{Title: "My Notes"})
	if err != nil {
		panic(err)
	}
	// The Manager builds a session per tab, on its first connection, and joins it to the list.
	mgr := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return notes.Join(sess)
	})
	srv := httptest.NewServer(mgr) // or http.Handle("/ws", mgr)
	defer srv.Close()
	defer func() { _ = mgr.Shutdown(context.Background()) }()

	tab := func(session string) *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			panic(err)
		}
		_, ask, _ := ws.ReadMessage() // {"type":"_REQUEST_USER_SESSION"}: the hook's wsAuth answers it
		fmt.Printf("%s: %s\n", session, ask)
		_ = ws.WriteJSON(map[string]any{"type": "_USER_SESSION", "data": map[string]string{"user": "ann", "session": session}})
		return ws
	}
	next := func(name string, ws *websocket.Conn) {
		_, f, err := ws.ReadMessage()
		if err != nil {
			panic(err)
		}
		// The epoch is random per process (see docs/protocol.md, Resume): shown as "…".
		fmt.Printf("%s: %s\n", name, epoch.ReplaceAll(f, []byte(`"epoch":"…"`)))
	}
	tab1 := tab("tab1")
	defer tab1.Close()
	next("tab1", tab1)
	tab2 := tab("tab2")
	defer tab2.Close()
	next("tab2", tab2)

	// Mutate under the object's lock; Update publishes the change as one _PATCH frame.
	_ = notes.Update(func(n *Notes) { n.Notes = append(n.Notes, "buy milk") })
	next("tab1", tab1)
	next("tab2", tab2)
	// Output:
	// tab1: {"type":"_REQUEST_USER_SESSION"}
	// tab1: {"type":"_SET:NOTES","data":{"title":"My Notes","notes":null},"v":0,"epoch":"…"}
	// tab2: {"type":"_REQUEST_USER_SESSION"}
	// tab2: {"type":"_SET:NOTES","data":{"title":"My Notes","notes":null},"v":0,"epoch":"…"}
	// tab1: {"type":"_PATCH:NOTES","data":[{"op":"replace","path":"/notes","value":["buy milk"]}],"v":1}
	// tab2: {"type":"_PATCH:NOTES","data":[{"op":"replace","path":"/notes","value":["buy milk"]}],"v":1}
}

// The README's quick start shows the program Example_quickStart runs and the frames it
// prints: a change to either without the other fails here.
func TestReadmeQuickStartMatchesExample(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, want := range []string{
		// the snippet, as Example_quickStart has it
		`notes, err := wssync.NewShared("NOTES", &Notes{Title: "My Notes"})`,
		`mgr := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {`,
		`return notes.Join(sess)`,
		`http.Handle("/ws", mgr)`,
		`notes.Update(func(n *Notes) { n.Notes = append(n.Notes, "buy milk") })`,
		// the frames of Example_quickStart's Output
		`{"type":"_REQUEST_USER_SESSION"}`,
		`{"type":"_SET:NOTES","data":{"title":"My Notes","notes":null},"v":0,"epoch":"…"}`,
		`{"type":"_PATCH:NOTES","data":[{"op":"replace","path":"/notes","value":["buy milk"]}],"v":1}`,
		"Example_quickStart",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %s", want)
		}
	}
}
