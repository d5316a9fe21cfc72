package patch

import "testing"

func TestAppendElemOps(t *testing.T) {
	dst, n := AppendAdd(nil, 0, `/a"b~1c`, 3, []byte(`{"x":1}`))
	dst, n = AppendRemove(dst, n, "/l", 0)
	want := `{"op":"add","path":"/a\"b~1c/3","value":{"x":1}},{"op":"remove","path":"/l/0"}`
	if string(dst) != want || n != 2 {
		t.Fatalf("got %s (%d ops), want %s", dst, n, want)
	}
}

// TestAppendReplace: the op AppendDiff writes for two different scalars, byte for byte.
func TestAppendReplace(t *testing.T) {
	for _, c := range []struct{ ptr, old, new string }{
		{`/a"b~1c`, `"x"`, `"y\u003c"`},
		{"/n", `1`, `null`},
		{"/t", `{"k":1}`, `true`},
	} {
		got, n := AppendReplace([]byte(`{"op":"remove","path":"/l/0"}`), 1, c.ptr, []byte(c.new))
		want, wn, err := AppendDiff([]byte(`{"op":"remove","path":"/l/0"}`), 1, c.ptr, []byte(c.old), []byte(c.new), nil)
		if err != nil || string(got) != string(want) || n != wn {
			t.Errorf("%s: %s to %s: AppendReplace %s (%d ops), AppendDiff %s (%d ops, %v)", c.ptr, c.old, c.new, got, n, want, wn, err)
		}
	}
}
