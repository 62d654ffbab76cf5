package identity

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// v2Form is the request MSAL sends, extra OIDC scopes included.
func v2Form(app App, scope string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {app.ClientID},
		"client_secret": {app.Secret},
		"scope":         {scope},
	}
}

func v1Form(app App, resource string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {app.ClientID},
		"client_secret": {app.Secret},
		"resource":      {resource},
	}
}

func without(f url.Values, key string) url.Values {
	c := url.Values{}
	for k, v := range f {
		if k != key {
			c[k] = v
		}
	}
	return c
}

func with(f url.Values, key, value string) url.Values {
	c := without(f, key)
	c.Set(key, value)
	return c
}

func TestTokenEndpointErrors(t *testing.T) {
	i, _ := newTestIssuer(t)
	contoso := fixtureApp(t, i, "contoso")
	fabrikam := fixtureApp(t, i, "fabrikam")
	v2 := "/" + contoso.TenantID + "/oauth2/v2.0/token"
	v1 := "/" + contoso.TenantID + "/oauth2/token"
	good := v2Form(contoso, MarketplaceAppID+"/.default openid offline_access profile")
	goodV1 := v1Form(contoso, MarketplaceAppID)
	const unknownTenant = "0d1c3a4e-7f7b-4a55-9a1e-2b6f3c9d8e71" // registered nowhere

	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		kind   string
		code   int
	}{
		{"unknown tenant v2", "/" + unknownTenant + "/oauth2/v2.0/token", good, 400, "invalid_request", 90002},
		{"unknown tenant v1", "/" + unknownTenant + "/oauth2/token", goodV1, 400, "invalid_request", 90002},
		{"tenant domain name", "/contoso.onmicrosoft.com/oauth2/v2.0/token", good, 400, "invalid_request", 90002},
		{"tenant-less common", "/common/oauth2/v2.0/token", good, 400, "invalid_request", 9001023},
		{"tenant-less organizations v1", "/organizations/oauth2/token", goodV1, 400, "invalid_request", 9001023},
		{"unknown client", v2, with(good, "client_id", "5b0f5a8e-3f3c-4f0e-8a51-0e6a2c1d9b44"), 400, "unauthorized_client", 700016},
		{"client id not a GUID", v2, with(good, "client_id", "contoso-saas"), 400, "unauthorized_client", 700016},
		{"client of another tenant", v2, v2Form(fabrikam, MarketplaceAppID+"/.default"), 400, "unauthorized_client", 700016},
		{"client of another tenant v1", v1, v1Form(fabrikam, MarketplaceAppID), 400, "unauthorized_client", 700016},
		{"wrong secret", v2, with(good, "client_secret", "guess"), 401, "invalid_client", 7000215},
		{"wrong secret v1", v1, with(goodV1, "client_secret", "guess"), 401, "invalid_client", 7000215},
		{"missing secret", v2, without(good, "client_secret"), 401, "invalid_client", 7000216},
		{"client assertion", v2, with(without(good, "client_secret"), "client_assertion", "eyJ.x.y"), 401, "invalid_client", 700027},
		{"unsupported grant", v2, with(good, "grant_type", "password"), 400, "unsupported_grant_type", 70003},
		{"authorization code grant v1", v1, with(goodV1, "grant_type", "authorization_code"), 400, "unsupported_grant_type", 70003},
		{"missing grant", v2, without(good, "grant_type"), 400, "invalid_request", 900144},
		{"missing client id", v2, without(good, "client_id"), 400, "invalid_request", 900144},
		{"scope without .default", v2, with(good, "scope", MarketplaceAppID+"/user_impersonation"), 400, "invalid_scope", 1002012},
		{"bare resource as scope", v2, with(good, "scope", MarketplaceAppID), 400, "invalid_scope", 1002012},
		{"only OIDC scopes", v2, with(good, "scope", "openid profile offline_access"), 400, "invalid_scope", 1002012},
		{"bare /.default", v2, with(good, "scope", "/.default"), 400, "invalid_scope", 1002012},
		{"two resources", v2, with(good, "scope", MarketplaceAppID+"/.default https://graph.microsoft.com/.default"), 400, "invalid_scope", 28000},
		{".default plus a named scope", v2, with(good, "scope", MarketplaceAppID+"/.default User.Read"), 400, "invalid_scope", 70011},
		{"missing scope", v2, without(good, "scope"), 400, "invalid_request", 900144},
		{"blank scope", v2, with(good, "scope", "  "), 400, "invalid_request", 900144},
		{"missing resource v1", v1, without(goodV1, "resource"), 400, "invalid_request", 900144},
		{"scope sent to v1", v1, with(without(goodV1, "resource"), "scope", MarketplaceAppID+"/.default"), 400, "invalid_request", 900144},
	} {
		t.Run(tc.name, func(t *testing.T) {
			corr := "4f9e0a52-0c47-4d0e-b1a5-7b4f4b1e2c3d"
			w := postForm(i, tc.path, tc.form, http.Header{"Client-Request-Id": {corr}})
			body := w.Body.String()
			checkEntraError(t, w, tc.status, tc.kind, tc.code)
			if !strings.Contains(body, `"correlation_id":"`+corr+`"`) {
				t.Errorf("correlation id %s not echoed in %s", corr, body)
			}
		})
	}
}

// checkEntraError checks status, error, error_codes and the AADSTS prefix
// of error_description.
func checkEntraError(t *testing.T, w *httptest.ResponseRecorder, status int, kind string, code int) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	m := decodeJSON(t, w.Body)
	if m["error"] != kind {
		t.Errorf("error = %v, want %s", m["error"], kind)
	}
	desc, _ := m["error_description"].(string)
	codes, _ := m["error_codes"].([]any)
	if code == 0 {
		if len(codes) != 0 || strings.HasPrefix(desc, "AADSTS") {
			t.Errorf("fake-only error carries an AADSTS code: %v %q", codes, desc)
		}
	} else {
		if want := fmt.Sprintf("AADSTS%d: ", code); !strings.HasPrefix(desc, want) {
			t.Errorf("error_description = %q, want prefix %q", desc, want)
		}
		if len(codes) != 1 || codes[0] != float64(code) {
			t.Errorf("error_codes = %v, want [%d]", codes, code)
		}
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := m[k].(string); s == "" {
			t.Errorf("%s missing", k)
		}
	}
	if ts, _ := m["timestamp"].(string); ts != testStart.Format(entraTimestamp) {
		t.Errorf("timestamp = %q, want the fake clock's %q", ts, testStart.Format(entraTimestamp))
	}
}

func TestTokenEndpointV2(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"), WithTokenLifetime(90*time.Minute))
	app := fixtureApp(t, i, "contoso")
	for _, tc := range []struct{ scope, aud string }{
		{MarketplaceAppID + "/.default openid offline_access profile", MarketplaceAppID},
		{MarketplaceAppID + "/.default", MarketplaceAppID},
		{LegacyMarketplaceAppID + "/.default", LegacyMarketplaceAppID},
		// A wrong audience still gets a token: the marketplace refuses it.
		{"https://management.azure.com/.default", "https://management.azure.com"},
		{"api://" + MarketplaceAppID + "/.default", "api://" + MarketplaceAppID},
	} {
		w := postForm(i, "/"+app.TenantID+"/oauth2/v2.0/token", v2Form(app, tc.scope), nil)
		if w.Code != http.StatusOK {
			t.Fatalf("scope %q: status %d: %s", tc.scope, w.Code, w.Body)
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		m := decodeJSON(t, w.Body)
		if m["token_type"] != "Bearer" || m["expires_in"] != float64(5400) || m["ext_expires_in"] != float64(5400) {
			t.Errorf("response = %v, want Bearer and numeric expires_in 5400", m)
		}
		c, err := i.Verify(m["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		checkClaims(t, c, map[string]any{
			"aud": tc.aud, "tid": app.TenantID, "azp": app.ClientID, "azpacr": "1", "ver": "2.0",
			"iss": "https://login.test/" + app.TenantID + "/v2.0",
			"iat": float64(testStart.Unix()), "nbf": float64(testStart.Unix()),
			"exp": float64(testStart.Add(90 * time.Minute).Unix()),
			"oid": servicePrincipalID(app.TenantID, app.ClientID),
			"sub": servicePrincipalID(app.TenantID, app.ClientID),
		})
		for _, k := range []string{"aio", "rh", "uti"} {
			if s, _ := c[k].(string); s == "" {
				t.Errorf("claim %s missing", k)
			}
		}
		for _, k := range []string{"appid", "appidacr", "idp"} {
			if _, ok := c[k]; ok {
				t.Errorf("v2 token carries the v1 claim %s", k)
			}
		}
	}
}

func TestTokenEndpointV1(t *testing.T) {
	i, _ := newTestIssuer(t)
	app := fixtureApp(t, i, "contoso")
	// No URL set: the issuer comes from the request.
	w := postForm(i, "/"+app.TenantID+"/oauth2/token", v1Form(app, MarketplaceAppID), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	m := decodeJSON(t, w.Body)
	wantStr := map[string]string{
		"token_type":     "Bearer",
		"expires_in":     "3600",
		"ext_expires_in": "3600",
		"expires_on":     fmt.Sprint(testStart.Add(time.Hour).Unix()),
		"not_before":     fmt.Sprint(testStart.Unix()),
		"resource":       MarketplaceAppID,
	}
	for k, want := range wantStr {
		if got, ok := m[k].(string); !ok || got != want {
			t.Errorf("%s = %#v, want the string %q", k, m[k], want)
		}
	}
	c, err := i.Verify(m["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	iss := "https://login.test/" + app.TenantID + "/"
	checkClaims(t, c, map[string]any{
		"aud": MarketplaceAppID, "tid": app.TenantID, "appid": app.ClientID, "appidacr": "1",
		"ver": "1.0", "iss": iss, "idp": iss,
	})
	if _, ok := c["azp"]; ok {
		t.Error("v1 token carries azp")
	}
}

func TestTokenEndpointMicrosoftIssuer(t *testing.T) {
	i, _ := newTestIssuer(t, WithIssuerStyle(IssuerMicrosoft))
	app := fixtureApp(t, i, "fabrikam")
	for _, tc := range []struct {
		path string
		form url.Values
		iss  string
	}{
		{"/oauth2/v2.0/token", v2Form(app, MarketplaceAppID+"/.default"), "https://login.microsoftonline.com/" + app.TenantID + "/v2.0"},
		{"/oauth2/token", v1Form(app, MarketplaceAppID), "https://sts.windows.net/" + app.TenantID + "/"},
	} {
		w := postForm(i, "/"+app.TenantID+tc.path, tc.form, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.path, w.Code, w.Body)
		}
		c, err := i.Verify(decodeJSON(t, w.Body)["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if c["iss"] != tc.iss {
			t.Errorf("%s: iss = %v, want %s", tc.path, c["iss"], tc.iss)
		}
	}
}

func TestTokenEndpointTenantCaseInsensitive(t *testing.T) {
	i, _ := newTestIssuer(t)
	app := fixtureApp(t, i, "contoso")
	upper := App{ClientID: strings.ToUpper(app.ClientID), Secret: app.Secret}
	w := postForm(i, "/"+strings.ToUpper(app.TenantID)+"/oauth2/v2.0/token", v2Form(upper, MarketplaceAppID+"/.default"), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestHTTPRobustness(t *testing.T) {
	i, _ := newTestIssuer(t)
	app := fixtureApp(t, i, "contoso")
	token := "/" + app.TenantID + "/oauth2/v2.0/token"
	send := func(method, path, ctype string, body string, contentLength int64) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://login.test"+path, strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if contentLength != 0 {
			r.ContentLength = contentLength
		}
		w := httptest.NewRecorder()
		i.ServeHTTP(w, r)
		return w
	}
	huge := "grant_type=client_credentials&scope=" + strings.Repeat("a", maxBody)
	form := "application/x-www-form-urlencoded"

	t.Run("GET token is 405", func(t *testing.T) {
		w := send(http.MethodGet, token, "", "", 0)
		checkEntraError(t, w, 405, "invalid_request", 900561)
		if w.Header().Get("Allow") != "POST" {
			t.Errorf("Allow = %q", w.Header().Get("Allow"))
		}
	})
	t.Run("POST discovery is 405", func(t *testing.T) {
		w := send(http.MethodPost, "/"+app.TenantID+"/v2.0/.well-known/openid-configuration", form, "", 0)
		checkEntraError(t, w, 405, "invalid_request", 900561)
		if w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("Allow = %q", w.Header().Get("Allow"))
		}
	})
	t.Run("huge body is 413", func(t *testing.T) {
		checkEntraError(t, send(http.MethodPost, token, form, huge, 0), 413, "invalid_request", 0)
	})
	t.Run("huge body without length is 413", func(t *testing.T) {
		checkEntraError(t, send(http.MethodPost, token, form, huge, -1), 413, "invalid_request", 0)
	})
	t.Run("bad percent-encoding is 400", func(t *testing.T) {
		checkEntraError(t, send(http.MethodPost, token, form, "grant_type=%zz", 0), 400, "invalid_request", 0)
	})
	t.Run("JSON body reads as no grant_type", func(t *testing.T) {
		w := send(http.MethodPost, token, "application/json", `{"grant_type":"client_credentials"}`, 0)
		checkEntraError(t, w, 400, "invalid_request", 900144)
	})
	for _, p := range []string{"/", "", "/x", "/" + app.TenantID, "/" + app.TenantID + "/oauth2/v2.0/token/", "/common/discovery/instances", "//oauth2/token", "/" + app.TenantID + "/oauth2/v2.0/authorize"} {
		t.Run("404 "+p, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://login.test/", nil)
			r.URL.Path = p
			w := httptest.NewRecorder()
			i.ServeHTTP(w, r)
			checkEntraError(t, w, 404, "not_found", 0)
		})
	}
}

func checkClaims(t *testing.T, c map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if c[k] != w {
			t.Errorf("claim %s = %#v, want %#v", k, c[k], w)
		}
	}
}
