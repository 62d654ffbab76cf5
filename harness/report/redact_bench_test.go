package report

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkRedactingWriterLogLines is a publisher's log passing through
// the redaction on its way to publisher.log: ordinary lines, one in a
// hundred with a bearer token. The log must not slow the app that writes
// it (a flood of 160 MiB is one of the hostile cases).
func BenchmarkRedactingWriterLogLines(b *testing.B) {
	rd := NewRedactor(Secret{Name: "client secret", Value: "sc-0123456789abcdef"})
	var block bytes.Buffer
	for i := range 100 {
		if i == 50 {
			fmt.Fprintf(&block, "%03d calling the API with Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n", i)
			continue
		}
		fmt.Fprintf(&block, "%03d GET /api/saas/subscriptions/5b1ee2c6-5bb2-4a43-9b5e-7e8f3a1d2c40?api-version=2018-08-31 200 12ms\n", i)
	}
	w := rd.Writer(io.Discard)
	b.SetBytes(int64(block.Len()))
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(block.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
