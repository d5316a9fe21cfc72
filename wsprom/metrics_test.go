package wsprom_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wsprom"
	"github.com/wssync/wssync/wssynctest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type room struct {
	Title string   `sync:"title"` // read-only for clients
	Notes []string `sync:"notes,write"`
}

// server is a Manager with metrics, mounted on a loopback server, and the metrics on
// another; every session joins room.
type server struct {
	mgr     *wssync.Manager
	ws      string // ws:// URL
	metrics string // http:// URL of /metrics
}

func newServer(t *testing.T, r *wssync.Synced[room]) *server {
	t.Helper()
	metrics := wsprom.New()
	mgr := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error { return r.Join(sess) },
		wssync.WithObserver(metrics.Observer()))
	metrics.Watch(mgr)
	metrics.WatchBackend(r)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	srv := &server{mgr: mgr, ws: wstest.Serve(t, mgr)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := mgr.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(hs.Close)
	srv.metrics = hs.URL
	return srv
}

// scrape GETs the metrics and returns each sample by its series as the text format
// prints it (`name{label="v"}`).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestScrapeAfterAScriptedSession: after two clients connect over real sockets, see a
// change, one writes a read-only field, one leaves, a third never identifies itself and the
// backend goes offline, the scrape shows each of it under its documented name.
func TestScrapeAfterAScriptedSession(t *testing.T) {
	store := wsmemory.New()
	r, err := wssync.NewShared("ROOM", &room{Title: "t"}, wssync.WithBackend(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Unregister)
	srv := newServer(t, r)

	a := wstest.Dial(t, srv.ws, wssynctest.WithIdentity("ann", "a"))
	b := wstest.Dial(t, srv.ws, wssynctest.WithIdentity("bob", "b"))
	for _, c := range []*wssynctest.Client{a, b} {
		wstest.WaitType(t, c, "_SET:ROOM")
	}
	if err := r.Update(func(v *room) { v.Notes = append(v.Notes, "one") }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wssynctest.Client{a, b} {
		wstest.WaitType(t, c, "_PATCH:ROOM")
	}
	_ = a.Patch("ROOM", wssynctest.Replace("/title", "mine")) // read-only: refused
	wstest.WaitType(t, a, "_ERROR")
	// the refusal's _SET; were it still queued at the offline change below, that change's
	// _SET would be the same frame, and the resync count one less
	wstest.WaitType(t, a, "_SET:ROOM")
	_ = b.Close()
	// until the server has seen b's close, the offline change below would resync b too,
	// and that write, racing the close, makes it count as another code
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if scrape(t, srv.metrics+"/metrics")[`wssync_closes_total{code="1000"}`] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never counted b's close")
		}
	}

	silent := wstest.RawDial(t, srv.ws, nil) // answers _REQUEST_USER_SESSION with a bad answer
	_, _, _ = silent.ReadMessage()
	_ = silent.WriteMessage(websocket.TextMessage, []byte(`{"type":"_USER_SESSION","data":{"user":"x","session":""}}`))
	if _, _, err := silent.ReadMessage(); err == nil {
		t.Fatal("a client without a session id was served")
	}

	store.SetUnavailable(true)
	if err := r.Update(func(v *room) { v.Notes = append(v.Notes, "two") }); err != nil {
		t.Fatal(err)
	}
	// The first change made while the backend is away starts a new epoch: a gets it as a _SET.
	if _, err := wssynctest.WaitState(wstest.Context(t), a, "ROOM", func(v room) bool { return len(v.Notes) == 2 }); err != nil {
		t.Fatal(err)
	}

	want := map[string]float64{
		"wssync_connections":                         1,
		"wssync_sessions":                            2,
		"wssync_sessions_created_total":              2,
		"wssync_frames_received_total":               1, // a's _PATCH (the handshake's frames are not counted)
		`wssync_errors_total{code="read_only"}`:      1,
		`wssync_closes_total{code="1000"}`:           1, // b
		`wssync_closes_total{code="1008"}`:           1, // the client without a session id
		"wssync_slow_consumer_closes_total":          0,
		"wssync_queued_frames":                       0,
		"wssync_sync_duration_seconds_count":         2,
		"wssync_sync_errors_total":                   0,
		"wssync_fanout_latency_seconds_count":        2, // the first change's patch, to a and b (the offline one comes as a _SET)
		`wssync_backend_offline{key="ROOM"}`:         1,
		`wssync_backend_commits_total{key="ROOM"}`:   2, // the initial state, the first change
		`wssync_backend_outages_total{key="ROOM"}`:   1,
		`wssync_backend_conflicts_total{key="ROOM"}`: 0,
		`wssync_messages_total{outcome="delivered"}`: 0,
		`wssync_resyncs_sent_total`:                  4, // a and b on connect, a after its refused write, a at the offline change
	}
	// Counts are added once frames are written: poll until they settle, then compare.
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = scrape(t, srv.metrics+"/metrics")
		if matches(got, want) {
			break
		}
	}
	for series, v := range want {
		if got[series] != v {
			t.Errorf("%s = %v, want %v", series, got[series], v)
		}
	}
	if t.Failed() {
		for _, f := range a.Frames() {
			t.Logf("a: %s %s", f.Type, f.Data)
		}
		for _, f := range b.Frames() {
			t.Logf("b: %s %s", f.Type, f.Data)
		}
	}
	if got["wssync_frames_sent_total"] < 6 || got["wssync_sent_bytes_total"] == 0 || got["wssync_received_bytes_total"] == 0 {
		t.Errorf("frames and bytes out: %v, %v; bytes in %v", got["wssync_frames_sent_total"], got["wssync_sent_bytes_total"], got["wssync_received_bytes_total"])
	}
	if got[`wssync_fanout_latency_seconds_bucket{le="+Inf"}`] != 2 {
		t.Errorf("fan-out histogram: +Inf bucket %v, want 2", got[`wssync_fanout_latency_seconds_bucket{le="+Inf"}`])
	}
}

func matches(got, want map[string]float64) bool {
	for series, v := range want {
		if got[series] != v {
			return false
		}
	}
	return true
}

// TestEveryMetricIsDocumented: every metric family a scrape shows is named in
// docs/operations.md.
func TestEveryMetricIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	store := wsmemory.New()
	r, err := wssync.NewShared("ROOM", &room{}, wssync.WithBackend(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Unregister)
	metrics := wsprom.New()
	metrics.WatchBackend(r)
	mgr := wssync.NewManager(func(context.Context, *wssync.Session) error { return nil })
	metrics.Watch(mgr)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := 0
	for _, f := range families {
		names++
		if !strings.Contains(string(doc), "`"+f.GetName()+"`") {
			t.Errorf("metric %s is not in docs/operations.md", f.GetName())
		}
	}
	// errors_total and closes_total have no series before the first error and close.
	if names < 30 {
		t.Errorf("%d metric families gathered; fewer than expected", names)
	}
}
