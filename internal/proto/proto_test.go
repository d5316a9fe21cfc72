package proto

import "testing"

func TestKeyed(t *testing.T) {
	name := Keyed(Patch, "room/NOTES")
	if name != "_PATCH:room/NOTES" {
		t.Fatalf("Keyed = %q", name)
	}
	if key, ok := KeyOf(name, Patch); !ok || key != "room/NOTES" {
		t.Errorf("KeyOf(%q, Patch) = %q, %v", name, key, ok)
	}
	if _, ok := KeyOf(name, Set); ok {
		t.Error("a _PATCH name was taken for a _SET")
	}
	if _, ok := KeyOf(Patch, Patch); ok {
		t.Error("a bare event name was taken for a keyed one")
	}
}
