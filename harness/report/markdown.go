package report

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Caps that keep the Markdown summary near 60 lines.
const (
	mdFailedSpecs = 12
	mdRules       = 12
)

// WriteMarkdown writes a short summary for a pull-request comment: the
// verdict, the totals, each failed spec with its rule IDs and a one-line
// fix, and the most frequent violations by rule with their doc links. The
// HTML report has the rest.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", verdictLine(r))
	fmt.Fprintf(&b, "Target `%s` · %s · started %s · saasconform %s\n\n",
		orDash(r.Target), formatDuration(r.DurationMs), r.Started.Format(time.RFC3339), r.ToolVersion)
	if r.Reason != "" {
		label := "Note"
		if r.Interrupted {
			label = "Interrupted"
		}
		fmt.Fprintf(&b, "> **%s:** %s\n\n", label, mdInline(r.Reason))
	}
	b.WriteString("| specs | passed | failed | skipped | not run | violations (errors / warnings) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d / %d |\n\n", r.Totals.Specs, r.Totals.Passed, r.Totals.Failed,
		r.Totals.Skipped, r.Totals.NotRun, r.Totals.Violations["error"], r.Totals.Violations["warning"])

	var failed []Spec
	for _, s := range r.Specs {
		if s.Failed() {
			failed = append(failed, s)
		}
	}
	if len(failed) > 0 {
		b.WriteString("### Failed specs\n\n")
		for i, s := range failed {
			if i == mdFailedSpecs {
				fmt.Fprintf(&b, "- …and %d more (see the HTML report)\n", len(failed)-i)
				break
			}
			fmt.Fprintf(&b, "- **%s**%s%s\n", mdInline(s.Text), codeList(s.Rules), specFix(s))
		}
		b.WriteString("\n")
	}
	if len(r.Rules) > 0 {
		b.WriteString("### Violations by rule\n\n| rule | severity | count | what went wrong | fix |\n|---|---|---:|---|---|\n")
		for i, rs := range r.Rules {
			if i == mdRules {
				fmt.Fprintf(&b, "| …%d more rules | | | | |\n", len(r.Rules)-i)
				break
			}
			rule := "`" + rs.Rule + "`"
			if rs.Doc != "" {
				rule = fmt.Sprintf("[`%s`](%s)", rs.Rule, rs.Doc)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", rule, rs.Severity, rs.Count, mdCell(rs.Summary, 120), mdCell(rs.Fix, 140))
		}
		b.WriteString("\n")
	}
	b.WriteString("Full details — every exchange, webhook delivery, state mismatch and the publisher's log — are in the HTML report.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func verdictLine(r *Report) string {
	switch r.Verdict {
	case Interrupted:
		return fmt.Sprintf("⚠️ saasconform: interrupted — %d passed, %d failed before it stopped", r.Totals.Passed, r.Totals.Failed)
	case Failed:
		return fmt.Sprintf("❌ saasconform: %d of %d specs failed", r.Totals.Failed, r.Totals.Passed+r.Totals.Failed)
	}
	if r.Totals.Passed == 0 {
		return "⚪ saasconform: no spec ran"
	}
	return fmt.Sprintf("✅ saasconform: all %d specs passed", r.Totals.Passed)
}

// specFix is " — FIX" from the spec's first error violation with a fix.
func specFix(s Spec) string {
	for _, v := range s.Violations {
		if v.Fix != "" && v.Severity == "error" {
			return " — " + mdInline(v.Rule+": "+v.Fix)
		}
	}
	if s.Failure != nil {
		line, _, _ := strings.Cut(strings.TrimSpace(s.Failure.Message), "\n")
		return " — " + mdCell(line, 160)
	}
	return ""
}

func codeList(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return " (`" + strings.Join(ids, "`, `") + "`)"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mdInline keeps s on one line and stops it from starting markup.
func mdInline(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "'").Replace(s)
}

func mdCell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return mdInline(s)
}

func formatDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d >= time.Second {
		d = d.Round(100 * time.Millisecond)
	}
	return d.String()
}
