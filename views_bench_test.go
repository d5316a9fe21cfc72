package wssync_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/wssync/wssync"
)

// BenchmarkFanoutViews is BenchmarkFanout (see fanout_bench_test.go for the clients) for
// a shared object with views: N clients split evenly over 3 views, each hiding another
// part of a list of 20 members ("views=3"), against N clients of the same object without
// views ("views=0"), and N clients all in one filtering view ("views=1"). Each change
// renames a member, so every view filters the list and diffs it. The three servers run
// side by side and every op publishes one change on each, in turn, so that the load of
// the machine weighs on the three alike. Reported: the mean time from the publish to the
// last client's receipt, per server (ms-views=K), and the ratios of views=3 to the others.
//
//	go test -run '^$' -bench FanoutViews -benchtime 200x -count 2 .
func BenchmarkFanoutViews(b *testing.B) {
	const n = 1_000
	kinds := []int{0, 1, 3}
	envs := make([]*fanViews, len(kinds))
	for i, views := range kinds {
		var err error
		if envs[i], err = newFanViews(n, views); err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := envs[i].close(); err != nil {
				b.Errorf("closing the environment: %v", err)
			}
		}()
	}
	busy := make([]int64, len(kinds))
	b.ReportAllocs()
	b.ResetTimer()
	for it := 0; b.Loop(); it++ {
		for k := range kinds {
			i := (it + k) % len(kinds) // a different one goes first each time
			d, err := fanOnce(envs[i], n)
			if err != nil {
				b.Fatal(err)
			}
			busy[i] += d
		}
	}
	b.StopTimer()
	for i, e := range envs {
		if err := e.check(); err != nil {
			b.Fatal(err)
		}
		if s := e.fc.stray.Load(); s != 0 {
			b.Fatalf("%d frames arrived that were not the awaited change", s)
		}
		b.ReportMetric(float64(busy[i])/float64(b.N)/1e6, fmt.Sprintf("ms-views=%d", kinds[i]))
	}
	b.ReportMetric(float64(busy[2])/float64(busy[0]), "x-vs-none")
	b.ReportMetric(float64(busy[2])/float64(busy[1]), "x-vs-one")
}

// fanOnce publishes one change on e and returns the time until its last client had it.
func fanOnce(e *fanViews, n int) (int64, error) {
	fc := e.fc
	v := e.prepare()
	fc.left.Store(int64(n))
	fc.expect.Store(v)
	t0 := time.Since(fc.base).Nanoseconds()
	if err := e.publish(v); err != nil {
		return 0, err
	}
	select {
	case <-fc.done:
	case <-time.After(fanTimeout):
		return 0, fmt.Errorf("change v%d: %d of %d clients did not receive it in %v", v, fc.left.Load(), n, fanTimeout)
	}
	last := t0
	for _, r := range fc.recv {
		last = max(last, r)
	}
	return last - t0, nil
}

type fanMember struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
	Notes string `json:"notes"`
}

type fanViewRoom struct {
	Topic   string      `sync:"topic"`
	N       int         `sync:"n"`
	Members []fanMember `sync:"members"`
	Audit   []string    `sync:"audit"`
}

// fanViewSets are the views of the benchmark: one filtering view, or three.
var fanViewSets = map[int][]wssync.View{
	1: {{Name: "v0", Hide: []string{"/members/*/email", "/audit"}}},
	3: {
		{Name: "v0", Hide: []string{"/members/*/email", "/audit"}},
		{Name: "v1", Hide: []string{"/members/*/phone"}},
		{Name: "v2", Hide: []string{"/members/*/notes", "/members/*/email"}},
	},
}

type fanViews struct {
	m      *wssync.Manager
	srv    *httptest.Server
	shared *wssync.Synced[fanViewRoom]
	fc     *fanClients
	before wssync.Stats
}

// newFanViews serves a fanViewRoom with views (0: none) to n sessions; client i asks for
// view i%views through its URL.
func newFanViews(n, views int) (*fanViews, error) {
	room := &fanViewRoom{Topic: "fan-out", Audit: []string{"a", "b"}}
	for i := range 20 {
		s := strconv.Itoa(i)
		room.Members = append(room.Members, fanMember{Name: "m" + s, Email: s + "@example.com", Phone: "+1 555 " + s, Notes: "note " + s})
	}
	var opts []wssync.RegisterOption
	if views > 0 {
		opts = append(opts, wssync.WithViews(func(id wssync.Identity) string { return id.Roles[0] }, fanViewSets[views]...))
	}
	shared, err := wssync.NewShared("ROOM", room, opts...)
	if err != nil {
		return nil, err
	}
	e := &fanViews{shared: shared}
	e.m = wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return shared.Join(sess)
	}, wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		id := rand.Text()
		return wssync.Identity{User: id, Session: id, Roles: []string{r.URL.Query().Get("view")}}, nil
	}), wssync.WithLimits(wssync.Limits{RatePerSecond: -1}), wssync.WithManagerLimits(wssync.ManagerLimits{MaxConnsPerUser: 1 << 30}))
	e.srv = httptest.NewServer(http.HandlerFunc(e.m.ServeWS))
	urls := []string{fanURL(e.srv) + "?view=v0"}
	for i := 1; i < views; i++ {
		urls = append(urls, fanURL(e.srv)+"?view=v"+strconv.Itoa(i))
	}
	if e.fc, err = dialFanClientsAcross(urls, n, 1); err != nil {
		_ = shutdownFanManager(e.m, e.srv)
		return nil, err
	}
	if st := e.m.Stats(); st.Connections != int64(n) {
		_ = e.close()
		return nil, fmt.Errorf("%d connections, want %d", st.Connections, n)
	}
	// The writer counts a _SET once it is written, maybe after the client read it.
	for deadline := time.Now().Add(fanTimeout); e.m.Stats().Resyncs < int64(n) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	e.before = e.m.Stats()
	return e, nil
}

func (e *fanViews) clients() *fanClients { return e.fc }
func (e *fanViews) prepare() uint64      { return e.shared.Version() + 1 }

func (e *fanViews) publish(v uint64) error {
	return e.shared.Update(func(r *fanViewRoom) {
		r.N = int(v)
		r.Members[int(v)%len(r.Members)].Name = "m" + strconv.FormatUint(v, 10)
	})
}

func (e *fanViews) check() error {
	st := e.m.Stats()
	if st.SlowDrops != e.before.SlowDrops || st.SlowCloses != 0 || st.Resyncs != e.before.Resyncs {
		return fmt.Errorf("slow-client handling kicked in: %+v", st)
	}
	return nil
}

func (e *fanViews) close() error {
	err := shutdownFanManager(e.m, e.srv)
	e.fc.close()
	return err
}
