package wssync_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// Over a real connection, a client follows a List changed by the server in every way List
// allows (and written by the client itself now and then): it ends at the published state,
// with every patch applied in order and none refused.
func TestListOverConnection(t *testing.T) {
	t.Parallel()
	type row struct {
		ID   int      `json:"id"`
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	type doc struct {
		Rows wssync.List[row] `sync:"rows,write"`
	}
	sess := wssync.NewSession()
	d := &doc{}
	for i := range 50 {
		d.Rows.Append(row{ID: i, Tags: []string{}})
	}
	s, err := wssync.Register(sess, "DOC", d)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:DOC")
	r := rand.New(rand.NewPCG(3, 4))
	for step := range 300 {
		if step%25 == 0 {
			var n int
			s.Read(func(d *doc) { n = d.Rows.Len() })
			if n > 0 {
				if err := c.Patch("DOC", wssynctest.Replace(fmt.Sprintf("/rows/%d/name", r.IntN(n)), fmt.Sprint("client ", step))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Update(func(d *doc) {
			for range 1 + r.IntN(5) {
				n := d.Rows.Len()
				switch k := r.IntN(5); {
				case k == 0 && n > 0:
					d.Rows.Update(r.IntN(n), func(x *row) { x.Tags = append(x.Tags, fmt.Sprint(step)) })
				case k == 1 && n > 0:
					i := r.IntN(n)
					d.Rows.Delete(i, min(n, i+1+r.IntN(2)))
				case k == 2:
					d.Rows.Insert(r.IntN(n+1), row{ID: 1000 + step})
				case k == 3 && n > 0:
					d.Rows.Set(r.IntN(n), row{ID: -step, Name: "set"})
				default:
					d.Rows.Append(row{ID: 2000 + step, Tags: []string{"a"}})
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The client's last writes may land after the server's last change: wait until both
	// agree, then compare.
	if _, err := wssynctest.WaitState(ctxT(t), c, "DOC", func(got any) bool {
		want, _ := s.Published()
		var w any
		return json.Unmarshal(want, &w) == nil && reflect.DeepEqual(got, w)
	}); err != nil {
		want, v := s.Published()
		got, cv, _ := c.State("DOC")
		t.Fatalf("client at v%d, server at v%d: %v\nclient state\n %s\nwant\n %s", cv, v, err, got, want)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}
