package target

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem with a target file.
type Error struct {
	Source  string // the file, as given to Load or Parse
	Line    int    // 1-based; 0 when the problem has no line (a missing section)
	Field   string // dotted path, e.g. publisher.start.readyTimeout
	Problem string // what is wrong
	Fix     string // what to write instead; may be empty
}

// Error formats the problem on one line:
//
//	target.yaml:12: publisher.landng: unknown field — did you mean "landing"?
func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(" — " + e.Fix)
	}
	return b.String()
}

// Errors is every problem found in one target file, in line order.
type Errors []*Error

// Error lists the problems one a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sorted orders problems by line and then field, so a report reads like the
// file; problems without a line (missing sections) come first.
func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Field < es[j].Field
	})
	return es
}

// didYouMean suggests the closest of choices to got, or "" when nothing is
// close enough to be a likely typo.
func didYouMean(got string, choices []string) string {
	best, bestD := "", -1
	for _, c := range choices {
		d := distance(strings.ToLower(got), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	// A third of the word (at least one edit, at most three) is a typo;
	// more is a different word.
	limit := max(1, min(3, len(got)/3))
	if bestD < 0 || bestD > limit {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}

// distance is the optimal-string-alignment edit distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours ("strat" for
// "start") each cost one.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// oneOf formats choices for a fix: "http or browser", "a, b or c".
func oneOf(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = strconv.Quote(c)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
