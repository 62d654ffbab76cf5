package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// gomegaVisit is the failure Gomega gives Expect(err).NotTo(HaveOccurred(),
// "visiting the landing page"), with the spec's rules put first.
const gomegaVisit = "FUL-RESOLVE-01, FUL-ACTIVATE-02: visiting the landing page\nUnexpected error:\n" +
	"    <*url.Error | 0xc0001a2b40>: \n" +
	"    Get \"http://127.0.0.1:8080/landing?token=x\": dial tcp 127.0.0.1:8080: connect: connection refused\n" +
	"    {\n        Op: \"Get\",\n    }\n"

// TestSummaryNamesTheCauseOfAGomegaFailure: a failure whose first line is
// only what the harness was doing names the error that stopped it, in the
// summary, the causes and the spec's headline.
func TestSummaryNamesTheCauseOfAGomegaFailure(t *testing.T) {
	r := types.Report{SpecReports: types.SpecReports{{
		ContainerHierarchyTexts: []string{"Landing page"}, ContainerHierarchyLabels: [][]string{{"flow:landing"}},
		LeafNodeType: types.NodeTypeIt, LeafNodeText: "does not activate again when an active customer returns",
		LeafNodeLabels: []string{"FUL-RESOLVE-01", "FUL-ACTIVATE-02"}, State: types.SpecStateFailed,
		Failure: types.Failure{Message: gomegaVisit},
	}}}
	rep := Build(r, RunData{})
	const want = "visiting the landing page: Get \"http://127.0.0.1:8080/landing?token=x\": dial tcp 127.0.0.1:8080: connect: connection refused"
	if got := rep.Specs[0].Headline(); !strings.HasSuffix(got, want) {
		t.Errorf("headline %q, want it to end %q", got, want)
	}
	if len(rep.Causes) != 1 || !strings.Contains(rep.Causes[0].Summary, "connection refused") {
		t.Errorf("causes %+v: want the error in the summary", rep.Causes)
	}
	var m bytes.Buffer
	if err := WriteMarkdown(&m, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.String(), "visiting the landing page: Get \"http://127.0.0.1:&lt;port&gt;/landing?token=x\": dial tcp") &&
		!strings.Contains(m.String(), "visiting the landing page: Get \"http://127.0.0.1:8080/landing?token=x\": dial tcp") {
		t.Errorf("summary.md does not name the cause:\n%s", m.String())
	}
}

func TestFailureHeadline(t *testing.T) {
	for in, want := range map[string]string{
		"plain line\nmore": "plain line",
		gomegaVisit:        "FUL-RESOLVE-01, FUL-ACTIVATE-02: visiting the landing page: Get \"http://127.0.0.1:8080/landing?token=x\": dial tcp 127.0.0.1:8080: connect: connection refused",
		"doing x\nUnexpected error:\n    <*errors.errorString | 0xc000>: boom\n    {s: \"boom\"}": "doing x: boom",
		"Unexpected error:\n    <*errors.errorString | 0xc000>: \n    boom\n":                     "boom",
		"  ": "",
	} {
		if got := failureHeadline(in); got != want {
			t.Errorf("failureHeadline(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOneFailureMessageHeadingPerSpec guards the failed-spec cards: each
// has one "Failure message" block, whether it has violations or not.
func TestOneFailureMessageHeadingPerSpec(t *testing.T) {
	r, d := synthetic()
	extra := r.SpecReports[0]
	extra.LeafNodeText = "fails without a violation"
	extra.ReportEntries = nil
	extra.Failure = types.Failure{Message: gomegaVisit}
	r.SpecReports = append(r.SpecReports, extra)
	var h bytes.Buffer
	if err := WriteHTML(&h, Build(r, d)); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	cards := strings.Count(page, `<article class="card spec-failed">`)
	if n := strings.Count(page, "<summary>Failure message"); cards != 2 || n != cards {
		t.Errorf("%d failed-spec cards, %d Failure message headings; want 2 and one each", cards, n)
	}
}
