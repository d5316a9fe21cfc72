package wssync_test

import (
	"fmt"

	"github.com/wssync/wssync"
)

// ExampleList keeps a long list whose changes Sync sends one op each.
func ExampleList() {
	type todo struct {
		Text string `json:"text"`
		Done bool   `json:"done"`
	}
	type board struct {
		Todos wssync.List[todo] `sync:"todos"`
	}
	b := &board{Todos: wssync.NewList(todo{Text: "write"}, todo{Text: "test"})}
	s, err := wssync.Register(wssync.NewSession(), "board", b)
	if err != nil {
		panic(err)
	}
	s.Update(func(b *board) {
		b.Todos.Update(1, func(t *todo) { t.Done = true })
		b.Todos.Append(todo{Text: "ship"})
	})
	state, _ := s.Published()
	fmt.Println(string(state))
	// Output: {"todos":[{"text":"write","done":false},{"text":"test","done":true},{"text":"ship","done":false}]}
}
