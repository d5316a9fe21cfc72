package main

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// dist is the UI built by Vite from web/ (`npm run build` there). It is committed, so
// `go run ./examples/notes` needs no Node; `make example-check` fails when it is stale.
//
//go:embed web/dist
var dist embed.FS

// assets serves the built UI. Files under /assets/ carry a content hash in their names and
// may be cached for good; index.html must be revalidated so a new build is picked up.
func assets() http.Handler {
	root, err := fs.Sub(dist, "web/dist")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
