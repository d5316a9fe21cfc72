package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/wssync/wssync/examples/notes-tail/tail"
	"github.com/wssync/wssync/internal/wstest"
)

// syncBuffer is a bytes.Buffer safe for the tail's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNotesTail runs the notes-tail command's body (package tail, a wsclient program)
// against this app: it prints the list, adds a note, prints what other tabs do, and
// follows the list through a dropped connection.
func TestNotesTail(t *testing.T) {
	a, srv := startServer(t)
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	ended := make(chan error, 1)
	go func() {
		ended <- tail.Run(ctx, tail.Config{URL: wstest.WSURL(srv.URL) + "/ws", Out: out, Add: "from the tail"})
	}()
	printed := func(what, s string) {
		t.Helper()
		wstest.Eventually(t, what+" printed", func() bool { return strings.Contains(out.String(), s) })
	}
	printed("the first list", "== Team notes (2 notes) ==\nn1   Edit the title: every tab sees it  (server)\n")
	printed("the added note", "* added n3\n")
	printed("the list with it", "n3   from the tail  (Guest ")

	// Another tab adds a note: the tail prints the list and the toast it gets.
	guest := dial(t, srv, "tab-user", "tab-session")
	request(t, guest, "_ACTION:NOTES", "1", map[string]any{"type": "add", "text": "from a tab"})
	printed("the other tab's note", "n4   from a tab  ("+guestName("tab-user")+")\n")
	printed("the toast", "* "+guestName("tab-user")+" added “from a tab”\n")

	// Every connection dropped and refused for a moment; the title changes meanwhile.
	res, err := http.Post(srv.URL+"/_test/drop?holdMs=200", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if err := a.share.Update(func(n *Notes) { n.Title = "Renamed while away" }); err != nil {
		t.Fatal(err)
	}
	printed("the disconnect", "# disconnected (")
	printed("the list after the reconnect", "== Renamed while away (4 notes) ==\n")
	printed("the reconnect", "# connected\n")

	cancel()
	if err := wstest.Receive(t, ended, "the tail's end"); err != nil {
		t.Fatalf("tail.Run = %v", err)
	}
}
