package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":        formatDuration,
	"clock":      func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
	"stamp":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"pretty":     prettyBody,
	"headers":    sortedHeaders,
	"mismatches": mismatches,
	"lower":      strings.ToLower,
	"statusClass": func(code int) string {
		switch {
		case code == 0:
			return "bad"
		case code < 300:
			return "ok"
		case code < 500:
			return "warn"
		}
		return "bad"
	},
	"verdictText": verdictText,
	"firstLine": func(s string) string {
		line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
		return line
	},
	"hasMismatch": func(vs []Violation) bool {
		return slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == "STATE-06" })
	},
	"add": func(a, b int) int { return a + b },
}).Parse(htmlTemplate))

// htmlView is what the page template reads.
type htmlView struct {
	*Report
	Failed []Spec
	Others []Spec
}

// WriteHTML writes the report as one self-contained page: inline CSS, a
// little inline script for filtering and expanding, nothing fetched from
// anywhere. Failed specs come first, each with its violations and fixes.
func WriteHTML(w io.Writer, r *Report) error {
	v := htmlView{Report: r}
	for _, s := range r.Specs {
		if s.Failed() {
			v.Failed = append(v.Failed, s)
		} else {
			v.Others = append(v.Others, s)
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func verdictText(r *Report) string {
	switch r.Verdict {
	case Interrupted:
		return "Interrupted"
	case Failed:
		return "Failed"
	}
	if r.Totals.Passed == 0 {
		return "No spec ran"
	}
	return "Passed"
}

// prettyBody indents a JSON body; anything else is shown as sent.
func prettyBody(s string) string {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return s
	}
	var b bytes.Buffer
	if json.Indent(&b, []byte(t), "", "  ") != nil {
		return s
	}
	return b.String()
}

type headerLine struct{ Name, Value string }

func sortedHeaders(h map[string][]string) []headerLine {
	var out []headerLine
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, headerLine{k, v})
		}
	}
	slices.SortStableFunc(out, func(a, b headerLine) int { return strings.Compare(a.Name, b.Name) })
	return out
}
