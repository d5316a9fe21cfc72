// Command wssync-gen writes TypeScript declarations for a wssync server: one interface per
// key's state (readonly on the fields clients may not write), the params and results of
// its actions, the params of its tasks, the data of custom events, and the list of keys.
//
// It reads the server's Schema as JSON, which the server prints with Session.Schema or,
// for a Manager whose factory builds each session's objects, Manager.Schema:
//
//	go run ./cmd/myserver -print-schema | go run github.com/wssync/wssync/cmd/wssync-gen -out web/src/wssync.gen.ts
//
// Flags: -in FILE reads the schema from FILE instead of standard input; -out FILE writes
// the declarations to FILE (only when they changed) instead of standard output.
// The output is a types-only module but for the `keys` constant; it starts with the
// "Code generated … DO NOT EDIT." line. Give its Keys and Events to typed() of
// @wssync/react for typed hooks.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wssync/wssync"
)

func main() {
	in := flag.String("in", "", "schema JSON to read (default: standard input)")
	out := flag.String("out", "", "TypeScript file to write (default: standard output)")
	flag.Parse()
	if err := run(*in, *out, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wssync-gen:", err)
		os.Exit(1)
	}
}

// run reads a schema from in (or stdin) and writes its TypeScript to out (or stdout).
func run(in, out string, stdin io.Reader, stdout io.Writer) error {
	var data []byte
	var err error
	if in == "" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(in)
	}
	if err != nil {
		return err
	}
	var sc wssync.Schema
	if err := json.Unmarshal(data, &sc); err != nil {
		return fmt.Errorf("reading the schema: %w", err)
	}
	ts, err := generate(&sc)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = io.WriteString(stdout, ts)
		return err
	}
	if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, []byte(ts)) {
		return nil // unchanged: keep the file's time, so watchers do not rebuild
	}
	return os.WriteFile(out, []byte(ts), 0o644)
}
