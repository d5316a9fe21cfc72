package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/wssync/wssync"
)

// app is the example server: the shared list, who is in the room, and the Manager that
// gives every browser tab its session.
type app struct {
	notes *Notes
	share *wssync.Synced[Notes]
	room  *room
	mgr   *wssync.Manager // the guests' tabs, identified by the handshake
	admin *admin
	adm   *wssync.Manager           // the admins' tabs, identified by a token (see admin.go)
	hooks *testHooks                // nil unless NOTES_TEST_HOOKS=1
	echo  *wssync.Synced[EchoBoard] // with the test hooks only
}

// newApp builds the shared list and the Manager. With testHooks, the WebSocket route
// records its connections so the end-to-end test can drop them (see testhooks.go). With a
// store (-redis), the list and every tab's session live in it, so several servers behind
// one load balancer serve the same notes and a tab may reconnect to any of them.
//
// adminKey is what #admin= must carry to open the admin view; empty gets a random key
// (a.admin.key).
func newApp(logger *slog.Logger, withTestHooks bool, store scaleOut, adminKey string) (*app, error) {
	a := &app{notes: newNotes(), room: newRoom()}
	var err error
	if a.admin, err = newAdmin(adminKey); err != nil {
		return nil, err
	}
	// Admins and guests share one object but not one view: a guest's frames never carry
	// the activity log.
	shareOpts := []wssync.RegisterOption{wssync.WithViews(viewOf, listViews...)}
	mgrOpts := []wssync.ManagerOption{wssync.WithLogger(logger)}
	if store != nil {
		shareOpts = append(shareOpts, wssync.WithBackend(store))
		mgrOpts = append(mgrOpts, wssync.WithSessionStore(store))
	}
	if a.share, err = wssync.NewShared("NOTES", a.notes, shareOpts...); err != nil {
		return nil, err
	}
	if err := registerNoteActions(a.share, a.room); err != nil {
		return nil, err
	}
	// No WithAuth and no WithAnonymousSessions: the Manager asks each connection for its
	// ids with `_REQUEST_USER_SESSION`, which the React SessionProvider's wsAuth answers
	// from sessionStorage, so a reloaded tab gets its session (and its View) back.
	a.mgr = wssync.NewManager(a.newSession, mgrOpts...)
	a.adm = wssync.NewManager(a.newSession, append(mgrOpts, a.admin.options()...)...)
	if withTestHooks {
		a.hooks = newTestHooks(a.mgr)
		if a.echo, err = newEchoBoard(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// newSession is the Manager's session factory: it runs once per session id. ctx is the session's
// context, cancelled when the session closes.
func (a *app) newSession(ctx context.Context, sess *wssync.Session) error {
	name := a.room.join(sess)
	sess.OnClose(func(context.Context) { a.room.leave(sess) })
	if err := a.share.Join(sess); err != nil {
		return err
	}
	if a.echo != nil {
		if err := a.echo.Join(sess); err != nil {
			return err
		}
	}
	return registerView(sess, name, a.notes, a.share)
}

// handler routes the WebSocket, the embedded UI and, when enabled, the test hooks.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	var ws http.Handler = http.HandlerFunc(a.mgr.ServeWS)
	if a.hooks != nil {
		ws = a.hooks.track(ws)
		a.hooks.routes(mux)
	}
	mux.Handle("/ws", ws)
	mux.HandleFunc("/ws-admin", a.adm.ServeWS)
	mux.HandleFunc("POST /api/admin-token", a.admin.serveToken)
	mux.Handle("/", assets())
	return mux
}

// scaleOut is what the example needs of a store to run on several servers: wsredis's
// Backend, or wsmemory's Backend in tests.
type scaleOut interface {
	wssync.Backend
	wssync.SessionStore
}

// shutdown closes every WebSocket with 1001 (going away), cancels running reviews and
// ends the shared list's subscription to the store.
func (a *app) shutdown(ctx context.Context) error {
	err := errors.Join(a.mgr.Shutdown(ctx), a.adm.Shutdown(ctx))
	a.share.Unregister()
	return err
}
