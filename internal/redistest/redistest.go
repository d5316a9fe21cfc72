// Package redistest runs a real redis-server for tests: one process per call to Start, on a
// free loopback port, with no persistence (StartPersistent: an append-only file synced at
// every write), killed when the test ends.
//
// It needs Debian's redis-server (or any redis-server 7) on PATH. Without it the test is
// skipped with a message saying so, unless the environment variable WSSYNC_REQUIRE_REDIS
// is set (to anything but "" or "0"): then it fails, so that a machine meant to run every
// test (`make test` sets the variable) notices.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the environment variable that turns a missing redis-server from a skip
// into a failure.
const RequireEnv = "WSSYNC_REQUIRE_REDIS"

// startTimeout bounds how long Start and Restart wait for the server to answer PING.
const startTimeout = 10 * time.Second

// Server is a redis-server process owned by one test. Its methods are safe for concurrent
// use, but Stop, Restart, Pause and Resume are meant to be called from the test goroutine.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	port    int
	cluster bool
	aof     bool // StartPersistent

	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of redis-server and the goroutine waiting for it.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited and been waited for
}

// Start runs a redis-server on a free port of 127.0.0.1 and waits until it answers PING
// (at most 10 s). The server is killed, and its process waited for, when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartPersistent is Start for a server that keeps its data in an append-only file synced
// at every write (appendfsync always), so that Stop (SIGKILL) then Restart brings it back
// with every write it acknowledged.
func StartPersistent(t testing.TB) *Server {
	t.Helper()
	return startWith(t, false, true)
}

// StartCluster is Start for a Redis Cluster of one node that serves all 16384 slots, so
// that a redis.ClusterClient can talk to it and the server enforces the cluster's rules
// (every script's and transaction's keys in one slot). It waits until the cluster state is
// ok, which takes Redis about two seconds.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	s := start(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := s.Client(t)
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatalf("redistest: CLUSTER ADDSLOTSRANGE: %v", err)
	}
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: cluster state not ok after %v: %v\n%s", startTimeout, err, info)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func start(t testing.TB, cluster bool) *Server {
	t.Helper()
	return startWith(t, cluster, false)
}

func startWith(t testing.TB, cluster, aof bool) *Server {
	t.Helper()
	bin := serverBinary(t)
	s := &Server{t: t, bin: bin, dir: t.TempDir(), cluster: cluster, aof: aof}
	t.Cleanup(s.Stop)
	// Another process may take the port between picking and binding it: try a few.
	var last error
	for range 5 {
		var err error
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		if last = s.run(); last == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", last)
	return nil
}

// serverBinary returns the path of redis-server, or ends the test: skipped, or failed when
// RequireEnv is set.
func serverBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("redistest: redis-server not found on PATH (%v): install Debian's redis-server (.ci/run does)", err)
	if required() {
		t.Fatalf("%s; %s is set, so the Redis tests must run", msg, RequireEnv)
	}
	t.Skipf("%s; skipped (set %s=1 to make this a failure)", msg, RequireEnv)
	return ""
}

// required reports whether RequireEnv asks for the Redis tests to run.
func required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0"
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run starts the process on s.port and waits until it answers PING.
func (s *Server) run() error {
	logfile := filepath.Join(s.dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--save", "",
		"--dir", s.dir,
		"--daemonize", "no",
		"--supervised", "no",
		"--logfile", logfile,
		"--loglevel", "warning",
		"--always-show-logo", "no",
		"--set-proc-title", "no",
	}
	if s.aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-announce-ip", "127.0.0.1")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(s.Addr())
		if err == nil {
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("redis-server on port %d exited: %s\n%s", s.port, cmd.ProcessState, readLog(logfile))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %v\n%s", s.port, startTimeout, err, readLog(logfile))
		}
	}
}

// ping sends PING over a fresh connection and expects PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Addr returns the server's address, 127.0.0.1:port. It stays the same across Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Stop kills the server (SIGKILL: Redis going down without warning) and waits for the
// process to exit. Its data is lost, except for a server of StartPersistent. Stop on a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Restart starts a stopped server again on the same port, empty (a server of
// StartPersistent: with the data of its append-only file), and waits until it answers PING. It fails the test if the server is running or does not come up.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		s.t.Fatalf("redistest: Restart of a running server")
	}
	if err := s.run(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Pause stops the server process with SIGSTOP: its connections stay open but nothing
// answers, as with a hung server or a network partition. Resume continues it.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a server stopped by Pause.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		s.t.Fatalf("redistest: %v to a stopped server", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Client returns a new client of the server for admin commands, closed when the test ends.
// For a server from StartCluster it is still a plain client of the one node.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
