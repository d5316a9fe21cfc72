package tail

import "testing"

func TestRender(t *testing.T) {
	t.Parallel()
	got := Render(Notes{Title: "Team", Notes: []Note{{ID: "n1", Text: "Hello", Author: "server"}}})
	want := "== Team (1 notes) ==\nn1   Hello  (server)\n"
	if got != want {
		t.Fatalf("Render = %q, want %q", got, want)
	}
}
