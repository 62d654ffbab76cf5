package identity

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// These tests run the client libraries publishers use, unchanged, against
// the fake over TLS, and pin down exactly which endpoints they call.

// checkMarketplaceToken verifies a token a library obtained and checks the
// claims the fake marketplace will judge.
func checkMarketplaceToken(t *testing.T, i *Issuer, tok string, app App, v TokenVersion) {
	t.Helper()
	c, err := i.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	caller := "azp"
	if v == V1 {
		caller = "appid"
	}
	want := map[string]string{
		"aud":  MarketplaceAppID,
		"tid":  app.TenantID,
		caller: app.ClientID,
		"ver":  v.String(),
		"iss":  i.IssuerFor(app.TenantID, v),
	}
	for k, w := range want {
		if got, _ := c[k].(string); got != w {
			t.Errorf("claim %s = %q, want %q", k, got, w)
		}
	}
}

func TestMSALConfidentialClient(t *testing.T) {
	i, vlog, _ := newRecordedIssuer(t)
	t.Cleanup(func() { expectNoViolations(t, vlog) }) // a correct library is never blamed
	srv, log := newTLSFake(t, i)
	app := fixtureApp(t, i, "contoso")

	cred, err := confidential.NewCredFromSecret(app.Secret)
	if err != nil {
		t.Fatal(err)
	}
	client, err := confidential.New(srv.URL+"/"+app.TenantID, app.ClientID, cred,
		confidential.WithInstanceDiscovery(false),
		confidential.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	scopes := []string{MarketplaceAppID + "/.default"}
	res, err := client.AcquireTokenByCredential(ctx, scopes)
	if err != nil {
		t.Fatalf("AcquireTokenByCredential: %v", err)
	}
	checkMarketplaceToken(t, i, res.AccessToken, app, V2)
	checkExpiresIn(t, res.ExpiresOn, time.Hour)

	// A second acquisition comes from MSAL's cache: no second token request.
	again, err := client.AcquireTokenByCredential(ctx, scopes)
	if err != nil {
		t.Fatal(err)
	}
	if again.AccessToken != res.AccessToken {
		t.Error("second AcquireTokenByCredential did not reuse the cached token")
	}
	want := []string{
		"GET /" + app.TenantID + "/v2.0/.well-known/openid-configuration",
		"POST /" + app.TenantID + "/oauth2/v2.0/token",
	}
	if got := log.list(); !slices.Equal(got, want) {
		t.Errorf("MSAL requested %q, want %q", got, want)
	}
	t.Logf("MSAL requested: %q", log.list())
}

func TestMSALWrongSecretSurfacesEntraError(t *testing.T) {
	i, vlog, _ := newRecordedIssuer(t)
	srv, _ := newTLSFake(t, i)
	app := fixtureApp(t, i, "contoso")
	cred, err := confidential.NewCredFromSecret("not-the-secret")
	if err != nil {
		t.Fatal(err)
	}
	client, err := confidential.New(srv.URL+"/"+app.TenantID, app.ClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.AcquireTokenByCredential(context.Background(), []string{MarketplaceAppID + "/.default"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("err = %v, want the AADSTS7000215 answer surfaced", err)
	}
	if vs := vlog.ForRule(RuleTokenRequest); len(vs) != 1 || vlog.Len() != 1 || !strings.Contains(vs[0].Got, "AADSTS7000215") {
		t.Errorf("violations %v, want one AUTH-05 with AADSTS7000215", vlog.All())
	}
}

func TestAzidentityClientSecretCredential(t *testing.T) {
	i, vlog, _ := newRecordedIssuer(t)
	t.Cleanup(func() { expectNoViolations(t, vlog) })
	srv, log := newTLSFake(t, i)
	app := fixtureApp(t, i, "contoso")

	cred, err := azidentity.NewClientSecretCredential(app.TenantID, app.ClientID, app.Secret,
		&azidentity.ClientSecretCredentialOptions{
			DisableInstanceDiscovery: true,
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"},
				Transport: srv.Client(),
			},
		})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{MarketplaceAppID + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	checkMarketplaceToken(t, i, tok.Token, app, V2)
	checkExpiresIn(t, tok.ExpiresOn, time.Hour)
	want := []string{
		"GET /" + app.TenantID + "/v2.0/.well-known/openid-configuration",
		"POST /" + app.TenantID + "/oauth2/v2.0/token",
	}
	if got := log.list(); !slices.Equal(got, want) {
		t.Errorf("azidentity requested %q, want %q", got, want)
	}
	t.Logf("azidentity requested: %q", log.list())
}

// golang.org/x/oauth2's client-credentials flow sends the credentials with
// HTTP Basic first (AuthStyleAutoDetect) and needs no discovery at all.
func TestOAuth2ClientCredentialsBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		style oauth2.AuthStyle
		v     TokenVersion
	}{
		{"v2 basic", oauth2.AuthStyleInHeader, V2},
		{"v2 post", oauth2.AuthStyleInParams, V2},
		{"v2 autodetect", oauth2.AuthStyleAutoDetect, V2},
		{"v1 basic", oauth2.AuthStyleInHeader, V1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, vlog, _ := newRecordedIssuer(t)
			t.Cleanup(func() { expectNoViolations(t, vlog) })
			srv, log := newTLSFake(t, i)
			app := fixtureApp(t, i, "contoso")
			cfg := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.Secret, AuthStyle: tc.style}
			if tc.v == V2 {
				cfg.TokenURL = srv.URL + "/" + app.TenantID + "/oauth2/v2.0/token"
				cfg.Scopes = []string{MarketplaceAppID + "/.default"}
			} else {
				cfg.TokenURL = srv.URL + "/" + app.TenantID + "/oauth2/token"
				cfg.EndpointParams = url.Values{"resource": {MarketplaceAppID}}
			}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			checkMarketplaceToken(t, i, tok.AccessToken, app, tc.v)
			if got := log.list(); len(got) != 1 {
				t.Errorf("requests = %q, want one token request", got)
			}
		})
	}
}

// checkExpiresIn: libraries compute expiry from expires_in and their own
// wall clock, so the token lifetime shows up relative to time.Now.
func checkExpiresIn(t *testing.T, got time.Time, lifetime time.Duration) {
	t.Helper()
	if d := time.Until(got); d < lifetime-time.Minute || d > lifetime {
		t.Errorf("library says the token expires in %v, want about %v", d, lifetime)
	}
}
