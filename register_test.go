package wssync_test

import (
	"errors"
	"testing"

	"github.com/wssync/wssync"
)

type Base struct {
	CreatedBy string
}

type Tagged struct {
	Base
	Title      string `sync:"heading,write"`
	JSONNamed  int    `json:"jsonName,omitempty"`
	NoteCount  int
	URLPath    string
	ID         string
	Hidden     string `sync:"-"`
	JSONHidden string `json:"-"`
	Both       string `sync:"fromSync" json:"fromJSON"`
	Writable   bool   `sync:",write"`
	private    int
}

func TestWireNames(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "T", &Tagged{private: 1}, wssync.WithComputed("total", func() any { return 42 }))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	set := waitType(t, c, "_SET:T")
	want := `{"createdBy":"","heading":"","jsonName":0,"noteCount":0,"urlPath":"","id":"","fromSync":"","writable":false,"total":42}`
	if string(set.Data) != want {
		t.Fatalf("state\n got %s\nwant %s", set.Data, want)
	}
	_ = s
	// Writable only by tag.
	_ = c.Patch("T", wssyncReplace("/writable", true), wssyncReplace("/heading", "h"))
	waitType(t, c, "_PATCH:T")
	for _, path := range []string{"/noteCount", "/jsonName", "/createdBy", "/total"} {
		_ = c.Patch("T", wssyncReplace(path, 1))
		if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeReadOnly {
			t.Fatalf("%s: %+v", path, e)
		}
	}
}

func TestNamingOverride(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	upper := func(s string) string { return "X_" + s }
	if _, err := wssync.Register(sess, "T", &struct {
		Plain  int
		Tagged int `sync:"tagged"`
	}{}, wssync.WithNaming(upper)); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	if set := waitType(t, c, "_SET:T"); string(set.Data) != `{"X_Plain":0,"tagged":0}` {
		t.Fatalf("got %s", set.Data)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	sc := sess.Scope("room-7").Scope("").Scope("chat")
	if got := sc.Key("NOTES"); got != "room-7/chat/NOTES" {
		t.Fatalf("key %q", got)
	}
	s, err := wssync.Register(sc, "NOTES", &Notes{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Key() != "room-7/chat/NOTES" {
		t.Fatalf("key %q", s.Key())
	}
	if _, err := wssync.Register(sess, "NOTES", &Notes{}); err != nil {
		t.Fatalf("the unscoped key collides: %v", err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:room-7/chat/NOTES")
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	type badOpt struct {
		A int `sync:"a,writable"`
	}
	type badDash struct {
		A int `sync:"-,write"`
	}
	type repeated struct {
		A int `sync:"a,write,write"`
	}
	type dupName struct {
		A int `sync:"x"`
		B int `json:"x"`
	}
	type withChan struct {
		C chan int
	}
	type nestedFunc struct {
		M map[string]func()
	}
	type badMapKey struct {
		M map[[2]int]string
	}
	type unexportedTagged struct {
		a int `sync:"a"`
	}
	type ok struct{ A int }
	tests := []struct {
		name string
		reg  func(*wssync.Session) error
		want error
	}{
		{"unknown option", func(s *wssync.Session) error { _, err := wssync.Register(s, "K", &badOpt{}); return err }, wssync.ErrBadTag},
		{"dash with option", func(s *wssync.Session) error { _, err := wssync.Register(s, "K", &badDash{}); return err }, wssync.ErrBadTag},
		{"repeated option", func(s *wssync.Session) error { _, err := wssync.Register(s, "K", &repeated{}); return err }, wssync.ErrBadTag},
		{"unexported tagged", func(s *wssync.Session) error {
			_, err := wssync.Register(s, "K", &unexportedTagged{a: 0})
			return err
		}, wssync.ErrBadTag},
		{"duplicate wire name", func(s *wssync.Session) error { _, err := wssync.Register(s, "K", &dupName{}); return err }, wssync.ErrDuplicateName},
		{"computed clashes", func(s *wssync.Session) error {
			_, err := wssync.Register(s, "K", &ok{}, wssync.WithComputed("a", func() any { return 1 }))
			return err
		}, wssync.ErrDuplicateName},
		{"chan field", func(s *wssync.Session) error { _, err := wssync.Register(s, "K", &withChan{}); return err }, wssync.ErrUnsupportedType},
		{"nested func", func(s *wssync.Session) error { _, err := wssync.Register(s, "K", &nestedFunc{}); return err }, wssync.ErrUnsupportedType},
		{"bad map key", func(s *wssync.Session) error { _, err := wssync.Register(s, "K", &badMapKey{}); return err }, wssync.ErrUnsupportedType},
		{"not a struct", func(s *wssync.Session) error { x := 5; _, err := wssync.Register(s, "K", &x); return err }, wssync.ErrNotStructPointer},
		{"nil pointer", func(s *wssync.Session) error { _, err := wssync.Register[ok](s, "K", nil); return err }, wssync.ErrNotStructPointer},
		{"empty key", func(s *wssync.Session) error { _, err := wssync.Register(s, "", &ok{}); return err }, wssync.ErrBadKey},
		{"duplicate key", func(s *wssync.Session) error {
			if _, err := wssync.Register(s, "K", &ok{}); err != nil {
				return err
			}
			_, err := wssync.Register(s, "K", &ok{})
			return err
		}, wssync.ErrDuplicateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.reg(wssync.NewSession())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestUnregister(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "K", &Notes{})
	s.Unregister()
	if err := s.Sync(); !errors.Is(err, wssync.ErrUnregistered) {
		t.Fatalf("Sync after Unregister: %v", err)
	}
	c := dial(t, serve(t, sess))
	_ = c.Get("K")
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeUnknownKey {
		t.Fatalf("got %+v", e)
	}
	if _, err := wssync.Register(sess, "K", &Notes{}); err != nil {
		t.Fatalf("re-register after Unregister: %v", err)
	}
}
