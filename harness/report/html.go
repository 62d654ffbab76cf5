package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
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
	"took":       exchangeTook,
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
	"firstLine":   failureHeadline,
	"hasMismatch": func(vs []Violation) bool {
		return slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == "STATE-06" })
	},
	"plural": plural,
	"split":  causeSplit,
	"banner": bannerText,
}).Parse(htmlTemplate))

// htmlView is what the page template reads.
type htmlView struct {
	*Report
	Failed  []Spec // failed of their own accord
	Blocked []Spec
	Others  []Spec
}

// WriteHTML writes the report as one self-contained page: inline CSS, a
// little inline script for filtering and expanding, nothing fetched from
// anywhere. The causes come first, each with its fix and its specs (blocked
// ones included) in a collapsed list; then the specs that failed of their
// own accord, each with its violations and fixes.
func WriteHTML(w io.Writer, r *Report) error {
	v := htmlView{Report: r}
	for _, s := range r.Specs {
		switch {
		case s.Blocked():
			v.Blocked = append(v.Blocked, s)
		case s.Failed():
			v.Failed = append(v.Failed, s)
		default:
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

// bannerText is the page's headline.
func bannerText(r *Report) string {
	t := r.Totals
	switch r.Verdict {
	case Failed:
		s := fmt.Sprintf("✗ Failed — %d of %d specs failed", t.Failed+t.Blocked, t.Passed+t.Failed+t.Blocked)
		if t.Blocked > 0 {
			s += fmt.Sprintf(" (%d blocked)", t.Blocked)
		}
		return s + ", " + plural(len(r.Causes), "cause", "causes")
	case NotStarted:
		return "✗ The run did not start — no spec ran"
	case Interrupted:
		if t.Blocked > 0 {
			return fmt.Sprintf("⚠ Interrupted — %d passed, %d failed, %d blocked before the run stopped", t.Passed, t.Failed, t.Blocked)
		}
		return fmt.Sprintf("⚠ Interrupted — %d passed, %d failed before the run stopped", t.Passed, t.Failed)
	}
	if t.Passed == 0 {
		return "No spec ran"
	}
	return fmt.Sprintf("✓ Passed — all %d specs passed", t.Passed)
}

func verdictText(r *Report) string {
	switch r.Verdict {
	case NotStarted:
		return "Did not start"
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

// exchangeTook is how long the fake took to answer: "0.42 ms" under a
// millisecond, whole milliseconds above.
func exchangeTook(x Exchange) string {
	if x.DurationUs < 1000 && x.DurationMs == 0 {
		return fmt.Sprintf("%.2f ms", float64(x.DurationUs)/1000)
	}
	return fmt.Sprintf("%d ms", x.DurationMs)
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
