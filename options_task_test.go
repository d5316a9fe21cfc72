package wssync

import "testing"

func TestTaskAndEventOptions(t *testing.T) {
	called := false
	def := &taskDef{}
	OnCancel(func() { called = true })(def)
	if def.onCancel == nil {
		t.Fatal("OnCancel set no hook")
	}
	def.onCancel()
	if !called {
		t.Error("the hook given to OnCancel did not run")
	}
	var cfg eventConfig
	Override()(&cfg)
	if !cfg.override {
		t.Error("Override did not set override")
	}
}
