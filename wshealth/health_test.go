package wshealth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wshealth"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func get(t *testing.T, url string) (int, wshealth.Report) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep wshealth.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rep
}

// TestReadiness: ready while the Manager serves, its watched backend is reachable and its
// checks pass; not ready (503, naming the cause) while the backend is offline, a check
// fails, or once Shutdown has begun. Live stays 200 throughout.
func TestReadiness(t *testing.T) {
	type state struct {
		N int `sync:"n"`
	}
	store := wsmemory.New()
	room, err := wssync.NewShared("ROOM", &state{}, wssync.WithBackend(store))
	if err != nil {
		t.Fatal(err)
	}
	defer room.Unregister()
	mgr := wssync.NewManager(func(_ context.Context, s *wssync.Session) error { return room.Join(s) })
	wsURL := wstest.Serve(t, mgr)
	var pingErr atomic.Pointer[error] // the check's answer; nil: ok
	h := wshealth.New(mgr)
	h.WatchBackend(room)
	h.AddCheck("store", func(context.Context) error {
		if e := pingErr.Load(); e != nil {
			return *e
		}
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/livez", h.Live())
	mux.Handle("/readyz", h.Ready())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := wstest.Dial(t, wsURL, wssynctest.WithIdentity("u", "s"))
	wstest.WaitType(t, c, "_SET:ROOM")
	if code, rep := get(t, srv.URL+"/readyz"); code != 200 || rep.Status != "ok" || rep.Checks["backend:ROOM"] != "ok" || rep.Checks["shutdown"] != "ok" {
		t.Errorf("serving: %d %+v, want 200 ok", code, rep)
	}

	store.SetUnavailable(true)
	_ = room.Update(func(s *state) { s.N++ }) // finds the backend gone
	if code, rep := get(t, srv.URL+"/readyz"); code != 503 || rep.Checks["backend:ROOM"] != "offline" {
		t.Errorf("backend offline: %d %+v, want 503 naming the backend", code, rep)
	}
	store.SetUnavailable(false)
	wstest.Eventually(t, "the backend back", func() bool { return !room.BackendStatus().Offline })

	refused := errors.New("connection refused")
	pingErr.Store(&refused)
	if code, rep := get(t, srv.URL+"/readyz"); code != 503 || rep.Checks["store"] != "connection refused" {
		t.Errorf("failing check: %d %+v, want 503 with the check's error", code, rep)
	}
	pingErr.Store(nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mgr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, rep := get(t, srv.URL+"/readyz"); code != 503 || rep.Checks["shutdown"] != "shutting down" {
		t.Errorf("after Shutdown: %d %+v, want 503 shutting down", code, rep)
	}
	if code, rep := get(t, srv.URL+"/livez"); code != 200 || rep.Status != "ok" {
		t.Errorf("live after Shutdown: %d %+v, want 200", code, rep)
	}
}
