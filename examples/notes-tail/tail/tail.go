// Package tail is the body of the notes-tail command: it follows the notes example's
// shared list with package wsclient and prints it on every change. It is a package of its
// own so the notes example's tests can run it against the real app in-process.
package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/wssync/wssync/wsclient"
)

// Notes is the notes example's NOTES key as a guest receives it: json tags name the wire
// names (the server's sync tags). Members the guest's view hides are absent.
type Notes struct {
	Title string `json:"title"`
	Notes []Note `json:"notes"`
}

// Note is one entry of the list.
type Note struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Author string `json:"author"`
}

// Config configures Run. URL and Out are required.
type Config struct {
	URL    string       // the notes example's WebSocket, e.g. ws://127.0.0.1:8080/ws
	Out    io.Writer    // where the list is printed
	Add    string       // if not empty, a note added once the list has arrived
	Logger *slog.Logger // connection events; nil: none
	// Ready, if not nil, is called once the first list has been printed (for tests).
	Ready func()
}

// dialTimeout bounds the first connection; later reconnects are the client's own.
const dialTimeout = 30 * time.Second

// Run connects, prints the list each time it changes (and each toast, and "# " lines when
// the connection ends and comes back), and returns nil
// when ctx ends, or an error when the connection cannot be made or ends for good.
func Run(ctx context.Context, cfg Config) error {
	opts := []wsclient.Option{}
	if cfg.Logger != nil {
		opts = append(opts, wsclient.WithLogger(cfg.Logger))
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	c, err := wsclient.Dial(dctx, cfg.URL, opts...)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer c.Close()
	notes, err := wsclient.Bind[Notes](c, "NOTES")
	if err != nil {
		return err
	}
	// Toasts are printed from the dispatcher; the list from this goroutine. Both write
	// through out, which serializes them.
	out := &lockedWriter{w: cfg.Out}
	c.OnToast(func(t wsclient.Toast) { fmt.Fprintf(out, "* %s\n", t.Message) })
	c.OnStatus(func(st wsclient.Status) {
		if st.Connected {
			fmt.Fprintln(out, "# connected")
		} else {
			fmt.Fprintf(out, "# disconnected (%v), reconnecting\n", st.Err)
		}
	})

	first, err := notes.Wait(ctx, nil)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	last := Render(first)
	fmt.Fprint(out, last)
	if cfg.Ready != nil {
		cfg.Ready()
	}
	if cfg.Add != "" {
		note, err := wsclient.Call[Note](ctx, c, "NOTES", "add", map[string]string{"text": cfg.Add})
		if err != nil {
			return ignoreCancel(ctx, fmt.Errorf("adding a note: %w", err))
		}
		fmt.Fprintf(out, "* added %s\n", note.ID)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return c.Err()
		case <-notes.Changes():
			if s := Render(notes.Get()); s != last {
				last = s
				fmt.Fprint(out, s)
			}
		}
	}
}

// Render formats the list: a header line with the title, then one line per note.
func Render(n Notes) string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s (%d notes) ==\n", n.Title, len(n.Notes))
	for _, note := range n.Notes {
		fmt.Fprintf(&b, "%-4s %s  (%s)\n", note.ID, note.Text, note.Author)
	}
	return b.String()
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}
