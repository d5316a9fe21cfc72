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
