package target

import (
	"bytes"
	"io"
	"sync"
)

// LogLimit is how much of a publisher's output a Process keeps in memory.
const LogLimit = 1 << 20

// tailBuffer keeps the last limit bytes written to it and forwards every
// write to out. Errors from out are ignored: a broken log file must not stop
// the capture the harness reports from.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	out   io.Writer
}

func newTailBuffer(limit int, out io.Writer) *tailBuffer {
	return &tailBuffer{limit: limit, out: out}
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.out != nil {
		_, _ = t.out.Write(p)
	}
	t.buf = append(t.buf, p...)
	// Trim only once the buffer is twice the limit, so trimming costs
	// amortised O(1) per byte.
	if len(t.buf) > 2*t.limit {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.limit:]...)
	}
	return len(p), nil
}

// Bytes returns a copy of the last limit bytes.
func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.limit {
		b = b[len(b)-t.limit:]
	}
	return bytes.Clone(b)
}

// lastLines returns up to n trailing lines of b, without a trailing newline.
func lastLines(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	i := len(b)
	for range n {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			return string(b)
		}
		i = j
	}
	return string(b[i+1:])
}
