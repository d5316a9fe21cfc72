package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
)

// app is the example server: the shared list, who is online, and the Managers that give
// every browser tab its session.
type app struct {
	log    *slog.Logger
	notes  *Notes
	share  *wssync.Synced[Notes]
	online *wspresence.Presence // every connected tab, with its display name and typing flag
	mgr    *wssync.Manager      // the guests' tabs, identified by the handshake
	admin  *admin
	adm    *wssync.Manager           // the admins' tabs, identified by a token (see admin.go)
	hooks  *testHooks                // nil unless NOTES_TEST_HOOKS=1
	echo   *wssync.Synced[EchoBoard] // with the test hooks only
}

// newApp builds the shared list, the online list and the Managers. With testHooks, the
// WebSocket route records its connections so the end-to-end test can drop them (see
// testhooks.go). With a store (-redis), the list, every tab's session and who is online
// live in it, and toasts travel through it, so several servers behind one load balancer
// serve the same notes and a tab may reconnect to any of them. Without one, an in-memory
// store connects the two Managers: a toast from a guest's tab reaches the admins' too.
//
// adminKey is what #admin= must carry to open the admin view; empty gets a random key
// (a.admin.key).
func newApp(logger *slog.Logger, withTestHooks bool, store scaleOut, adminKey string) (*app, error) {
	a := &app{log: logger, notes: newNotes()}
	var err error
	if a.admin, err = newAdmin(adminKey); err != nil {
		return nil, err
	}
	// Admins and guests share one object but not one view: a guest's frames never carry
	// the activity log.
	shareOpts := []wssync.RegisterOption{wssync.WithViews(viewOf, listViews...)}
	mgrOpts := []wssync.ManagerOption{wssync.WithLogger(logger)}
	var bus wssync.EventBus
	var presence wspresence.Store
	if store != nil {
		shareOpts = append(shareOpts, wssync.WithBackend(store))
		mgrOpts = append(mgrOpts, wssync.WithSessionStore(store))
		bus, presence = store, store
	} else {
		mem := wsmemory.New()
		bus, presence = mem, mem
	}
	mgrOpts = append(mgrOpts, wssync.WithEventBus(bus))
	a.notes.renamed = logRenames(func() *wssync.Synced[Notes] { return a.share })
	if a.share, err = wssync.NewShared("NOTES", a.notes, shareOpts...); err != nil {
		return nil, err
	}
	if err := registerNoteActions(a.share, a.toastOthers); err != nil {
		return nil, err
	}
	if a.online, err = newOnline(presence); err != nil {
		a.share.Unregister()
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
	name := displayName(sess.Identity())
	if err := a.share.Join(sess); err != nil {
		return err
	}
	if err := a.online.Join(sess); err != nil {
		return err
	}
	// The name is the server's; "typing" belongs to a connection: a tab reloaded while
	// its field had text starts out not typing.
	reset := func() error { return a.online.SetMeta(sess, onlineMeta{Name: name}) }
	sess.OnConnect(func(context.Context) { _ = reset() })
	if err := reset(); err != nil {
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
// Backend, or wsmemory's Backend in tests. It keeps the list, the sessions and who is
// online, and carries the toasts between servers.
type scaleOut interface {
	wssync.Backend
	wssync.SessionStore
	wssync.EventBus
	wspresence.Store
}

// toastOthers sends text as an info toast to every tab of the list, on every server and
// of both Managers, but the one whose handler runs with ctx. A toast is transient: a tab
// that is disconnected does not get it later (it sees the change in its state, which is
// what matters).
func (a *app) toastOthers(ctx context.Context, text string) {
	msg, err := wssync.NewToast(wssync.ToastInfo, text)
	if err != nil {
		return
	}
	var except string
	if caller, ok := wssync.SessionFrom(ctx); ok {
		except = caller.Identity().Session
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Either Manager reaches both: its own tabs here, and the other's through the bus.
	d, err := a.mgr.Send(ctx, wssync.ToSubscribers("NOTES").Except(except), msg.Transient())
	if err != nil {
		a.log.Warn("notes: a toast may not have reached every server", "err", err, "delivery", fmt.Sprintf("%+v", d))
	}
}

// shutdown closes every WebSocket with 1001 (going away), cancels running reviews, takes
// this server's tabs off the online list and ends the shared list's subscription to the
// store.
func (a *app) shutdown(ctx context.Context) error {
	err := errors.Join(a.mgr.Shutdown(ctx), a.adm.Shutdown(ctx))
	a.online.Close()
	a.share.Unregister()
	return err
}
