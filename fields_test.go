package wssync

import "testing"

func TestLowerCamel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Title": "title", "NoteCount": "noteCount", "ID": "id", "URLPath": "urlPath",
		"HTTPServer": "httpServer", "A": "a", "ID2": "id2", "already": "already", "Ünïcode": "ünïcode",
	} {
		if got := lowerCamel(in); got != want {
			t.Errorf("lowerCamel(%q) = %q, want %q", in, got, want)
		}
	}
}
