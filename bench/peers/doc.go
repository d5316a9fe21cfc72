// Package peers measures wssync against other WebSocket fan-out servers in the same run.
//
// It is a module of its own so that the wssync module does not depend on the servers it is
// compared with. It has no code outside its benchmarks. From the repository's root:
//
//	make bench-peers
//
// or, in this directory:
//
//	go test -run '^$' -bench Fanout -benchtime 20x -count 3 .
package peers
