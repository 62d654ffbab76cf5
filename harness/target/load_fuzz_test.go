package target

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse feeds the target-file loader arbitrary bytes, starting from the
// example targets. Whatever the file holds, Parse ends promptly with either
// a config or an Errors of worded problems that point inside the file; a
// config it accepts renders with the run's values.
//
//	nice go test -run '^$' -fuzz FuzzParse -fuzztime 10m -parallel 1 ./harness/target/
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("../../fixtures/targets/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		base,
		base + "---\npublisher: {}\n",
		base + "  start: [\n",
		base + "  webhook: https://x/again\n",
		"publisher: &a {landingPage: *a}\n",
		"a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b]\n",
		"publisher:\n  landingPage: \"https://x/{{.PlanID | urlquery}}\"\n  webhook: https://x/{{\n",
		"\xef\xbb\xbfpublisher: !!binary aGVsbG8=\n",
		"publisher:\n  landingPage: \"https://x/{{range 100000000000}}{{end}}\"\n  webhook: https://x/w\n",
		"publisher:\n  landingPage: \"https://x/{{define \\\"a\\\"}}{{template \\\"a\\\" .}}{{end}}{{template \\\"a\\\" .}}\"\n  webhook: https://x/w\n",
		"publisher:\n  landingPage: \"https://x/{{printf \\\"%0999999d\\\" 0}}{{printf \\\"%0999999d\\\" 0}}\"\n  webhook: https://x/w\n",
		"- 1\n- 2\n",
		"",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		type result struct {
			cfg *Config
			err error
		}
		done := make(chan result, 1)
		go func() {
			cfg, err := Parse(data, "target.yaml")
			done <- result{cfg, err}
		}()
		var got result
		select {
		case got = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse still running after 10 s on %d bytes", len(data))
		}

		if (got.cfg == nil) == (got.err == nil) {
			t.Fatalf("Parse returned config %v and error %v: want exactly one", got.cfg != nil, got.err)
		}
		if got.err != nil {
			var errs Errors
			if !errors.As(got.err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v, want a non-empty Errors", got.err, got.err)
			}
			lines := yamlLines(data)
			for _, e := range errs {
				if e.Problem == "" || e.Source != "target.yaml" {
					t.Errorf("problem without words or source: %+v", *e)
				}
				if e.Line < 0 || e.Line > lines {
					t.Errorf("line %d outside the file's %d lines: %+v", e.Line, lines, *e)
				}
			}
			return
		}
		if got.cfg.Publisher.LandingPage == "" || got.cfg.Publisher.Webhook == "" {
			t.Fatalf("accepted without a landing page or webhook: %+v", got.cfg.Publisher)
		}
		if _, err := got.cfg.Render(sampleVars); err != nil {
			t.Fatalf("accepted, but does not render: %v", err)
		}
	})
}

// yamlLines counts lines as YAML does: a line ends at \n, \r, \r\n, NEL,
// LS or PS (an editor that shows a lone \r as a line end agrees).
func yamlLines(data []byte) int {
	lines := 1
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			i++
			lines++
		case data[i] == '\n' || data[i] == '\r':
			lines++
		case bytes.HasPrefix(data[i:], []byte("\u0085")), bytes.HasPrefix(data[i:], []byte("\u2028")),
			bytes.HasPrefix(data[i:], []byte("\u2029")):
			lines++
		}
	}
	return lines
}
