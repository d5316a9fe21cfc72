//go:build !race

package patch

// raceEnabled is set when testing with -race, which makes sync.Pool drop
// items at random and so breaks allocation counts.
const raceEnabled = false
