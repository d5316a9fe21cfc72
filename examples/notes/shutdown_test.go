package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The example, built and run as `go run` runs it, exits 0 on SIGTERM while a client that
// stopped reading holds its connection with full socket buffers: the Manager's Shutdown
// finishes within the example's 5 s even though a frame write to that client is blocked
// (its write timeout is 10 s).
func TestSIGTERMWithStalledPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example")
	}
	bin := filepath.Join(t.TempDir(), "notes")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	build := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "REDIS_ADDR=", "NOTES_TEST_HOOKS=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "http://")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("first line %q, %v\n%s", line, err, stderr.String())
	}
	exited := make(chan error, 1)
	go func() {
		_, _ = io.Copy(io.Discard, r) // drain, so the example never blocks on its stdout
		exited <- cmd.Wait()
	}()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()

	// A client with a tiny receive buffer that answers the handshake, fills the shared
	// list, asks for its state again and again, and never reads.
	dialer := websocket.Dialer{NetDialContext: (&net.Dialer{Control: smallReceiveBuffer}).DialContext}
	ws, _, err := dialer.DialContext(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, data, err := ws.ReadMessage(); err != nil || !strings.Contains(string(data), "_REQUEST_USER_SESSION") {
		t.Fatalf("first frame %s, %v", data, err)
	}
	_ = ws.SetWriteDeadline(time.Now().Add(20 * time.Second))
	send := func(s string) {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"type":"_USER_SESSION","data":{"user":"stalled","session":"stalled-1"}}`)
	text := strings.Repeat("€", 200)
	for i := range 90 { // the list holds 100, a few of them there from the start
		send(fmt.Sprintf(`{"type":"_ACTION:NOTES","id":"a%d","data":{"type":"add","text":"%s"}}`, i, text))
	}
	for range 800 {
		send(`{"type":"_GET:NOTES","data":{}}`)
	}
	time.Sleep(2 * time.Second) // the server pushes megabytes of _SET into the full socket

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the deferred wait
		if err != nil {
			t.Fatalf("the example exited with %v after SIGTERM\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the example did not exit after SIGTERM\n%s", stderr.String())
	}
}

// smallReceiveBuffer keeps the client's socket receive buffer small, so the server's writes
// block soon once the client stops reading.
func smallReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	return errors.Join(err, serr)
}
