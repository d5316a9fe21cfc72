package tail

import (
	"io"
	"sync"
)

// lockedWriter serializes writes from the printing loop and the toast callback.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
