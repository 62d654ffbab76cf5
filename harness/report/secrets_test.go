package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKnownSecretsRedactedEverywhere gives Build the run's secrets — a
// client secret the app logs over and over and a purchase token it prints
// whole — and looks for them, in every form an app may print them, in
// every writer's output.
func TestKnownSecretsRedactedEverywhere(t *testing.T) {
	const clientSecret = "Xq8~plain.client-SECRET_value"
	purchase := "TRW03bDJLOeOYUpId/EjrEOIn46phnx7vtVQE+rHsBvXpEps/ZkU3ES9aMVsg3E9UDL+G80l4G=="
	const key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsigning\nkeymaterial==\n-----END RSA PRIVATE KEY-----"
	r, d := synthetic()
	d.Secrets = []Secret{{Name: "client secret", Value: clientSecret}, {Name: "purchase token", Value: purchase}}
	var log strings.Builder
	for range 33 {
		log.WriteString("config: secret=" + clientSecret + "\n")
	}
	log.WriteString("landing: token=" + url.QueryEscape(purchase) + " decoded=" + purchase + "\n")
	log.WriteString("twice decoded: " + strings.ReplaceAll(purchase, "+", " ") + "\n")
	log.WriteString("signing key:\n" + key + "\n")
	d.PublisherLog = []byte(log.String())
	d.Exchanges[1].ResponseBody = []byte(`{"echo":"` + clientSecret + `"}`)
	d.Violations[0].Got = clientSecret
	rep := Build(r, d)

	var j, m, h, c bytes.Buffer
	for _, err := range []error{WriteJSON(&j, rep), WriteMarkdown(&m, rep), WriteHTML(&h, rep), WriteConsole(&c, rep)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, out := range map[string]string{"JSON": j.String(), "Markdown": m.String(), "HTML": h.String(), "console": c.String()} {
		for _, s := range []string{clientSecret, purchase, url.QueryEscape(purchase), strings.ReplaceAll(purchase, "+", " "), "keymaterial"} {
			if n := strings.Count(out, s); n > 0 {
				t.Errorf("%s output holds the secret %.20q… %d times", name, s, n)
			}
		}
	}
	if !strings.Contains(rep.PublisherLog.Text, "config: secret=<redacted client secret>") {
		t.Errorf("publisher log does not say what was redacted:\n%s", rep.PublisherLog.Text[:200])
	}
}

func TestRedactorStream(t *testing.T) {
	const secret = "stream-secret-0123456789"
	var out bytes.Buffer
	w := NewRedactor(Secret{Name: "client secret", Value: secret}).Writer(&out)
	// The secret arrives split across writes, and the last line has no
	// newline until Close.
	for _, p := range []string{"a=" + secret[:7], secret[7:] + "\nb=", secret + "\nno newline " + secret} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "a=<redacted client secret>\nb=<redacted client secret>\nno newline <redacted client secret>"
	if out.String() != want {
		t.Errorf("stream gave %q, want %q", out.String(), want)
	}
}

// TestRedactorStreamShapes sends, through the log writer, a private key
// spread over lines and split across writes, a bearer token and prose:
// the key's lines and the token go, the prose stays.
func TestRedactorStreamShapes(t *testing.T) {
	var out bytes.Buffer
	w := NewRedactor().Writer(&out)
	in := "starting\nkey:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsigning\nkeymaterial==\n-----END RSA PRIVATE KEY-----\n" +
		"call with Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\nthe bearer token was refused\n"
	for _, p := range []string{in[:40], in[40:77], in[77:]} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, secret := range []string{"MIIEowIBAAKCAQEAsigning", "keymaterial", "eyJhbGciOiJSUzI1NiJ9"} {
		if strings.Contains(got, secret) {
			t.Errorf("the log kept %q:\n%s", secret, got)
		}
	}
	for _, kept := range []string{"starting\n", "<redacted RSA private key>", "the bearer token was refused\n"} {
		if !strings.Contains(got, kept) {
			t.Errorf("the log lacks %q:\n%s", kept, got)
		}
	}
}

func TestRedactFileKeepsTheFormat(t *testing.T) {
	const secret = "file-secret-0123456789"
	rd := NewRedactor(Secret{Name: "client secret", Value: secret})
	dir := t.TempDir()
	xmlPath, jsonPath := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json")
	if err := os.WriteFile(xmlPath, []byte(`<testsuite><failure message="sent `+secret+`">body `+secret+`</failure></testsuite>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jsonPath, []byte(`{"message":"sent `+secret+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{xmlPath, jsonPath} {
		if err := rd.RedactFile(p); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := os.ReadFile(xmlPath)
	var doc struct {
		Failure struct {
			Message string `xml:"message,attr"`
			Body    string `xml:",chardata"`
		} `xml:"failure"`
	}
	if err := xml.Unmarshal(x, &doc); err != nil || doc.Failure.Message != "sent <redacted client secret>" || doc.Failure.Body != "body <redacted client secret>" {
		t.Errorf("junit.xml after redaction: %s (%v)", x, err)
	}
	j, _ := os.ReadFile(jsonPath)
	var m map[string]string
	if err := json.Unmarshal(j, &m); err != nil || m["message"] != "sent <redacted client secret>" {
		t.Errorf("report.json after redaction: %s (%v)", j, err)
	}
}

func TestSubMillisecondCallsShowTheirTime(t *testing.T) {
	r, d := synthetic()
	d.Exchanges[1].Duration = 420 * time.Microsecond
	rep := Build(r, d)
	if x := rep.Exchanges[1]; x.DurationMs != 0 || x.DurationUs != 420 {
		t.Errorf("duration %d ms / %d µs, want 0 / 420", x.DurationMs, x.DurationUs)
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.String(), `<span class="muted">0.42 ms</span>`) {
		t.Error("the HTML does not show a call under a millisecond as 0.42 ms")
	}
}
