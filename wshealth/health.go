// Package wshealth serves liveness and readiness endpoints for a wssync server, for a
// load balancer or an orchestrator's probes. It depends on nothing but wssync and the
// standard library (it is apart from wsprom so that a server without Prometheus can use it).
//
//	health := wshealth.New(mgr)
//	health.WatchBackend(room)                                    // ready only while room's backend is reachable
//	health.AddCheck("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
//	http.Handle("/livez", health.Live())
//	http.Handle("/readyz", health.Ready())
//
// Live answers 200 while the process serves HTTP: a failing backend is no reason to
// restart a process, which would not bring the backend back. Ready answers 503 once the
// Manager's Shutdown has begun (so a load balancer stops sending it connections while the
// others drain), while a watched object's backend is offline, or while a check fails; 200
// otherwise. Both answer a JSON object naming each check's state.
package wshealth

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/wssync/wssync"
)

// CheckTimeout bounds one run of a check added with AddCheck.
const CheckTimeout = 2 * time.Second

// ShutdownReporter is what Ready asks whether the server is shutting down: a *wssync.Manager.
type ShutdownReporter interface {
	ShuttingDown() bool
}

// BackendReporter is an object whose backend link is checked: any *wssync.Synced[T].
type BackendReporter interface {
	Key() string
	BackendStatus() wssync.BackendStatus
}

// Health holds the readiness conditions. Its methods are safe for concurrent use.
type Health struct {
	mgr ShutdownReporter // nil: never shutting down

	mu       sync.Mutex
	backends []BackendReporter
	checks   []check
}

type check struct {
	name string
	fn   func(ctx context.Context) error
}

// New returns the health of a server whose Manager is mgr (nil for none: readiness then
// depends on the watched backends and checks only).
func New(mgr ShutdownReporter) *Health {
	return &Health{mgr: mgr}
}

// WatchBackend makes readiness fail while obj's backend (wssync.WithBackend) is offline.
func (h *Health) WatchBackend(obj BackendReporter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.backends = append(h.backends, obj)
}

// AddCheck makes readiness fail while fn returns an error (a session store's or event
// bus's ping, say). fn runs at every readiness request, with a ctx bounded by CheckTimeout
// and by the request.
func (h *Health) AddCheck(name string, fn func(ctx context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, check{name, fn})
}

// Report is the body of both endpoints.
type Report struct {
	Status string            `json:"status"` // "ok" or "unavailable"
	Checks map[string]string `json:"checks"` // each condition: "ok", or why it fails
}

// Live returns the liveness handler: 200 and {"status":"ok"} while the process answers.
func (h *Health) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write(w, Report{Status: "ok", Checks: map[string]string{}})
	})
}

// Ready returns the readiness handler: 200 when every condition holds, else 503, with a
// Report either way.
func (h *Health) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write(w, h.Check(r.Context()))
	})
}

// Check evaluates readiness, as Ready does.
func (h *Health) Check(ctx context.Context) Report {
	h.mu.Lock()
	backends, checks := slices.Clone(h.backends), slices.Clone(h.checks)
	h.mu.Unlock()
	rep := Report{Status: "ok", Checks: map[string]string{}}
	set := func(name, state string) {
		rep.Checks[name] = state
		if state != "ok" {
			rep.Status = "unavailable"
		}
	}
	if h.mgr != nil {
		state := "ok"
		if h.mgr.ShuttingDown() {
			state = "shutting down"
		}
		set("shutdown", state)
	}
	for _, b := range backends {
		state := "ok"
		if b.BackendStatus().Offline {
			state = "offline"
		}
		set("backend:"+b.Key(), state)
	}
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
		err := c.fn(cctx)
		cancel()
		state := "ok"
		if err != nil {
			state = err.Error()
		}
		set(c.name, state)
	}
	return rep
}

func write(w http.ResponseWriter, rep Report) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}
