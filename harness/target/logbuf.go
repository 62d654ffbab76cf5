package target

import (
	"bytes"
	"fmt"
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

// Output keeps a publisher's output in bounded memory: its first head
// bytes (how it started, often why it failed) and its last tail bytes, with
// a line between them saying how much was left out. An app may print
// hundreds of megabytes; a report keeps a few.
type Output struct {
	mu       sync.Mutex
	headMax  int
	head     []byte
	tail     *tailBuffer
	total    int64
	tailSeen int64 // bytes that went past the head
}

// NewOutput keeps up to head + tail bytes (plus the line about the gap).
func NewOutput(head, tail int) *Output {
	return &Output{headMax: head, tail: newTailBuffer(tail, nil)}
}

// Write keeps p's bytes; it never fails.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	o.total += int64(n)
	if room := o.headMax - len(o.head); room > 0 {
		k := min(room, len(p))
		o.head = append(o.head, p[:k]...)
		p = p[k:]
	}
	if len(p) > 0 {
		o.tailSeen += int64(len(p))
		_, _ = o.tail.Write(p)
	}
	return n, nil
}

// Dropped is how many bytes of the output are not kept.
func (o *Output) Dropped() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return max(0, o.tailSeen-int64(o.tail.limit))
}

// Bytes returns the head, a line saying how many bytes were left out when
// some were, and the tail.
func (o *Output) Bytes() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	tail := o.tail.Bytes()
	b := append(bytes.Clone(o.head), []byte(gapLine(o.tailSeen-int64(len(tail)), int64(len(tail))))...)
	return append(b, tail...)
}

// gapLine says that dropped bytes were left out before the last kept
// bytes; "" when nothing was.
func gapLine(dropped, kept int64) string {
	if dropped <= 0 {
		return ""
	}
	return fmt.Sprintf("\n[saasconform: %d bytes of the publisher's output left out here; the last %d bytes follow]\n", dropped, kept)
}

// LogFile writes a publisher's output to w as it comes, up to limit bytes;
// past that it keeps only the last tail bytes in memory, and Close writes a
// line saying how much was left out, then those bytes. Writes after Close
// are counted and dropped. Errors from w are ignored: a full disk must not
// stop the run.
type LogFile struct {
	mu      sync.Mutex
	w       io.Writer
	limit   int64
	written int64
	rest    *Output // what came past limit
	closed  bool
	midLine bool // the last byte written to w was not a newline
}

// NewLogFile bounds what reaches w to about limit + tail bytes.
func NewLogFile(w io.Writer, limit int64, tail int) *LogFile {
	return &LogFile{w: w, limit: limit, rest: NewOutput(0, tail)}
}

// Write passes p on, or keeps its end once limit bytes have been written.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	if l.closed {
		return n, nil
	}
	if room := l.limit - l.written; room > 0 {
		k := int(min(room, int64(len(p))))
		l.write(p[:k])
		l.written += int64(k)
		p = p[k:]
	}
	if len(p) > 0 {
		_, _ = l.rest.Write(p)
	}
	return n, nil
}

// Note writes a line of the harness's own into the log, after what the
// publisher printed so far.
func (l *LogFile) Note(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush()
	if l.midLine {
		l.write([]byte("\n"))
	}
	l.write([]byte("[saasconform: " + line + "]\n"))
}

// Close writes what was kept past the limit, with a line saying how much
// was left out. It does not close w. Safe to call twice.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush()
	l.closed = true
	return nil
}

// flush writes what was kept past the limit; later output is kept anew.
func (l *LogFile) flush() {
	if l.closed {
		return
	}
	if b := l.rest.Bytes(); len(b) > 0 {
		l.write(b)
		l.written += int64(len(b))
		l.rest = NewOutput(0, l.rest.tail.limit)
	}
}

func (l *LogFile) write(b []byte) {
	if len(b) > 0 {
		_, _ = l.w.Write(b)
		l.midLine = b[len(b)-1] != '\n'
	}
}
