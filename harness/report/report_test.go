package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/saasconform/saasconform/harness/violation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func build(t *testing.T) *Report {
	t.Helper()
	r, d := synthetic()
	return Build(r, d)
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./harness/report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %q\nwant: %q\n(run go test ./harness/report -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	r := build(t)
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"report.json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
		{"summary.md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
		{"report.html", func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }},
		{"console.txt", func(b *bytes.Buffer, r *Report) error { return WriteConsole(b, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b, r); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestBuild(t *testing.T) {
	r := build(t)
	if r.Verdict != Failed || r.Totals.Specs != 3 || r.Totals.Passed != 1 || r.Totals.Failed != 1 || r.Totals.Skipped != 1 || r.Totals.NotRun != 1 {
		t.Errorf("verdict %s, totals %+v; want failed, 3 specs: 1 passed, 1 failed, 1 skipped, 1 not run", r.Verdict, r.Totals)
	}
	if r.Totals.Violations["error"] != 2 || r.Totals.Violations["warning"] != 1 || len(r.Violations) != 3 {
		t.Errorf("violations %v (%d): want 2 errors and 1 warning, the repeat dropped", r.Totals.Violations, len(r.Violations))
	}
	if r.Specs[0].State != "failed" || r.Specs[0].Flow != "activation" || len(r.Specs[0].Violations) != 2 {
		t.Fatalf("first spec: %+v; want the failed activation spec with its 2 violations", r.Specs[0])
	}
	if got := strings.Join(r.Specs[0].Rules, ","); got != "FUL-ACTIVATE-01,FUL-ACTIVATE-02,STATE-06" {
		t.Errorf("rules %s", got)
	}
	if r.Specs[0].Failure == nil || r.Specs[0].Failure.Location != "suites/activation.go:16" {
		t.Errorf("failure %+v; want location suites/activation.go:16", r.Specs[0].Failure)
	}
	landing := r.Specs[1]
	if landing.State != "passed" || len(landing.Violations) != 1 || landing.Violations[0].Rule != "FUL-HEADERS-01" {
		t.Errorf("landing spec %+v: want passed with the warning decoded from the entry's JSON", landing)
	}
	if skip := r.Specs[2]; skip.State != "skipped" || !strings.Contains(skip.SkipReason, `capability "suspend"`) || strings.Join(skip.Rules, ",") != "WH-SUSPEND-01" {
		t.Errorf("skipped spec %+v: want its reason and only rule-ID labels", skip)
	}
	want := []Mismatch{
		{SubscriptionID: subA, When: "publisher's view differs from Microsoft's after activation", Field: "status", Microsoft: "Subscribed", Publisher: "PendingFulfillmentStart", At: at(2500)},
		{SubscriptionID: subA, When: "publisher's view differs from Microsoft's after activation", Field: "planId", Microsoft: "flat-monthly", Publisher: "gold plan", At: at(2500)},
	}
	if len(r.Mismatches) != 2 || r.Mismatches[0] != want[0] || r.Mismatches[1] != want[1] {
		t.Errorf("mismatches %+v\nwant %+v", r.Mismatches, want)
	}
	if len(r.Flows) != 3 || r.Flows[0].Name != "activation" || r.Flows[0].Failed != 1 {
		t.Errorf("flows %+v", r.Flows)
	}
	if r.Rules[0].Rule != "FUL-ACTIVATE-01" || r.Rules[len(r.Rules)-1].Severity != "warning" {
		t.Errorf("rules summary %+v: errors first", r.Rules)
	}
}

func TestBuildEmpty(t *testing.T) {
	r := Build(Report0(), RunData{Interrupted: true, Reason: "interrupted by signal"})
	if r.Verdict != Interrupted || r.Specs == nil || r.Violations == nil || r.Exchanges == nil {
		t.Errorf("%+v", r)
	}
	for _, w := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return WriteJSON(b, r) },
		func(b *bytes.Buffer) error { return WriteMarkdown(b, r) },
		func(b *bytes.Buffer) error { return WriteHTML(b, r) },
		func(b *bytes.Buffer) error { return WriteConsole(b, r) },
	} {
		var b bytes.Buffer
		if err := w(&b); err != nil || b.Len() == 0 {
			t.Errorf("writing an empty report: %v", err)
		}
	}
}

func TestParsePairs(t *testing.T) {
	for _, tc := range []struct {
		in    string
		names []string
		want  string
	}{
		{"status=Subscribed planId=gold", nil, "status:Subscribed|planId:gold"},
		{"subscription=GET /x: connection refused a=b", []string{"subscription"}, "subscription:GET /x: connection refused a=b"},
		{"quantity=", []string{"quantity"}, "quantity:"},
		{"", nil, ""},
	} {
		var parts []string
		for _, p := range parsePairs(tc.in, tc.names) {
			parts = append(parts, p[0]+":"+p[1])
		}
		if got := strings.Join(parts, "|"); got != tc.want {
			t.Errorf("parsePairs(%q, %v) = %q, want %q", tc.in, tc.names, got, tc.want)
		}
	}
}

func TestPublisherLogKeepsTail(t *testing.T) {
	big := strings.Repeat("early line\n", MaxPublisherLog/11+10) + "the crash\n"
	l := buildLog(nil, []byte(big))
	if len(l.Text) > MaxPublisherLog || !strings.HasSuffix(l.Text, "the crash\n") || l.TruncatedBytes == 0 ||
		l.TruncatedBytes+len(l.Text) != len(big) || !strings.HasPrefix(l.Text, "early line\n") {
		t.Errorf("kept %d bytes, dropped %d of %d; want the tail, from a line start, under 2 MiB", len(l.Text), l.TruncatedBytes, len(big))
	}
}

func TestRedactHeaderValue(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"Authorization", "Bearer abcdefghij", "Bearer <redacted: 10 chars>"},
		{"authorization", "bearer abc", "Bearer <redacted: 3 chars>"},
		{"Authorization", "Basic dXNlcjpwYXNz", "Basic <redacted: 12 chars>"},
		{"Authorization", "opaque", "<redacted: 6 chars>"},
		{"X-Ms-Marketplace-Token", "PURCHASEtoken", "PURCHA…"},
		{"x-ms-marketplace-token", "abc", "…"},
		{"Content-Type", "application/json", "application/json"},
	} {
		if got := RedactHeaderValue(tc.name, tc.in); got != tc.want {
			t.Errorf("RedactHeaderValue(%q, %q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
	h := RedactHeader(http.Header{"authorization": {"Bearer xyz"}})
	if got := h["Authorization"]; len(got) != 1 || got[0] != "Bearer <redacted: 3 chars>" {
		t.Errorf("RedactHeader: %v", h)
	}
}

func TestRedactBody(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"access_token":"abc","expires_in":3600}`, `{"access_token":"<redacted>","expires_in":3600}`},
		{`{"client_secret" : "a\"b", "x":"y"}`, `{"client_secret" : "<redacted>", "x":"y"}`},
		{"{\n  \"id_token\": \"t1\",\n  \"refresh_token\": \"t2\"\n}", "{\n  \"id_token\": \"<redacted>\",\n  \"refresh_token\": \"<redacted>\"\n}"},
		{"grant_type=client_credentials&client_secret=s3cr3t&scope=x", "grant_type=client_credentials&client_secret=<redacted>&scope=x"},
		{"client_secret=s3cr3t", "client_secret=<redacted>"},
		{"refresh_token=r&access_token=a", "refresh_token=<redacted>&access_token=<redacted>"},
		{"GET /cb?id_token=abc HTTP/1.1", "GET /cb?id_token=<redacted> HTTP/1.1"},
		{"calling with Authorization: Bearer eyJ0.eyJ1.sig", "calling with Authorization: Bearer <redacted: 13 chars>"},
		{`{"planId":"gold","token_type":"Bearer"}`, `{"planId":"gold","token_type":"Bearer"}`},
		{"no secrets here", "no secrets here"},
		{"AUTH-01: bearer token was issued for another API", "AUTH-01: bearer token was issued for another API"},
		{"send a Bearer token, not Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "send a Bearer token, not Bearer <redacted: 36 chars>"},
		{"bearer value abc.def is not a JWT", "bearer value abc.def is not a JWT"},
		{`{"authorization":"Basic dXNlcjpwYXNz"}`, `{"authorization":"Basic <redacted: 12 chars>"}`},
		{"header map[Authorization:[Bearer opaque-123] Accept:[*/*]]", "header map[Authorization:[Bearer <redacted: 10 chars>] Accept:[*/*]]"},
	} {
		if got := RedactBody(tc.in); got != tc.want {
			t.Errorf("RedactBody(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestNoSecretInAnyOutput writes the synthetic run every way and looks for
// each secret it carries.
func TestNoSecretInAnyOutput(t *testing.T) {
	r := build(t)
	var j, m, h, c bytes.Buffer
	if err := WriteJSON(&j, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&m, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&h, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteConsole(&c, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"JSON": j.String(), "Markdown": m.String(), "HTML": h.String(), "console": c.String()} {
		for _, s := range []string{secretBearer, secretPurchase, secretClient, secretAccess, secretRefresh, secretIDToken, "c2lnbmF0dXJl"} {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains the secret %q", name, s)
			}
		}
	}
	var back Report
	if err := json.Unmarshal(j.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	x := back.Exchanges[1]
	if got := x.RequestHeader["Authorization"]; len(got) != 1 || got[0] != fmt.Sprintf("Bearer <redacted: %d chars>", len(secretBearer)) {
		t.Errorf("resolve Authorization = %v", got)
	}
	if got := x.RequestHeader["X-Ms-Marketplace-Token"]; len(got) != 1 || got[0] != "PURCHA…" {
		t.Errorf("resolve x-ms-marketplace-token = %v", got)
	}
	if !strings.Contains(back.Exchanges[0].RequestBody, "client_secret=<redacted>") ||
		!strings.Contains(back.Exchanges[0].ResponseBody, `"access_token":"<redacted>"`) {
		t.Errorf("token exchange not redacted: %q / %q", back.Exchanges[0].RequestBody, back.Exchanges[0].ResponseBody)
	}
}

func TestHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, build(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<link", "src=\"http", "src='http", "@import", "url(http", "<script src"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page loads something from outside: %q", bad)
		}
	}
	if strings.Contains(page, "<script>alert('log')</script>") {
		t.Error("the publisher's log reached the page unescaped")
	}
}

// Report0 is Ginkgo's report of a run that never reported.
func Report0() types.Report { return types.Report{} }

func TestTokenViolationShowsOnlyTheDifference(t *testing.T) {
	raw := "TRW03bDJLOeOYUpId/EjrEOIn46phnx7vtVQE+rHsBvXpEps/ZkU3ES9aMVsg3E9UDL+G80l4G"
	decoded := strings.ReplaceAll(raw, "+", " ")
	v := convert(nil, violation.Violation{Rule: "FUL-RESOLVE-01", Field: "header.x-ms-marketplace-token", Got: decoded, Want: raw})
	if v.Got != "…nx7vtVQE rHsBvXp…" || v.Want != "…nx7vtVQE+rHsBvXp…" {
		t.Errorf("got %q want %q; want 8 characters either side of the first difference", v.Got, v.Want)
	}
	if a, b := diffWindow("abc", "abc"); a != "abc" || b != "abc" {
		t.Errorf("equal short tokens: %q %q", a, b)
	}
}

func TestViolationsLinkToTheirExchange(t *testing.T) {
	r, d := synthetic()
	d.Exchanges[2].Violations = nil // recorded by a handler, not by the contract check
	rep := Build(r, d)
	if got := rep.Exchanges[2].Violations; len(got) != 1 || got[0].Rule != "FUL-ACTIVATE-01" {
		t.Errorf("activate exchange violations %+v; want FUL-ACTIVATE-01 found by correlation ID", got)
	}
	if got := rep.Exchanges[0].Violations; len(got) != 0 {
		t.Errorf("token exchange violations %+v; want none", got)
	}
}
