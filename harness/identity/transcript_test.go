package identity

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

// exchangeLog collects what OnExchange reports.
type exchangeLog struct {
	mu  sync.Mutex
	all []contract.Exchange
}

func (l *exchangeLog) add(e contract.Exchange) {
	l.mu.Lock()
	l.all = append(l.all, e)
	l.mu.Unlock()
}

func (l *exchangeLog) list() []contract.Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]contract.Exchange(nil), l.all...)
}

// newRecordedIssuer is a test Issuer that records violations and exchanges.
func newRecordedIssuer(t testing.TB) (*Issuer, *violation.Log, *exchangeLog) {
	t.Helper()
	log, ex := &violation.Log{}, &exchangeLog{}
	i, _ := newTestIssuer(t, WithViolations(log), OnExchange(ex.add))
	return i, log, ex
}

// expectNoViolations fails t when log holds any violation.
func expectNoViolations(t testing.TB, log *violation.Log) {
	t.Helper()
	for _, v := range log.All() {
		t.Errorf("unexpected violation: %s", v)
	}
}

func TestRefusedTokenRequestsAreViolations(t *testing.T) {
	i, log, exchanges := newRecordedIssuer(t)
	contoso := fixtureApp(t, i, "contoso")
	fabrikam := fixtureApp(t, i, "fabrikam")
	v2 := "/" + contoso.TenantID + "/oauth2/v2.0/token"
	v1 := "/" + contoso.TenantID + "/oauth2/token"
	good := v2Form(contoso, MarketplaceAppID+"/.default")
	goodV1 := v1Form(contoso, MarketplaceAppID)
	capitalised := url.Values{"Grant_type": {"client_credentials"}, "Client_id": {contoso.ClientID},
		"client_secret": {contoso.Secret}, "scope": {MarketplaceAppID + "/.default"}}
	form := "application/x-www-form-urlencoded"

	for _, tc := range []struct {
		name, method, path, contentType, body string
		code                                  int
		status                                int
		field                                 string
		summary                               []string // each in the summary
		got                                   []string // each in got
	}{
		{"GET token request", http.MethodGet, v2 + "?" + good.Encode(), "", "", 900561, 405, "method",
			[]string{"sent as GET", "only POST"}, []string{"GET " + v2 + " → 405 AADSTS900561"}},
		{"capitalised names", http.MethodPost, v2, form, capitalised.Encode(), 900144, 400, "form.grant_type",
			[]string{"Grant_type instead of grant_type", "case-sensitive"}, []string{"AADSTS900144", "sent Client_id, Grant_type, client_secret, scope"}},
		{"missing scope", http.MethodPost, v2, form, without(good, "scope").Encode(), 900144, 400, "form.scope",
			[]string{"no scope parameter"}, []string{"AADSTS900144"}},
		{"missing resource v1", http.MethodPost, v1, form, without(goodV1, "resource").Encode(), 900144, 400, "form.resource",
			[]string{"no resource parameter"}, []string{"POST " + v1 + " → 400 AADSTS900144"}},
		{"JSON body", http.MethodPost, v2, "application/json", `{"grant_type":"client_credentials"}`, 900144, 400, "header.Content-Type",
			[]string{"not form-encoded", "application/json"}, []string{"AADSTS900144"}},
		{"parameters in the query", http.MethodPost, v2 + "?" + good.Encode(), form, "", 900144, 400, "form.grant_type",
			[]string{"in the query string"}, []string{"AADSTS900144"}},
		{"unsupported grant", http.MethodPost, v2, form, with(good, "grant_type", "password").Encode(), 70003, 400, "form.grant_type",
			[]string{"grant_type=password"}, []string{"AADSTS70003"}},
		{"scope without .default", http.MethodPost, v2, form, with(good, "scope", MarketplaceAppID).Encode(), 1002012, 400, "form.scope",
			[]string{"scope"}, []string{"AADSTS1002012"}},
		{"unknown client", http.MethodPost, v2, form, with(good, "client_id", "5b0f5a8e-3f3c-4f0e-8a51-0e6a2c1d9b44").Encode(), 700016, 400, "form.client_id",
			[]string{"5b0f5a8e-3f3c-4f0e-8a51-0e6a2c1d9b44", "not an app registered"}, []string{"AADSTS700016"}},
		{"client of another tenant", http.MethodPost, v2, form, v2Form(fabrikam, MarketplaceAppID+"/.default").Encode(), 700016, 400, "form.client_id",
			[]string{"not an app registered in tenant " + contoso.TenantID}, []string{"AADSTS700016"}},
		{"bad secret", http.MethodPost, v2, form, with(good, "client_secret", "guess").Encode(), 7000215, 401, "form.client_secret",
			[]string{"not app " + contoso.ClientID + "'s current secret"}, []string{"→ 401 AADSTS7000215"}},
		{"missing secret", http.MethodPost, v2, form, without(good, "client_secret").Encode(), 7000216, 401, "form.client_secret",
			[]string{"no client_secret"}, []string{"AADSTS7000216"}},
		{"client assertion", http.MethodPost, v2, form, with(without(good, "client_secret"), "client_assertion", "eyJ.x.y").Encode(), 700027, 401, "form.client_assertion",
			[]string{"client assertion"}, []string{"AADSTS700027"}},
		{"unknown tenant", http.MethodPost, "/0d1c3a4e-7f7b-4a55-9a1e-2b6f3c9d8e71/oauth2/v2.0/token", form, good.Encode(), 90002, 400, "path.tenant",
			[]string{"tenant \"0d1c3a4e-7f7b-4a55-9a1e-2b6f3c9d8e71\""}, []string{"AADSTS90002"}},
		{"tenantless", http.MethodPost, "/common/oauth2/v2.0/token", form, good.Encode(), 9001023, 400, "path.tenant",
			[]string{"tenant-less authority /common"}, []string{"AADSTS9001023"}},
		{"no tenant in the path", http.MethodPost, "/oauth2/v2.0/token", form, good.Encode(), 0, 404, "path",
			[]string{"path Entra ID does not serve"}, []string{"POST /oauth2/v2.0/token → 404"}},
		{"malformed form", http.MethodPost, v2, form, "grant_type=%zz", 0, 400, "body",
			[]string{"not a well-formed form"}, []string{"→ 400"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.Reset()
			before := len(exchanges.list())
			r := httptest.NewRequest(tc.method, "https://login.test"+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			i.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			vs := log.ForRule(RuleTokenRequest)
			if len(vs) != 1 || log.Len() != 1 {
				t.Fatalf("violations %v, want one %s", log.All(), RuleTokenRequest)
			}
			v := vs[0]
			if tc.code != 0 && !strings.Contains(v.Got, fmt.Sprintf("AADSTS%d", tc.code)) {
				t.Errorf("got %q lacks AADSTS%d", v.Got, tc.code)
			}
			for _, s := range tc.summary {
				if !strings.Contains(v.Summary, s) {
					t.Errorf("summary %q lacks %q", v.Summary, s)
				}
			}
			for _, s := range tc.got {
				if !strings.Contains(v.Got, s) {
					t.Errorf("got %q lacks %q", v.Got, s)
				}
			}
			if v.Field != tc.field {
				t.Errorf("field %q, want %q", v.Field, tc.field)
			}
			if v.Want == "" || v.Fix == "" || strings.Contains(v.Fix, "\n") {
				t.Errorf("want %q, fix %q: want both, fix on one line", v.Want, v.Fix)
			}
			if v.Method != tc.method || v.Path != redactQuery(r.URL.RequestURI()) || !strings.HasPrefix(v.Path, r.URL.Path) || v.Status != tc.status || v.Severity != violation.Error ||
				v.Doc == "" || v.At.IsZero() || v.CorrelationID == "" {
				t.Errorf("exchange fields of %+v", v)
			}
			for _, s := range []string{contoso.Secret, fabrikam.Secret, "guess"} {
				if strings.Contains(v.String(), s) {
					t.Errorf("violation shows the secret %q: %s", s, v)
				}
			}
			xs := exchanges.list()[before:]
			if len(xs) != 1 {
				t.Fatalf("%d exchanges recorded, want 1", len(xs))
			}
			x := xs[0]
			wantOp := OpToken
			if tc.status == http.StatusNotFound {
				wantOp = OpUnknown
			}
			if x.Operation != wantOp || !IsOperation(x.Operation) || x.Method != tc.method || x.URL != r.URL.RequestURI() ||
				x.Status != tc.status || string(x.RequestBody) != tc.body || x.ResponseBody == nil || string(x.ResponseBody) != w.Body.String() ||
				x.ResponseHeader.Get("Content-Type") == "" || x.CorrelationID != v.CorrelationID || len(x.Violations) != 1 || x.Violations[0].Rule != RuleTokenRequest {
				t.Errorf("exchange %+v", x)
			}
		})
	}
}

func TestGoodRequestsAreExchangesWithoutViolations(t *testing.T) {
	i, log, exchanges := newRecordedIssuer(t)
	app := fixtureApp(t, i, "contoso")
	base := "/" + app.TenantID
	w := postForm(i, base+"/oauth2/v2.0/token", v2Form(app, MarketplaceAppID+"/.default openid profile offline_access"), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("v2 token: %d %s", w.Code, w.Body)
	}
	if w := postForm(i, base+"/oauth2/token", v1Form(app, MarketplaceAppID), nil); w.Code != http.StatusOK {
		t.Fatalf("v1 token: %d %s", w.Code, w.Body)
	}
	for _, p := range []string{"/v2.0/.well-known/openid-configuration", "/.well-known/openid-configuration",
		"/discovery/v2.0/keys", "/discovery/keys"} {
		w := httptest.NewRecorder()
		i.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://login.test"+base+p, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", p, w.Code)
		}
	}
	// Not token requests: answered with errors, blamed on no one.
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "https://login.test"+base+"/v2.0/.well-known/openid-configuration", nil),
		httptest.NewRequest(http.MethodGet, "https://login.test/common/discovery/instance?api-version=1.1&authorization_endpoint=https%3A%2F%2Flogin.test%2Fcommon%2Foauth2%2Fv2.0%2Fauthorize", nil),
		httptest.NewRequest(http.MethodGet, "https://login.test/favicon.ico", nil),
	} {
		i.ServeHTTP(httptest.NewRecorder(), r)
	}
	expectNoViolations(t, log)

	xs := exchanges.list()
	var ops []string
	for _, x := range xs {
		ops = append(ops, x.Operation)
		if len(x.Violations) != 0 {
			t.Errorf("exchange %s %s has violations %v", x.Method, x.URL, x.Violations)
		}
	}
	want := []string{OpToken, OpToken, OpOpenIDConfig, OpOpenIDConfig, OpKeys, OpKeys, OpOpenIDConfig, OpInstance, OpUnknown}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Errorf("operations %v, want %v", ops, want)
	}
	tok := xs[0]
	if tok.Method != http.MethodPost || tok.Status != http.StatusOK || !strings.Contains(string(tok.RequestBody), "client_secret=") ||
		!strings.Contains(string(tok.ResponseBody), `"access_token"`) || tok.RequestHeader.Get("Content-Type") == "" ||
		tok.ResponseHeader.Get("x-ms-request-id") == "" || tok.RequestID == "" || tok.At.IsZero() {
		t.Errorf("token exchange %+v", tok)
	}
	if tok.ResponseBody == nil || string(tok.ResponseBody) != w.Body.String() {
		t.Error("the exchange's response body is not what the client got")
	}
}

// Recording must not change what a client sees, an oversized body included.
func TestRecordingKeepsAnswers(t *testing.T) {
	plain, _ := newTestIssuer(t)
	recorded, log, _ := newRecordedIssuer(t)
	app := fixtureApp(t, plain, "contoso")
	big := strings.Repeat("x", maxBody+10)
	path := "/" + app.TenantID + "/oauth2/v2.0/token"
	for _, body := range []string{big, "grant_type=" + big} {
		var codes []int
		for _, i := range []*Issuer{plain, recorded} {
			r := httptest.NewRequest(http.MethodPost, "https://login.test"+path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.ContentLength = -1 // no early refusal on Content-Length: the read must notice
			w := httptest.NewRecorder()
			i.ServeHTTP(w, r)
			codes = append(codes, w.Code)
		}
		if codes[0] != codes[1] || codes[0] != http.StatusRequestEntityTooLarge {
			t.Errorf("statuses plain, recorded = %v, want 413 both", codes)
		}
	}
	if n := len(log.ForRule(RuleTokenRequest)); n != 2 {
		t.Errorf("%d violations for oversized bodies, want 2", n)
	}
}

func TestTranscriptOptionsRefuseNil(t *testing.T) {
	if _, err := New(WithViolations(nil)); err == nil {
		t.Error("WithViolations(nil) accepted")
	}
	if _, err := New(OnExchange(nil)); err == nil {
		t.Error("OnExchange(nil) accepted")
	}
}
