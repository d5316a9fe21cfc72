package wssync

import "testing"

func TestOnCancelSetsTheHook(t *testing.T) {
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
}
