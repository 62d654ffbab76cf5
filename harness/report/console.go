package report

import (
	"fmt"
	"io"
	"strings"
)

// Caps that keep the console block short.
const (
	consoleCauses = 10  // causes listed, one line each
	consoleWidth  = 240 // runes per cause line
)

// WriteConsole writes a short plain-text block for the terminal after a
// run: the verdict, the totals (passed, failed, blocked, skipped), then each
// cause on one line — how many specs, rule, summary, fix — most specs
// first. At most 15 lines, no colours, no Markdown; the HTML report has the
// rest.
func WriteConsole(w io.Writer, r *Report) error {
	var b strings.Builder
	t := r.Totals
	verdict := strings.ToUpper(string(r.Verdict))
	if r.Verdict == Passed && t.Passed == 0 {
		verdict = "NO SPEC RAN"
	}
	fmt.Fprintf(&b, "saasconform: %s — %d passed, %d failed, %d blocked, %d skipped", verdict, t.Passed, t.Failed, t.Blocked, t.Skipped)
	if t.NotRun > 0 {
		fmt.Fprintf(&b, ", %d not run", t.NotRun)
	}
	b.WriteString("\n")
	if r.Reason != "" {
		label := "note"
		if r.Interrupted {
			label = "interrupted"
		}
		b.WriteString(clip(label+": "+oneLine(r.Reason), consoleWidth) + "\n")
	}
	if len(r.Causes) > 0 {
		fmt.Fprintf(&b, "%s:\n", plural(len(r.Causes), "cause", "causes"))
		width := len(fmt.Sprint(r.Causes[0].Count)) // the first has the most specs
		for i, c := range r.Causes {
			if i == consoleCauses {
				fmt.Fprintf(&b, "  …and %s more (see the HTML report)\n", plural(len(r.Causes)-i, "cause", "causes"))
				break
			}
			b.WriteString(clip(fmt.Sprintf("  %*d %s  %s", width, c.Count, specWord(c.Count), consoleCause(c)), consoleWidth) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// consoleCause is "RULE summary (root cause: 1 failed, 30 blocked); fix: …".
func consoleCause(c Cause) string {
	s := oneLine(c.Summary)
	if c.Rule != "" {
		s = c.Rule + " " + s
	}
	if c.Kind == CauseBlocked {
		s += " (root cause: " + causeSplit(c) + ")"
	}
	if c.Fix != "" {
		s += "; fix: " + oneLine(c.Fix)
	}
	return s
}

func specWord(n int) string {
	if n == 1 {
		return "spec "
	}
	return "specs"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
