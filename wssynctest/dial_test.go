package wssynctest_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// TestDialNilOption: Dial(ctx, url, nil), as the Go guide writes it, dials with no option
// instead of panicking on the nil.
func TestDialNilOption(t *testing.T) {
	sess := wssync.NewSession()
	type state struct {
		N int `sync:"n"`
	}
	if _, err := wssync.Register(sess, "K", &state{N: 1}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sess)
	defer srv.Close()
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wssynctest.Dial(ctx, wstest.WSURL(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f, err := c.Next(ctx); err != nil || f.Type != "_SET:K" {
		t.Fatalf("first frame %v %v, want _SET:K", f, err)
	}
}
