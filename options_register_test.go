package wssync

import "testing"

func TestRegisterOptions(t *testing.T) {
	def := newRegistration(nil)
	if def.maxState != DefaultMaxStateSize || def.naming == nil || def.naming("NoteCount") != "noteCount" {
		t.Fatalf("defaults: maxState %d", def.maxState)
	}
	reg := newRegistration([]RegisterOption{
		WithNaming(func(s string) string { return "x" + s }),
		WithComputed("n", func() any { return 1 }),
		WithoutReplay(),
		WithRunningTasks("running"),
		WithMaxArrayEdits(3),
		WithMaxStateSize(10),
		WithMaxStateSize(0), // keeps 10
	})
	if reg.naming("A") != "xA" || len(reg.computed) != 1 || reg.computed[0].wire != "n" || !reg.noReplay ||
		reg.runningTasks != "running" || reg.diff.MaxEditDistance != 3 || reg.maxState != 10 {
		t.Errorf("options not applied: %+v", reg)
	}
}
