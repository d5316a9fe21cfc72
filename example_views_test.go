package wssync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// A team whose members' e-mail only admins see: a session without the admin role gets
// the guest view, in which every member's email is left out.
func ExampleWithViews() {
	type Member struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	type Team struct {
		Members []Member `sync:"members"`
	}
	team, err := wssync.NewShared("TEAM", &Team{Members: []Member{{"ann", "ann@example.com"}}},
		wssync.WithViews(func(id wssync.Identity) string {
			if id.HasRole("admin") {
				return "admin"
			}
			return "guest"
		},
			wssync.View{Name: "admin"},
			wssync.View{Name: "guest", Hide: []string{"/members/*/email"}},
		))
	if err != nil {
		panic(err)
	}
	sess := wssync.NewSession() // no roles: a guest
	if err := team.Join(sess); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:TEAM" }); err != nil {
		panic(err)
	}
	guest, _, _ := c.State("TEAM")
	all, _ := team.Published()
	fmt.Println("server:", string(all))
	fmt.Println("guest: ", string(guest))
	// Output:
	// server: {"members":[{"name":"ann","email":"ann@example.com"}]}
	// guest:  {"members":[{"name":"ann"}]}
}
