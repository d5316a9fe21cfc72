// Package peers measures wssync against other WebSocket fan-out servers in the same run.
//
// It is a module of its own so that the wssync module does not depend on the servers it is
// compared with. It has no code of its own outside its benchmarks:
//
//	cd bench/peers && go test -run '^$' -bench Fanout -benchtime 2s -count 3 .
package peers
