// Command notes is the wssync example app: a notes list synced between a Go struct and the
// browser. Run it with `go run ./examples/notes` and open http://localhost:8080.
package main

import (
	"embed"
	"flag"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/wssync/wssync"
)

//go:embed static
var static embed.FS

// Notes is the synced state: the title is writable by the browser, the list is changed
// by the server only.
type Notes struct {
	Title string   `sync:"title,write"`
	Notes []string `sync:"notes"`
}

func main() {
	addr := flag.String("addr", envOr("ADDR", ":"+envOr("PORT", "8080")), "listen address (env ADDR, or PORT)")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	sess := wssync.NewSession(wssync.WithLogger(logger))
	notes := &Notes{Title: "My Notes", Notes: []string{"Try editing the title", "Open a second tab"}}
	synced, err := wssync.Register(sess, "NOTES", notes)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/ws", sess.ServeWS)
	mux.HandleFunc("POST /api/notes", func(w http.ResponseWriter, r *http.Request) {
		text := r.FormValue("text")
		if text == "" {
			http.Error(w, "text is required", http.StatusBadRequest)
			return
		}
		_ = synced.Update(func(n *Notes) { n.Notes = append(n.Notes, text) })
		w.WriteHeader(http.StatusNoContent)
	})
	root, _ := fs.Sub(static, "static")
	mux.Handle("/", http.FileServerFS(root))

	logger.Info("notes example listening", "addr", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
