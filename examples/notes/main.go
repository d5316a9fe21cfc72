// Command notes is the wssync example app: a shared notes list kept in sync between a Go
// struct and every open browser tab, with a React UI (built from web/, embedded here).
//
//	go run ./examples/notes              # http://localhost:8080
//	go run ./examples/notes -port 9000   # or PORT=9000, or -addr 127.0.0.1:9000
//	go run ./examples/notes -redis 127.0.0.1:6379 -port 8081  # one of several servers
//	go run ./examples/notes -print-schema  # the schema web/src/wssync.gen.ts is generated from
//
// Open two tabs: edits, notes and toasts travel between them; the filter and the review
// task are private to each tab and survive a reload. Only a note's author may rename or
// remove it. The admin view (the link printed at start; NOTES_ADMIN_KEY sets its key)
// may change every note and sees an activity log that guests' tabs never receive.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync/wsredis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

func run() error {
	port := flag.Int("port", envInt("PORT", 8080), "port to listen on, all interfaces (env PORT)")
	addr := flag.String("addr", os.Getenv("ADDR"), "listen address host:port; wins over -port (env ADDR)")
	redisAddr := flag.String("redis", os.Getenv("REDIS_ADDR"), "Redis host:port: share the notes and sessions with every server using it (env REDIS_ADDR)")
	schema := flag.Bool("print-schema", false, "print the JSON Schema of the synced state, actions and tasks, then exit (input of cmd/wssync-gen)")
	flag.Parse()
	if *schema {
		return printSchema(os.Stdout)
	}
	if *addr == "" {
		*addr = ":" + strconv.Itoa(*port)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	hooks := os.Getenv("NOTES_TEST_HOOKS") == "1"
	var store scaleOut
	if *redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
		defer rdb.Close()
		b := wsredis.New(rdb, wsredis.Options{Logger: logger})
		defer b.Close()
		store = b
		logger.Info("sharing notes and sessions through Redis", "addr", *redisAddr)
	}
	// The admin key is read from the environment, never a flag: flags show in process lists.
	a, err := newApp(logger, hooks, store, os.Getenv("NOTES_ADMIN_KEY"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	if hooks {
		srv.ConnContext = a.hooks.connContext
		logger.Warn("test hooks enabled: POST /_test/drop can cut every connection")
	}
	// The e2e test reads this line to learn the port when it listens on :0.
	fmt.Printf("notes: listening on http://%s\n", browsable(ln.Addr()))
	fmt.Printf("notes: admin view at http://%s/#admin=%s\n", browsable(ln.Addr()), a.admin.key)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	// WebSockets are hijacked connections that http.Server.Shutdown does not see: the
	// Manager closes them (1001, so browsers reconnect later) and ends running tasks.
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(a.shutdown(sctx), srv.Shutdown(sctx))
}

// A Backend of wsredis is all the example needs to run on several servers.
var _ scaleOut = (*wsredis.Backend)(nil)

// browsable turns a listen address into one a browser can open (":8080" → "localhost:8080").
func browsable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort("localhost", port)
	}
	return tcp.String()
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}
