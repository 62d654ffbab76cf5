package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Caps that keep the Markdown summary near 60 lines.
const (
	mdFailedSpecs = 12
	mdRules       = 12
	mdCauses      = 10
	mdCauseSpecs  = 40 // specs listed per cause (in a collapsed block)
)

// WriteMarkdown writes a short summary for a pull-request comment: the
// verdict, the totals, the causes of the failures first (most specs first,
// with their fix, and the specs of each in a collapsed block), then each
// spec that failed of its own accord with its rule IDs and a one-line fix,
// and the most frequent violations by rule with their doc links. Blocked
// specs appear only under their cause. The HTML report has the rest.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", verdictLine(r))
	fmt.Fprintf(&b, "Target `%s` · %s · started %s · seed %d · saasconform %s\n\n",
		orDash(r.Target), formatDuration(r.DurationMs), r.Started.Format(time.RFC3339), r.Seed, r.ToolVersion)
	if r.Reason != "" {
		label := "Note"
		switch {
		case r.Verdict == NotStarted:
			label = "Why"
		case r.Interrupted:
			label = "Interrupted"
		}
		fmt.Fprintf(&b, "> **%s:** %s\n\n", label, mdInline(r.Reason))
	}
	b.WriteString("| specs | passed | failed | blocked | skipped | not run | violations (errors / warnings) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d / %d |\n\n", r.Totals.Specs, r.Totals.Passed, r.Totals.Failed,
		r.Totals.Blocked, r.Totals.Skipped, r.Totals.NotRun, r.Totals.Violations["error"], r.Totals.Violations["warning"])

	if len(r.Causes) > 0 {
		writeMarkdownCauses(&b, r.Causes)
	}
	var failed []Spec
	for _, s := range r.Specs {
		if s.FailedOwn() {
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
	fmt.Fprintf(&b, "**State mismatches:** %s\n\n", mdInline(r.StateLine()))
	b.WriteString("Full details — every exchange, webhook delivery, state mismatch and the publisher's log — are in the HTML report.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdownCauses writes "### N causes", one line per cause, then the
// specs of each cause in a collapsed block.
func writeMarkdownCauses(b *strings.Builder, cs []Cause) {
	fmt.Fprintf(b, "### %s\n\n", plural(len(cs), "cause", "causes"))
	for i, c := range cs {
		if i == mdCauses {
			fmt.Fprintf(b, "- …and %s more (see the HTML report)\n", plural(len(cs)-i, "cause", "causes"))
			break
		}
		fmt.Fprintf(b, "- **%s** — %s\n", plural(c.Count, "spec", "specs"), mdCause(c))
	}
	if !slices.ContainsFunc(cs, func(c Cause) bool { return c.Count > 1 }) {
		b.WriteString("\n")
		return // one spec a cause: "Failed specs" lists them all
	}
	b.WriteString("\n<details><summary>Specs by cause</summary>\n\n")
	for i, c := range cs {
		if i == mdCauses {
			break
		}
		rule := ""
		if c.Rule != "" {
			rule = "`" + c.Rule + "` "
		}
		fmt.Fprintf(b, "**%s%s** (%d)\n\n", rule, mdCell(c.Summary, 120), c.Count)
		for j, text := range c.Specs {
			if j == mdCauseSpecs {
				fmt.Fprintf(b, "- …and %d more\n", len(c.Specs)-j)
				break
			}
			blocked := ""
			if j >= c.Own() {
				blocked = " _(blocked)_"
			}
			fmt.Fprintf(b, "- %s%s\n", mdInline(text), blocked)
		}
		b.WriteString("\n")
	}
	b.WriteString("</details>\n\n")
}

// mdCause is a cause on one line: rule (linked), summary, what kind, fix.
func mdCause(c Cause) string {
	var b strings.Builder
	switch {
	case c.Rule != "" && c.Doc != "":
		fmt.Fprintf(&b, "[`%s`](%s) ", c.Rule, c.Doc)
	case c.Rule != "":
		fmt.Fprintf(&b, "`%s` ", c.Rule)
	}
	b.WriteString(mdCell(c.Summary, 200))
	if c.Kind == CauseBlocked {
		fmt.Fprintf(&b, " — **root cause**: %s", causeSplit(c))
	}
	if c.Fix != "" {
		b.WriteString("; **fix:** " + mdCell(c.Fix, 200))
	}
	return b.String()
}

// causeSplit is "1 failed, 30 blocked" for a root cause.
func causeSplit(c Cause) string {
	if c.Own() == 0 {
		return fmt.Sprintf("%d blocked", c.Blocked)
	}
	return fmt.Sprintf("%d failed, %d blocked", c.Own(), c.Blocked)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func verdictLine(r *Report) string {
	t := r.Totals
	switch r.Verdict {
	case NotStarted:
		return "❌ saasconform: the run did not start — no spec ran"
	case Interrupted:
		if t.Blocked > 0 {
			return fmt.Sprintf("⚠️ saasconform: interrupted — %d passed, %d failed, %d blocked before it stopped", t.Passed, t.Failed, t.Blocked)
		}
		return fmt.Sprintf("⚠️ saasconform: interrupted — %d passed, %d failed before it stopped", t.Passed, t.Failed)
	case Failed:
		line := fmt.Sprintf("❌ saasconform: %d of %d specs failed", t.Failed+t.Blocked, t.Passed+t.Failed+t.Blocked)
		if t.Blocked > 0 {
			line += fmt.Sprintf(" (%d blocked)", t.Blocked)
		}
		return line + " — " + plural(len(r.Causes), "cause", "causes")
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
		return " — " + mdCell(failureHeadline(s.Failure.Message), 240)
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
