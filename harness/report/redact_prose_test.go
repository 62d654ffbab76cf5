package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// TestRedactionLeavesRuleTextsAlone runs the redaction over every rule's
// statement in spec/rules.yaml and over fix and summary lines the harness
// prints: prose about bearer tokens is not a secret.
func TestRedactionLeavesRuleTextsAlone(t *testing.T) {
	rules, err := spec.Rules()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"validate the webhook's bearer token: check the signature against Entra's keys",
		"bearer token used after its exp; 403 once it expires",
		"Bearer token was issued for another API",
		"the Authorization header has no Bearer scheme",
		"send Authorization: Bearer <token> with every call",
		"Webhook authentication refuses a webhook call with a bearer value that is not a JWT and changes nothing",
		"the marketplace refused the bearer token.",
		"the header carries Bearer and nothing else",
	}
	for _, r := range rules {
		texts = append(texts, r.Statement)
	}
	for _, s := range texts {
		if got := RedactText(s); got != s {
			t.Errorf("RedactText changed prose:\n  in: %q\n out: %q", s, got)
		}
	}
}

// TestReportKeepsBearerProse builds a report whose violation fix and
// summary talk about bearer tokens and looks for them, whole, in every
// writer's output.
func TestReportKeepsBearerProse(t *testing.T) {
	r, d := synthetic()
	v := violation.Violation{Rule: "WH-AUTH-01", Severity: violation.Error,
		Summary: "webhook accepted a bearer value that is not a JWT",
		Fix:     "validate the webhook's bearer token: refuse alg none", At: at(10)}
	d.Violations = append(d.Violations, v)
	d.Exchanges[0].ResponseBody = []byte(`{"error":"invalid_client","error_description":"Bearer token used by another app"}`)
	rep := Build(r, d)
	var j, m, h bytes.Buffer
	for _, err := range []error{WriteJSON(&j, rep), WriteMarkdown(&m, rep), WriteHTML(&h, rep)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, out := range map[string]string{"JSON": j.String(), "Markdown": m.String(), "HTML": h.String()} {
		if strings.Contains(out, "Bearer <redacted: 5 chars>") || strings.Contains(out, "Bearer &lt;redacted: 5 chars&gt;") {
			t.Errorf("%s output redacted the word after \"bearer\"", name)
		}
		if !strings.Contains(out, "a bearer value that is not a JWT") || !strings.Contains(out, "validate the webhook") || !strings.Contains(out, "bearer token: refuse alg none") {
			t.Errorf("%s output lost the fix text", name)
		}
	}
	if body := rep.Exchanges[0].ResponseBody; !strings.Contains(body, "Bearer token used by another app") {
		t.Errorf("the fake's response body was garbled: %q", body)
	}
}

// TestWebhookFixLinesSurviveRedaction redacts every WH-AUTH-01 fix line the
// webhook sender writes (one per forgery), as they reach summary.md.
func TestWebhookFixLinesSurviveRedaction(t *testing.T) {
	i, err := identity.New(identity.WithURL("https://login.test"))
	if err != nil {
		t.Fatal(err)
	}
	app, ok := i.AppByPublisher("contoso")
	if !ok {
		t.Fatal("no contoso app in the fixtures")
	}
	fs, err := i.Forgeries(app, identity.V2)
	if err != nil || len(fs) == 0 {
		t.Fatalf("forgeries: %d, %v", len(fs), err)
	}
	for _, f := range fs {
		fix := "validate the webhook's bearer token: " + f.Check // as harness/driver writes it
		summary := "webhook accepted a forged token (" + f.Name + ")"
		for _, s := range []string{fix, summary} {
			if got := RedactText(s); got != s {
				t.Errorf("RedactText changed a WH-AUTH-01 line:\n  in: %q\n out: %q", s, got)
			}
		}
		if f.Header != "" && RedactText("Authorization: "+f.Header) == "Authorization: "+f.Header {
			t.Errorf("the forged header of %s was not redacted", f.Name)
		}
	}
}
