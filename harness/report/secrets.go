package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/saasconform/saasconform/harness/violation"
)

// Secret is one value of the run that must never reach a report: the app's
// client secret, a purchase token the marketplace issued, a signing key.
type Secret struct {
	Name  string // what it is, shown in its place: "<redacted NAME>"
	Value string
}

// minSecret is the shortest value redacted by value: a shorter one would
// match ordinary words and numbers.
const minSecret = 8

// Redactor hides secrets in report text: by what they are (RedactText:
// JWTs, Authorization values, secret fields, private keys) and, for the
// secrets it was given, by value, wherever and however they were printed —
// as is, URL-encoded, or with '+' decoded to ' '. The zero value and nil
// redact by shape only.
type Redactor struct {
	values *strings.Replacer
	forms  []string // value forms and their names, as NewReplacer takes them
	// longest is the longest form of a value, which a stream holds back
	// so a value split across writes is still found.
	longest int
}

// NewRedactor returns a Redactor for the given secrets; values shorter
// than 8 characters are left to the shape rules.
func NewRedactor(secrets ...Secret) *Redactor {
	type form struct{ old, new string }
	var forms []form
	seen := map[string]bool{}
	for _, s := range secrets {
		if len(s.Value) < minSecret {
			continue
		}
		name := cmp.Or(s.Name, "secret")
		for _, f := range []string{s.Value, url.QueryEscape(s.Value), url.PathEscape(s.Value),
			strings.ReplaceAll(s.Value, "+", " "), strings.ReplaceAll(s.Value, "/", `\/`)} {
			if !seen[f] {
				seen[f] = true
				forms = append(forms, form{f, "<redacted " + name + ">"})
			}
		}
	}
	if len(forms) == 0 {
		return &Redactor{}
	}
	// At one position the first listed form wins: longest first, so a
	// value is replaced whole rather than a shorter form inside it.
	slices.SortStableFunc(forms, func(a, b form) int { return len(b.old) - len(a.old) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f.old, f.new)
	}
	return &Redactor{values: strings.NewReplacer(pairs...), forms: pairs, longest: len(forms[0].old)}
}

// RedactFile hides the run's secrets, by value only, in a report file
// another writer made (Ginkgo's junit.xml and report.json): the
// placeholder is escaped for the file's format (XML for .xml, else JSON),
// so the file stays well-formed. Shape rules are not applied: they would
// need to know the format's escaping of every character.
func (r *Redactor) RedactFile(path string) error {
	if r == nil || len(r.forms) == 0 || path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("report: redacting %s: %w", path, err)
	}
	escape := strings.NewReplacer("<", `\u003c`, ">", `\u003e`)
	if strings.EqualFold(filepath.Ext(path), ".xml") {
		escape = strings.NewReplacer("<", "&lt;", ">", "&gt;")
	}
	pairs := slices.Clone(r.forms)
	for i := 1; i < len(pairs); i += 2 {
		pairs[i] = escape.Replace(pairs[i])
	}
	out := strings.NewReplacer(pairs...).Replace(string(data))
	if out == string(data) {
		return nil
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("report: redacting %s: %w", path, err)
	}
	return nil
}

// Text redacts free text: logs, failure messages, summaries, URLs, bodies.
func (r *Redactor) Text(s string) string {
	if r != nil && r.values != nil {
		s = r.values.Replace(s)
	}
	return RedactText(s)
}

// Header copies h with secrets hidden, as RedactHeader does, and the
// run's secrets hidden by value in every other header too.
func (r *Redactor) Header(h http.Header) map[string][]string {
	out := RedactHeader(h)
	if r == nil || r.values == nil {
		return out
	}
	for k, vs := range out {
		for i, v := range vs {
			vs[i] = r.values.Replace(v)
		}
		out[k] = vs
	}
	return out
}

// Writer returns a writer that redacts what passes through it line by
// line before handing it to w; see NewRedactingWriter.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return NewRedactingWriter(w, func() *Redactor { return r })
}

// NewRedactingWriter returns a writer that redacts what passes through it
// line by line, with the Redactor current returns at that moment (the
// run's secrets grow as purchase tokens are issued), before handing it to
// w: the publisher's log as it is written. A line is held back until its
// newline (or until it grows past 64 KiB); Close writes what is left. It
// is safe for concurrent use.
func NewRedactingWriter(w io.Writer, current func() *Redactor) io.WriteCloser {
	return &redactingWriter{current: current, w: w}
}

// maxPending bounds a line held back waiting for its newline.
const maxPending = 64 << 10

type redactingWriter struct {
	mu      sync.Mutex
	current func() *Redactor
	w       io.Writer
	pending []byte
	inKey   bool // inside a PEM private key, whose lines are dropped
}

func (rw *redactingWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.pending = append(rw.pending, p...)
	cut := bytes.LastIndexByte(rw.pending, '\n') + 1
	if cut == 0 && len(rw.pending) > maxPending {
		// A very long line: write most of it, keeping back enough that a
		// secret split here is still whole next time.
		keep := 0
		if r := rw.current(); r != nil {
			keep = r.longest
		}
		cut = len(rw.pending) - keep
	}
	if cut > 0 {
		if err := rw.flush(cut); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (rw *redactingWriter) flush(n int) error {
	// Line by line: the shape rules run only on lines that could hold a
	// secret, so a line that cannot costs a few substring searches.
	r := rw.current()
	var out strings.Builder
	out.Grow(n)
	for rest := string(rw.pending[:n]); rest != ""; {
		line, tail, found := strings.Cut(rest, "\n")
		rest = tail
		// A PEM private key spans lines: its BEGIN line is redacted by
		// the shape rule, the lines up to its END line are dropped.
		if rw.inKey {
			if strings.Contains(line, "-----END") && strings.Contains(line, "PRIVATE KEY-----") {
				rw.inKey = false
			}
			continue
		}
		if strings.Contains(line, "-----BEGIN") && strings.Contains(line, "PRIVATE KEY-----") &&
			!strings.Contains(line[strings.Index(line, "-----BEGIN"):], "-----END") {
			rw.inKey = true
		}
		out.WriteString(r.Text(line))
		if found {
			out.WriteByte('\n')
		}
	}
	rw.pending = append(rw.pending[:0], rw.pending[n:]...)
	_, err := io.WriteString(rw.w, out.String())
	return err
}

func (rw *redactingWriter) Close() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.pending) == 0 {
		return nil
	}
	if err := rw.flush(len(rw.pending)); err != nil {
		return fmt.Errorf("report: redacted log: %w", err)
	}
	return nil
}

// RedactViolation is v as violations.json may hold it: its text redacted
// like a report's, a purchase token in got and want cut down to the
// characters around where they differ.
func (r *Redactor) RedactViolation(v violation.Violation) violation.Violation {
	if tokenField(v.Field) {
		v.Got, v.Want = diffWindow(v.Got, v.Want)
	}
	v.Summary, v.Got, v.Want, v.Fix, v.Path = r.Text(v.Summary), r.Text(v.Got), r.Text(v.Want), r.Text(v.Fix), r.Text(v.Path)
	return v
}
