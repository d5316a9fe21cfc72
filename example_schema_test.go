package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wssync/wssync"
)

// The schema of a session's keys: wire names, types, readOnly for the fields clients may
// not write, validate tags as constraints, and each action's params and result. Print it
// as JSON for cmd/wssync-gen, which writes the TypeScript declarations.
func ExampleSession_Schema() {
	type Todo struct {
		Title string   `sync:"title,write" validate:"max=80" doc:"what to do"`
		Done  []string `sync:"done" validate:"required"`
	}
	type addParams struct {
		Text string `json:"text" validate:"min=1"`
	}
	sess := wssync.NewSession()
	defer sess.Close()
	todo, err := wssync.Register(sess, "TODO", &Todo{Done: []string{}})
	if err != nil {
		panic(err)
	}
	_ = wssync.ActionResult(todo, "add", func(ctx context.Context, p addParams) (int, error) { return 1, nil })

	sc, err := sess.Schema()
	if err != nil {
		panic(err)
	}
	k := sc.Keys[0]
	for _, p := range k.State.Properties {
		b, _ := json.Marshal(p.Schema)
		fmt.Printf("%s %s\n", p.Name, b)
	}
	params, _ := json.Marshal(k.Actions[0].Params.Properties)
	result, _ := json.Marshal(k.Actions[0].Result.Type)
	fmt.Printf("%s(%s) %s\n", k.Actions[0].Name, params, result)
	// Output:
	// title {"description":"what to do","type":"string","maxLength":80,"x-wssync-validate":"max=80"}
	// done {"type":"array","items":{"type":"string"},"readOnly":true,"x-wssync-validate":"required"}
	// add({"text":{"type":"string","minLength":1,"x-wssync-validate":"min=1"}}) "integer"
}

// A server whose objects are built per session exports its schema from a dry run of the
// factory, e.g. behind a -print-schema flag: go run ./server -print-schema | go run
// github.com/wssync/wssync/cmd/wssync-gen -out web/src/wssync.gen.ts
func ExampleManager_Schema() {
	type Profile struct {
		User string `sync:"user"`
		Bio  string `sync:"bio,write"`
	}
	mgr := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "PROFILE", &Profile{User: sess.Identity().User})
		return err
	})
	defer func() { _ = mgr.Shutdown(context.Background()) }()

	sc, err := mgr.Schema(context.Background(), wssync.Identity{User: "schema", Session: "schema"})
	if err != nil {
		panic(err)
	}
	for _, p := range sc.Keys[0].State.Properties {
		fmt.Println(sc.Keys[0].Key, p.Name, "readOnly:", p.Schema.ReadOnly)
	}
	// Output:
	// PROFILE user readOnly: true
	// PROFILE bio readOnly: false
}
