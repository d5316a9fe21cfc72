// Command authserver is the end-to-end tests' server for token authentication: a wssync
// Manager that identifies each connection by an HS256 token (package wsauth) and takes
// fresh tokens over the socket. The secret comes from the environment, never a flag (flags
// show in process lists):
//
//	WSSYNC_E2E_SECRET=... go run ./e2e/authserver -addr 127.0.0.1:0
//
// It serves an empty page at / (so a browser page has the server's origin) and the
// WebSocket at /ws, where each session holds one key, PROFILE: {"user": the token's
// subject, "roles": its roles}. It prints "listening on http://ADDR" once it listens.
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
	"syscall"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsauth"
)

// Profile is what a session sees of its identity.
type Profile struct {
	User  string   `json:"user"`
	Roles []string `json:"roles"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	secret := os.Getenv("WSSYNC_E2E_SECRET")
	v, err := wsauth.New(wsauth.Config{
		Keys:         wsauth.HMACKey([]byte(secret)),
		Algorithms:   []string{wsauth.HS256},
		Issuer:       "wssync-e2e",
		Audience:     "wssync-e2e",
		SessionClaim: "sid",
	})
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		id := sess.Identity()
		_, err := wssync.Register(sess, "PROFILE", &Profile{User: id.User, Roles: id.Roles})
		return err
	}, wssync.WithAuth(v.Auth), wssync.WithTokenRefresh(v.Refresh), wssync.WithLogger(logger))
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", m.ServeWS)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>wssync auth e2e</title>"))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(shut)
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped
	return nil
}
