package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// MarketplaceAppID is the Fulfillment API's application id in Entra ID: the
// audience of our API tokens and the caller (azp/appid) of our webhook.
const MarketplaceAppID = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"

// marketplaceScope is what the client-credentials grant asks for.
const marketplaceScope = MarketplaceAppID + "/.default"

// wrongScope is MISTAKE-07's audience: Azure Resource Manager.
const wrongScope = "https://management.azure.com/.default"

// msalTokens gets app-only tokens with MSAL's confidential client. MSAL
// keeps the token in its cache and refreshes it shortly before it expires,
// so we ask MSAL every time and never keep a copy of our own (AUTH-04).
type msalTokens struct {
	client confidential.Client
	scopes []string
}

func newMSALTokens(cfg Config) (*msalTokens, error) {
	cred, err := confidential.NewCredFromSecret(cfg.ClientSecret)
	if err != nil {
		return nil, fmt.Errorf("SAAS_CLIENT_SECRET: %w", err)
	}
	authority := cfg.AuthorityHost + "/" + cfg.TenantID
	client, err := confidential.New(authority, cfg.ClientID, cred,
		// Instance discovery asks login.microsoftonline.com which clouds
		// exist; it is not needed for a tenant authority, and it would fail
		// against a test authority.
		confidential.WithInstanceDiscovery(false),
		confidential.WithHTTPClient(cfg.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("MSAL client for %s: %w", authority, err)
	}
	scope := marketplaceScope
	if cfg.Mistake == WrongTokenScope {
		scope = wrongScope // MISTAKE-07: a token for another API
	}
	return &msalTokens{client: client, scopes: []string{scope}}, nil
}

// Token implements tokenSource.
//
// MSAL for Go's AcquireTokenByCredential looks in its app-token cache first
// and only calls Entra ID when there is no token or it is about to expire.
// (Its AcquireTokenSilent needs a user account, which an app-only client
// does not have, so the client-credentials call is the "silent" one.)
func (m *msalTokens) Token(ctx context.Context) (string, error) {
	res, err := m.client.AcquireTokenByCredential(ctx, m.scopes)
	if err != nil {
		return "", err
	}
	return res.AccessToken, nil
}

// foreverToken is MISTAKE-08: it asks once and reuses that token forever,
// long after it expired.
type foreverToken struct {
	inner tokenSource
	mu    sync.Mutex
	tok   string
}

func (f *foreverToken) Token(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tok != "" {
		return f.tok, nil
	}
	tok, err := f.inner.Token(ctx)
	if err != nil {
		return "", err
	}
	f.tok = tok
	return tok, nil
}
