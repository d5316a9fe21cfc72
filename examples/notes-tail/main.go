// Command notes-tail connects to the notes example as a guest and prints the shared list
// every time it changes, with the toasts other tabs cause. It is a small wsclient
// program: a typed binding of the NOTES key, kept current across reconnects.
//
//	go run ./examples/notes &               # the server, http://localhost:8080
//	go run ./examples/notes-tail            # prints the notes as they change; Ctrl-C ends it
//	go run ./examples/notes-tail -add "Buy milk"  # adds a note first
//	go run ./examples/notes-tail -url ws://127.0.0.1:9000/ws
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/wssync/wssync/examples/notes-tail/tail"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/ws", "WebSocket URL of the notes example")
	add := flag.String("add", "", "add a note with this text, then keep printing")
	verbose := flag.Bool("v", false, "log connects, disconnects and retries to stderr")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	err := tail.Run(ctx, tail.Config{URL: *url, Out: os.Stdout, Add: *add, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notes-tail:", err)
		os.Exit(1)
	}
}
