package wssync

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

type raceUserDoc struct {
	N int `sync:"n"`
}

// Many sessions of one user register, use and close the user's object at once, round after
// round: every object built is freed exactly once, never while a session that got it is
// open, and a session after a free gets a fresh one. Run with -race.
func TestRegisterUserConcurrentJoinsAndLeaves(t *testing.T) {
	u := newUserObjects()
	cfg := newSessionConfig(nil)
	var built atomic.Int64
	var mu sync.Mutex
	objects := map[*Synced[raceUserDoc]]bool{}
	for round := range 40 {
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sess := newSession(&cfg, newMetrics(), Identity{User: "ann", Session: "s"})
				sess.users = u
				defer sess.Close()
				s, err := RegisterUser(sess, "DOC", func(context.Context) (*raceUserDoc, error) {
					built.Add(1)
					if g == 3 && round%5 == 0 {
						return nil, errors.New("build failed")
					}
					return &raceUserDoc{}, nil
				})
				if err != nil {
					return // a failed build, reported to whoever waited for it
				}
				mu.Lock()
				objects[s] = true
				mu.Unlock()
				if again, err := RegisterUser(sess, "DOC", func(context.Context) (*raceUserDoc, error) {
					t.Error("a holder's second call built again")
					return nil, nil
				}); err != nil || again != s {
					t.Errorf("a second call by the same session: %v, %v", again == s, err)
				}
				for range 3 {
					if s.o.gone.Load() {
						t.Error("an open session's user object was freed")
					}
					_ = s.Update(func(d *raceUserDoc) { d.N++ })
				}
				if round%2 == 0 {
					go sess.Close() // a close racing the deferred one
				}
			}()
		}
		wg.Wait()
	}
	if n := u.count(); n != 0 {
		t.Fatalf("%d user objects held after every session closed", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for s := range objects {
		if !s.o.gone.Load() {
			t.Fatal("an object no session holds was not freed")
		}
	}
	if int64(len(objects)) != u.freed.Load() {
		t.Fatalf("%d objects handed out, %d frees: each must be freed exactly once", len(objects), u.freed.Load())
	}
	if len(objects) < 2 || built.Load() < int64(len(objects)) {
		t.Fatalf("%d objects from %d builds: rounds did not get fresh objects", len(objects), built.Load())
	}
	t.Logf("%d builds, %d objects, %d frees", built.Load(), len(objects), u.freed.Load())
}

// A session that closes while its build runs: the object built is freed at once, the
// builder gets ErrSessionClosed, and nothing stays in the table.
func TestRegisterUserSessionClosedDuringBuild(t *testing.T) {
	u := newUserObjects()
	cfg := newSessionConfig(nil)
	sess := newSession(&cfg, newMetrics(), Identity{User: "ann", Session: "s"})
	sess.users = u
	building, release := make(chan struct{}), make(chan struct{})
	var got *raceUserDoc
	done := make(chan error, 1)
	go func() {
		_, err := RegisterUser(sess, "DOC", func(context.Context) (*raceUserDoc, error) {
			close(building)
			<-release
			got = &raceUserDoc{}
			return got, nil
		})
		done <- err
	}()
	<-building
	sess.Close()
	close(release)
	if err := <-done; !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("RegisterUser: %v, want ErrSessionClosed", err)
	}
	if u.count() != 0 || u.freed.Load() != 1 {
		t.Fatalf("%d held, %d freed; want 0 and 1", u.count(), u.freed.Load())
	}
	if _, err := RegisterUser(sess, "DOC", func(context.Context) (*raceUserDoc, error) { return &raceUserDoc{}, nil }); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("RegisterUser on a closed session: %v", err)
	}
	if u.count() != 0 {
		t.Fatal("a closed session's call left an entry")
	}
}

// An object the application unregistered itself is replaced by a fresh one at the next
// RegisterUser, and the sessions that held it release nothing twice.
func TestRegisterUserAfterUnregister(t *testing.T) {
	u := newUserObjects()
	cfg := newSessionConfig(nil)
	open := func() *Session {
		s := newSession(&cfg, newMetrics(), Identity{User: "ann", Session: "s"})
		s.users = u
		return s
	}
	build := func(context.Context) (*raceUserDoc, error) { return &raceUserDoc{}, nil }
	a, b := open(), open()
	first, err := RegisterUser(a, "DOC", build)
	if err != nil {
		t.Fatal(err)
	}
	first.Unregister()
	second, err := RegisterUser(b, "DOC", build)
	if err != nil || second == first || second.o.gone.Load() {
		t.Fatalf("after Unregister: %v, fresh %v", err, second != first)
	}
	a.Close()
	if second.o.gone.Load() {
		t.Fatal("closing a holder of the unregistered object freed its successor")
	}
	b.Close()
	if !second.o.gone.Load() || u.count() != 0 || u.freed.Load() != 1 {
		t.Fatalf("after the last close: gone %v, %d held, %d freed", second.o.gone.Load(), u.count(), u.freed.Load())
	}
}

func TestUserScopeSentinelsArePrefixed(t *testing.T) {
	for _, err := range []error{ErrNoUser, ErrSessionClosed} {
		if s := err.Error(); len(s) < 8 || s[:8] != "wssync: " {
			t.Errorf("sentinel %q lacks the wssync: prefix", s)
		}
	}
}
