package wssync

import (
	"context"
	"testing"
)

func TestOverrideSetsOverride(t *testing.T) {
	var cfg eventConfig
	Override()(&cfg)
	if !cfg.override {
		t.Error("Override did not set override")
	}
}

// Without Override a second handler for one event is refused; with it, it replaces the first.
func TestOverrideReplacesAHandler(t *testing.T) {
	sess := NewSession()
	defer sess.Close()
	noop := func(context.Context, struct{}) error { return nil }
	if err := On(sess, "ping", noop); err != nil {
		t.Fatal(err)
	}
	if err := On(sess, "ping", noop); err == nil {
		t.Error("a second handler for ping was accepted without Override")
	}
	if err := On(sess, "ping", noop, Override()); err != nil {
		t.Errorf("Override did not let the handler be replaced: %v", err)
	}
}
