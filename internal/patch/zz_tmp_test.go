package patch

import (
	"bytes"
	"encoding/json"
	"testing"
)

func BenchmarkTmpValid(b *testing.B) {
	data := mustMarshal(bigItems(bigN))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		json.Valid(data)
	}
}
func BenchmarkTmpCount(b *testing.B) {
	data := mustMarshal(bigItems(bigN))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		n := 0
		for _, c := range data {
			if c == '"' {
				n++
			}
		}
		_ = n
	}
}
func BenchmarkTmpIndex(b *testing.B) {
	data := mustMarshal(bigItems(bigN))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		bytes.Count(data, []byte{'"'})
	}
}
