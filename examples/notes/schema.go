package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"

	"github.com/wssync/wssync"
)

// printSchema writes the schema of what a browser tab sees (the shared list and a tab's
// own view, their actions and tasks) as JSON, without serving: the Manager's factory runs
// on a dry-run session. cmd/wssync-gen turns it into web/src/wssync.gen.ts:
//
//	go run ./examples/notes -print-schema | go run ./cmd/wssync-gen -out examples/notes/web/src/wssync.gen.ts
func printSchema(w io.Writer) error {
	a, err := newApp(slog.New(slog.DiscardHandler), false, nil, "")
	if err != nil {
		return err
	}
	defer func() { _ = a.shutdown(context.Background()) }()
	sc, err := a.mgr.Schema(context.Background(), wssync.Identity{User: "schema", Session: "schema"})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sc)
}
