package wsredis_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// costBoard is the shared object of the cost test: a list of notes of ~2 KiB in all, and
// a counter each change increments.
type costBoard struct {
	Count int      `sync:"count"`
	Notes []string `sync:"notes"`
}

// costDoc is each session's own object, stored in the session store.
type costDoc struct {
	Draft string `sync:"draft,write"`
}

func count(o *wssync.Synced[costBoard]) (n int) {
	o.Read(func(b *costBoard) { n = b.Count })
	return n
}

// countingHook counts the commands a go-redis client sends, by name (a pipeline's
// commands one by one). Redis's own commandstats also count the commands a script runs.
type countingHook struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd)
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.add(c)
		}
		return next(ctx, cmds)
	}
}

func (h *countingHook) add(cmd redis.Cmder) {
	h.mu.Lock()
	h.counts[strings.ToLower(cmd.Name())]++
	h.mu.Unlock()
}

func (h *countingHook) reset() {
	h.mu.Lock()
	clear(h.counts)
	h.mu.Unlock()
}

func (h *countingHook) snapshot() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	total := 0
	for _, n := range h.counts {
		total += n
	}
	return maps.Clone(h.counts), total
}

// redisStats is what Redis counted since the last CONFIG RESETSTAT.
type redisStats struct {
	commands int64              // total_commands_processed
	in, out  int64              // total_net_input_bytes, total_net_output_bytes
	perCmd   map[string]int64   // cmdstat_<name> calls
	usec     map[string]float64 // cmdstat_<name> usec_per_call: Redis's CPU per call
}

func readStats(t *testing.T, admin *redis.Client) redisStats {
	t.Helper()
	info, err := admin.Info(context.Background(), "stats", "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	s := redisStats{perCmd: map[string]int64{}, usec: map[string]float64{}}
	for _, line := range strings.Split(info, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch name {
		case "total_commands_processed":
			s.commands, _ = strconv.ParseInt(value, 10, 64)
		case "total_net_input_bytes":
			s.in, _ = strconv.ParseInt(value, 10, 64)
		case "total_net_output_bytes":
			s.out, _ = strconv.ParseInt(value, 10, 64)
		default:
			if cmd, ok := strings.CutPrefix(name, "cmdstat_"); ok {
				calls, rest, _ := strings.Cut(strings.TrimPrefix(value, "calls="), ",")
				s.perCmd[cmd], _ = strconv.ParseInt(calls, 10, 64)
				if _, after, ok := strings.Cut(rest, "usec_per_call="); ok {
					usec, _, _ := strings.Cut(after, ",")
					s.usec[cmd], _ = strconv.ParseFloat(usec, 64)
				}
			}
		}
	}
	return s
}

func (s redisStats) String() string {
	return fmt.Sprintf("%d commands, %d B in, %d B out, %v", s.commands, s.in, s.out, s.perCmd)
}

// TestRedisCost measures what Redis does per change of a shared object and per
// connection, on three nodes of one real redis-server, as docs/scale-out.md "Capacity"
// quotes it (`go test -run TestRedisCost -v ./wsredis`). Redis counts every command
// and byte itself (INFO stats and commandstats after CONFIG RESETSTAT), so the figures do
// not depend on the machine's load; health pings are off during the measurement. The
// assertions are the bounds that section promises.
func TestRedisCost(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := wstest.Context(t)
	const nodes, changes, connects = 3, 200, 50
	const key = "COSTBOARD"

	notes := make([]string, 32)
	for i := range notes {
		notes[i] = strings.Repeat(strconv.Itoa(i%10), 60)
	}
	sent := &countingHook{counts: map[string]int{}}
	var objs []*wssync.Synced[costBoard]
	var urls []string
	for range nodes {
		// an hour of HealthInterval: no pings on the subscription during the measurement
		client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		client.AddHook(sent)
		b := closing(t, client, wsredis.Options{HealthInterval: time.Hour})
		s, err := wssync.NewShared(key, &costBoard{Notes: notes}, wssync.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Unregister)
		objs = append(objs, s)
		m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
			if _, err := wssync.Register(sess, "DOC", &costDoc{}); err != nil {
				return err
			}
			return s.Join(sess)
		}, wssync.WithSessionStore(b))
		urls = append(urls, wstest.Serve(t, http.HandlerFunc(m.ServeWS)))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = m.Shutdown(ctx)
		})
	}
	// every node has loaded the object; wait until the first Updates went through
	if err := objs[0].Update(func(b *costBoard) { b.Count = -1 }); err != nil {
		t.Fatal(err)
	}
	waitCount := func(want int) {
		t.Helper()
		for _, o := range objs {
			for count(o) != want {
				if ctx.Err() != nil {
					t.Fatalf("a node never saw count %d", want)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	waitCount(-1)

	// Changes: one node increments, every node applies it.
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	sent.reset()
	for i := range changes {
		if err := objs[i%nodes].Update(func(b *costBoard) { b.Count = i }); err != nil {
			t.Fatal(err)
		}
		waitCount(i)
	}
	ch := readStats(t, admin)
	chSent, chTotal := sent.snapshot()
	stateBytes := len(fmt.Sprint(notes))
	t.Logf("per change of a %d B state, %d nodes: %.2f commands sent (%v), %.0f B in, %.0f B out, %.1f µs of Redis CPU in the script; inside Redis: %s",
		stateBytes, nodes, float64(chTotal)/changes, chSent, float64(ch.in)/changes, float64(ch.out)/changes, ch.usec["evalsha"], ch)
	if chTotal != changes || chSent["evalsha"] != changes {
		t.Errorf("%d changes sent %v; docs promise one script call each", changes, chSent)
	}
	if in := float64(ch.in) / changes; in > float64(stateBytes)+1024 {
		t.Errorf("a change sends %.0f B to Redis; docs promise the state (%d B) plus under 1 KiB", in, stateBytes)
	}

	// Connections: a fresh session connects (its user binding and its own object are
	// stored), gets its state, and closes.
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	sent.reset()
	for i := range connects {
		c, err := wssynctest.Dial(ctx, urls[i%nodes], wssynctest.WithIdentity("user"+strconv.Itoa(i), "sess"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, _, doc := c.State("DOC")
			_, _, board := c.State(key)
			if doc && board {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("connection %d: no _SET of both keys", i)
			}
			time.Sleep(time.Millisecond)
		}
		_ = c.Close()
	}
	time.Sleep(200 * time.Millisecond) // let the closes reach their nodes
	cn := readStats(t, admin)
	cnSent, cnTotal := sent.snapshot()
	perConnect := float64(cnTotal) / connects
	var connectUsec float64
	for cmd, n := range cn.perCmd {
		connectUsec += cn.usec[cmd] * float64(n) / connects
	}
	t.Logf("per connect+close of a new session: %.2f commands sent (%v), %.0f B in, %.0f B out, %.1f µs of Redis CPU; inside Redis: %s",
		perConnect, cnSent, float64(cn.in)/connects, float64(cn.out)/connects, connectUsec, cn)
	if perConnect > 6 {
		t.Errorf("a connection sends %.2f Redis commands; docs promise at most 6", perConnect)
	}

	// Writes to a session's own object: each published state is stored whole.
	c, err := wssynctest.Dial(ctx, urls[0], wssynctest.WithIdentity("writer", "writer-session"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wstest.WaitType(t, c, "_SET:DOC")
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	sent.reset()
	const writes = 100
	for i := range writes {
		id := "w" + strconv.Itoa(i)
		if err := c.PatchWith("DOC", wssynctest.WriteOpts{ID: id}, wssynctest.Replace("/draft", strings.Repeat("x", 200)+id)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitResult(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	wr := readStats(t, admin)
	wrSent, wrTotal := sent.snapshot()
	t.Logf("per acknowledged write to a session's own ~220 B object: %.2f commands sent (%v), %.0f B in, %.0f B out, %.1f µs of Redis CPU in the script",
		float64(wrTotal)/writes, wrSent, float64(wr.in)/writes, float64(wr.out)/writes, wr.usec["evalsha"])
	// (an EVAL once, where the script was not loaded yet: go-redis falls back to it)
	if wrSent["evalsha"] != writes || wrTotal > writes+1 {
		t.Errorf("%d writes to a session's own object sent %v; docs promise one command each", writes, wrSent)
	}
}
