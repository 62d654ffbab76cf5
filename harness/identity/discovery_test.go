package identity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// getJSON fetches a URL from the test server as a client would.
func getJSON(t *testing.T, c *http.Client, u string) (int, map[string]any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, decodeJSON(t, resp.Body)
}

// Both discovery documents point at endpoints this same server serves, and
// name the issuer the tokens carry.
func TestDiscoveryDocumentsAreConsistent(t *testing.T) {
	for _, style := range []IssuerStyle{IssuerLocal, IssuerMicrosoft} {
		i, _ := newTestIssuer(t, WithIssuerStyle(style))
		srv, _ := newTLSFake(t, i)
		app := fixtureApp(t, i, "contoso")
		for _, tc := range []struct {
			path, token string
			v           TokenVersion
		}{
			{"/v2.0/.well-known/openid-configuration", "/oauth2/v2.0/token", V2},
			{"/.well-known/openid-configuration", "/oauth2/token", V1},
		} {
			status, doc := getJSON(t, srv.Client(), srv.URL+"/"+app.TenantID+tc.path)
			if status != http.StatusOK {
				t.Fatalf("%s: status %d", tc.path, status)
			}
			if doc["issuer"] != i.IssuerFor(app.TenantID, tc.v) {
				t.Errorf("%s: issuer %v, want IssuerFor = %s", tc.path, doc["issuer"], i.IssuerFor(app.TenantID, tc.v))
			}
			if doc["token_endpoint"] != srv.URL+"/"+app.TenantID+tc.token {
				t.Errorf("%s: token_endpoint %v", tc.path, doc["token_endpoint"])
			}
			for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri"} {
				if s, _ := doc[k].(string); !strings.HasPrefix(s, srv.URL+"/"+app.TenantID+"/") {
					t.Errorf("%s: %s = %q is not on this server", tc.path, k, s)
				}
			}
			if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "RS256" {
				t.Errorf("%s: algs %v", tc.path, algs)
			}
			for _, k := range []string{"response_types_supported", "subject_types_supported", "token_endpoint_auth_methods_supported", "tenant_region_scope", "cloud_instance_name"} {
				if doc[k] == nil {
					t.Errorf("%s: %s missing", tc.path, k)
				}
			}
			status, keys := getJSON(t, srv.Client(), doc["jwks_uri"].(string))
			if ks, _ := keys["keys"].([]any); status != http.StatusOK || len(ks) != 2 {
				t.Errorf("%s: jwks_uri answered %d with %v", tc.path, status, keys)
			}
			var form url.Values
			if tc.v == V2 {
				form = v2Form(app, MarketplaceAppID+"/.default")
			} else {
				form = v1Form(app, MarketplaceAppID)
			}
			resp, err := srv.Client().PostForm(doc["token_endpoint"].(string), form)
			if err != nil {
				t.Fatal(err)
			}
			m := decodeJSON(t, resp.Body)
			resp.Body.Close()
			c, err := i.Verify(m["access_token"].(string))
			if err != nil {
				t.Fatalf("%s: token from token_endpoint: %v", tc.path, err)
			}
			if c["iss"] != doc["issuer"] {
				t.Errorf("%s: token iss %v != discovery issuer %v", tc.path, c["iss"], doc["issuer"])
			}
		}
	}
}

// go-oidc discovers the fake from the issuer string and verifies its tokens:
// what a publisher's webhook does with WebhookToken.
func TestGoOIDCVerifiesWebhookTokens(t *testing.T) {
	i, _ := newTestIssuer(t)
	srv, _ := newTLSFake(t, i)
	app := fixtureApp(t, i, "contoso")
	ctx := oidc.ClientContext(context.Background(), srv.Client())
	for _, v := range []TokenVersion{V1, V2} {
		p, err := oidc.NewProvider(ctx, i.IssuerFor(app.TenantID, v))
		if err != nil {
			t.Fatalf("v%d: NewProvider: %v", v, err)
		}
		tok, err := i.WebhookToken(app, v)
		if err != nil {
			t.Fatal(err)
		}
		verifier := p.Verifier(&oidc.Config{ClientID: app.ClientID, Now: i.Clock().Now})
		idt, err := verifier.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("v%d: go-oidc refused a webhook token: %v", v, err)
		}
		var c map[string]any
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		caller := map[TokenVersion]string{V1: "appid", V2: "azp"}[v]
		checkClaims(t, c, map[string]any{
			"aud": app.ClientID, "tid": app.TenantID, caller: MarketplaceAppID,
			"oid": servicePrincipalID(app.TenantID, MarketplaceAppID),
		})
		// Another publisher's verifier refuses it on aud.
		other := fixtureApp(t, i, "fabrikam")
		if _, err := p.Verifier(&oidc.Config{ClientID: other.ClientID, Now: i.Clock().Now}).Verify(ctx, tok); err == nil {
			t.Errorf("v%d: a token for %s verified for %s", v, app.Name, other.Name)
		}
	}
}

func TestDiscoveryTenants(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"))
	for _, tc := range []struct {
		path   string
		status int
		issuer string
	}{
		{"/common/v2.0/.well-known/openid-configuration", 200, "https://login.test/{tenantid}/v2.0"},
		{"/organizations/.well-known/openid-configuration", 200, "https://login.test/{tenantid}/"},
		{"/common/discovery/keys", 200, ""},
		{"/0d1c3a4e-7f7b-4a55-9a1e-2b6f3c9d8e71/v2.0/.well-known/openid-configuration", 400, ""},
		{"/contoso.onmicrosoft.com/.well-known/openid-configuration", 400, ""},
		{"/0d1c3a4e-7f7b-4a55-9a1e-2b6f3c9d8e71/discovery/v2.0/keys", 400, ""},
	} {
		r, _ := http.NewRequest(http.MethodGet, "https://login.test"+tc.path, nil)
		w := httptest.NewRecorder()
		i.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, w.Code, tc.status)
			continue
		}
		if tc.status == 400 {
			checkEntraError(t, w, 400, "invalid_tenant", 90002)
			continue
		}
		if m := decodeJSON(t, w.Body); tc.issuer != "" && m["issuer"] != tc.issuer {
			t.Errorf("%s: issuer %v, want %s", tc.path, m["issuer"], tc.issuer)
		}
	}
}
