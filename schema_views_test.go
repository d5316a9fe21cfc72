package wssync

import (
	"slices"
	"testing"
)

// A field a view hides whole is optional in the schema, and every field a view hides, whole
// or in part, names it: a guest's _SET leaves such a field out.
func TestSchemaOfViews(t *testing.T) {
	type member struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	type team struct {
		Title   string   `sync:"title"`
		Members []member `sync:"members"`
		Audit   []string `sync:"audit"`
	}
	share, err := NewShared("TEAM", &team{}, WithViews(func(id Identity) string { return "guest" },
		View{Name: "admin"}, View{Name: "guest", Hide: []string{"/members/*/email", "/audit"}},
		View{Name: "auditor", Hide: []string{"/members/*/email"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer share.Unregister()
	sess := NewSession()
	defer sess.Close()
	if err := share.Join(sess); err != nil {
		t.Fatal(err)
	}
	sc, err := sess.Schema()
	if err != nil {
		t.Fatal(err)
	}
	state := sc.Keys[0].State
	if !slices.Equal(state.Required, []string{"title", "members"}) {
		t.Errorf("required %v, want title and members (audit is hidden from guests)", state.Required)
	}
	for name, want := range map[string][]string{"title": nil, "members": {"auditor", "guest"}, "audit": {"guest"}} {
		if got := state.Properties.Get(name).HiddenIn; !slices.Equal(got, want) {
			t.Errorf("%s: hidden in %v, want %v", name, got, want)
		}
	}
}
