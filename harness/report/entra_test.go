package report

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/violation"
)

// TestEntraExchangesInAReport runs token requests through the real fake
// Entra ID, good and refused, and checks the report shows them labelled,
// with the refusal's AUTH-05 on its exchange, and no secret anywhere — a
// capitalised Client_secret included.
func TestEntraExchangesInAReport(t *testing.T) {
	log := &violation.Log{}
	var mu sync.Mutex
	var xs []contract.Exchange
	keep := func(e contract.Exchange) { mu.Lock(); xs = append(xs, e); mu.Unlock() }
	i, err := identity.New(identity.WithURL("https://login.test"), identity.WithViolations(log), identity.OnExchange(keep))
	if err != nil {
		t.Fatal(err)
	}
	app, ok := i.AppByPublisher("contoso")
	if !ok {
		t.Fatal("no contoso app in the fixtures")
	}
	post := func(form string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "https://login.test/"+app.TenantID+"/oauth2/v2.0/token", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		i.ServeHTTP(w, r)
		return w
	}
	scope := url.QueryEscape(identity.MarketplaceAppID + "/.default")
	good := post("grant_type=client_credentials&client_id=" + app.ClientID + "&client_secret=" + url.QueryEscape(app.Secret) + "&scope=" + scope)
	if good.Code != http.StatusOK || !strings.Contains(good.Body.String(), "access_token") {
		t.Fatalf("good request: %d %s", good.Code, good.Body)
	}
	token := strings.Split(strings.Split(good.Body.String(), `"access_token":"`)[1], `"`)[0]
	if bad := post("grant_type=client_credentials&client_id=" + app.ClientID + "&Client_secret=" + url.QueryEscape(app.Secret) + "&scope=" + scope); bad.Code != http.StatusUnauthorized {
		t.Fatalf("capitalised Client_secret: %d %s", bad.Code, bad.Body)
	}

	rep := Build(Report0(), RunData{Violations: log.All(), Exchanges: xs})
	if len(rep.Exchanges) != 2 || !rep.Exchanges[0].Entra() || rep.Exchanges[0].Operation != identity.OpToken {
		t.Fatalf("exchanges %+v", rep.Exchanges)
	}
	if len(rep.Exchanges[0].Violations) != 0 {
		t.Errorf("the good request has violations %+v", rep.Exchanges[0].Violations)
	}
	if vs := rep.Exchanges[1].Violations; len(vs) != 1 || vs[0].Rule != identity.RuleTokenRequest || !strings.Contains(vs[0].Got, "AADSTS7000216") {
		t.Errorf("the refused request's violations %+v, want one AUTH-05 with AADSTS7000216", vs)
	}
	if body := rep.Exchanges[1].RequestBody; !strings.Contains(body, "Client_secret=<redacted>") {
		t.Errorf("request body %q: Client_secret not redacted", body)
	}
	if body := rep.Exchanges[0].ResponseBody; !strings.Contains(body, `"access_token":"<redacted>"`) {
		t.Errorf("response body %q: access_token not redacted", body)
	}

	var j, m, h bytes.Buffer
	for _, err := range []error{WriteJSON(&j, rep), WriteMarkdown(&m, rep), WriteHTML(&h, rep)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, out := range map[string]string{"JSON": j.String(), "Markdown": m.String(), "HTML": h.String()} {
		for _, s := range []string{app.Secret, url.QueryEscape(app.Secret), token} {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains the secret %q", name, s)
			}
		}
	}
	if !strings.Contains(h.String(), `<span class="pill entra">Entra ID</span>`) || !strings.Contains(m.String(), "AUTH-05") {
		t.Error("the HTML does not label Entra's calls, or the summary misses AUTH-05")
	}
}

func TestRedactIgnoresCaseOfNames(t *testing.T) {
	for in, want := range map[string]string{
		"Grant_type=client_credentials&Client_secret=s3cr3t&scope=x": "Grant_type=client_credentials&Client_secret=<redacted>&scope=x",
		"CLIENT_ASSERTION=eyJ.x.y":                                   "CLIENT_ASSERTION=<redacted>",
		`{"Access_Token":"abc"}`:                                     `{"Access_Token":"<redacted>"}`,
		"/t/oauth2/v2.0/token?Client_Secret=s3cr3t&scope=x":          "/t/oauth2/v2.0/token?Client_Secret=<redacted>&scope=x",
	} {
		if got := RedactBody(in); got != want {
			t.Errorf("RedactBody(%q) = %q, want %q", in, got, want)
		}
	}
}
