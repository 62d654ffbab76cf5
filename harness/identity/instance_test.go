package identity

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
)

// TestInstanceDiscovery: MSAL's instance discovery gets Entra's answer: the
// tenant's discovery document and the cloud's aliases; a public-cloud
// authority gets the public cloud's names, the fake's own host a cloud of
// its own, and an authorization endpoint that is no URL is refused.
func TestInstanceDiscovery(t *testing.T) {
	i, err := New(WithURL("https://login.microsoftonline.com"))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(endpoint string) (*httptest.ResponseRecorder, instanceAnswer) {
		q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {endpoint}}
		rec := httptest.NewRecorder()
		i.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://login.microsoftonline.com/common/discovery/instance?"+q.Encode(), nil))
		var a instanceAnswer
		_ = json.Unmarshal(rec.Body.Bytes(), &a)
		return rec, a
	}
	rec, a := ask("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/oauth2/v2.0/authorize")
	if rec.Code != 200 || a.TenantDiscoveryEndpoint != "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/.well-known/openid-configuration" ||
		len(a.Metadata) != 1 || a.Metadata[0].PreferredNetwork != "login.microsoftonline.com" || !slices.Contains(a.Metadata[0].Aliases, "sts.windows.net") {
		t.Errorf("public cloud: %d %+v", rec.Code, a)
	}
	rec, a = ask("https://127.0.0.1:8444/common/oauth2/v2.0/authorize")
	if rec.Code != 200 || a.Metadata[0].PreferredNetwork != "127.0.0.1:8444" || len(a.Metadata[0].Aliases) != 1 {
		t.Errorf("the fake's own host: %d %+v", rec.Code, a)
	}
	if rec, _ = ask("not a url"); rec.Code != http.StatusBadRequest {
		t.Errorf("a bad authorization_endpoint: %d %s", rec.Code, rec.Body)
	}
}
