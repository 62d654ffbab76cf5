package identity

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

// MarketplaceAuth checks the bearer tokens a publisher sends to the fake
// marketplace the way the Fulfillment API does: signed by this Entra fake,
// in its lifetime, issued for the marketplace's app, to an app registered
// for a publisher. It implements contract.Authenticator.
type MarketplaceAuth struct {
	issuer         *Issuer
	status         int
	legacyAudience bool

	// accepted caches tokens that passed every check, by their raw text:
	// a publisher reuses one token for many calls, and verifying its RSA
	// signature each time was a quarter of the fake's CPU. The lifetime is
	// still checked on every call against the clock, so reuse past expiry
	// is caught as before.
	mu       sync.Mutex
	accepted map[string]acceptedToken
}

type acceptedToken struct {
	principal contract.Principal
	notBefore time.Time
	expires   time.Time
}

// maxAccepted bounds the cache; past it the cache starts over.
const maxAccepted = 10000

// AuthOption configures a MarketplaceAuth.
type AuthOption func(*MarketplaceAuth) error

// WithFailureStatus sets the status for a refused token: 403 by default, as
// Microsoft's API reference gives; 401 is what some gateways answer
// (spec/README.md, D2).
func WithFailureStatus(status int) AuthOption {
	return func(a *MarketplaceAuth) error {
		if status != http.StatusUnauthorized && status != http.StatusForbidden {
			return fmt.Errorf("identity: auth failure status must be 401 or 403, got %d", status)
		}
		a.status = status
		return nil
	}
}

// WithLegacyAudience also accepts tokens for the marketplace app id older
// docs named (62d94f6c-…), a quirk some publishers still rely on.
func WithLegacyAudience() AuthOption {
	return func(a *MarketplaceAuth) error { a.legacyAudience = true; return nil }
}

// NewMarketplaceAuth verifies tokens issued by i.
func NewMarketplaceAuth(i *Issuer, opts ...AuthOption) (*MarketplaceAuth, error) {
	if i == nil {
		return nil, errors.New("identity: nil Issuer")
	}
	a := &MarketplaceAuth{issuer: i, status: http.StatusForbidden, accepted: map[string]acceptedToken{}}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

const scopeHint = "request the scope " + MarketplaceAppID + "/.default (v2 endpoint) or resource=" + MarketplaceAppID + " (v1 endpoint)"

// Authenticate implements contract.Authenticator.
func (a *MarketplaceAuth) Authenticate(r *http.Request) (contract.Principal, *contract.Rejection) {
	raw, why := contract.BearerToken(r)
	if why != "" {
		return a.refuse(contract.RuleAuthToken, why, "header.Authorization", "", "Bearer <Entra ID access token>",
			"get a token with client credentials ("+scopeHint+") and send it as 'Authorization: Bearer <token>'")
	}
	if p, ok := a.cached(raw); ok {
		return p, nil
	}
	claims, err := a.issuer.VerifyLate(raw, ExpiryLeeway)
	if errors.Is(err, ErrExpired) {
		claims = expiredClaims(raw)
	}
	switch {
	case errors.Is(err, ErrExpired):
		exp := claimTime(claims, "exp")
		return a.refuse("AUTH-04", "bearer token used after it expired", "token.exp", exp, "a time after "+a.issuer.Clock().Now().UTC().Format(time.RFC3339),
			"reuse a token only until shortly before exp, then get a new one (MSAL's AcquireTokenSilent does this)")
	case errors.Is(err, ErrNotYetValid):
		return a.refuse(contract.RuleAuthToken, "bearer token is not valid yet", "token.nbf", claimTime(claims, "nbf"), "a time before now",
			"use tokens exactly as Entra ID issues them")
	case errors.Is(err, ErrSignature):
		return a.refuse(contract.RuleAuthToken, "bearer token is not signed by Entra ID: "+err.Error(), "token.signature", "", "an RS256 signature by a key in Entra's JWKS",
			"get the token from the Entra token endpoint; never build or re-sign tokens yourself")
	case err != nil:
		return a.refuse(contract.RuleAuthToken, "bearer token is not a JWT: "+err.Error(), "header.Authorization", "", "a JWT access token",
			"send the access_token field of Entra's token response, not the whole response or an id_token")
	}
	aud := str(claims, "aud")
	if aud != MarketplaceAppID && !(a.legacyAudience && aud == LegacyMarketplaceAppID) {
		return a.refuse("AUTH-01", "bearer token was issued for another API: audience is "+aud, "token.aud", aud, MarketplaceAppID, scopeHint)
	}
	tid := str(claims, "tid")
	ver := V1
	caller := str(claims, "appid")
	if str(claims, "ver") == "2.0" {
		ver, caller = V2, str(claims, "azp")
	}
	if iss := str(claims, "iss"); iss != a.issuer.IssuerFor(tid, ver) {
		return a.refuse(contract.RuleAuthToken, "bearer token issuer does not match its tenant", "token.iss", iss, a.issuer.IssuerFor(tid, ver),
			"use tokens exactly as Entra ID issues them")
	}
	app, ok := a.issuer.App(caller)
	if !ok || !strings.EqualFold(app.TenantID, tid) || app.PublisherID == "" {
		return a.refuse("AUTH-02", "bearer token belongs to an app that is not registered for a publisher", "token.appid/azp", caller+" in tenant "+tid,
			"the app id and tenant entered in Partner Center's technical configuration",
			"authenticate with the app registration named in the offer's technical configuration")
	}
	p := contract.Principal{TenantID: tid, AppID: caller, ObjectID: str(claims, "oid"), Audience: aud,
		Token: raw, PublisherID: app.PublisherID}
	a.remember(raw, p, claims)
	return p, nil
}

// ExpiryLeeway is how long after exp a token is still accepted: the time a
// request takes from the app's last look at its cache to the API. Without
// it a correct cache that renews at the last moment would be blamed for a
// token that lapsed in transit; it is far below any real cache's renewal
// margin, so a token reused past expiry is still refused (AUTH-04).
const ExpiryLeeway = 500 * time.Millisecond

// expiredClaims reads the claims of a token refused as expired, only to
// name its exp in the violation (its signature was checked by VerifyLate).
func expiredClaims(raw string) jwt.MapClaims {
	claims := jwt.MapClaims{}
	_, _, _ = jwt.NewParser().ParseUnverified(raw, claims)
	return claims
}

// cached returns the principal of a token that passed before and is still
// within its lifetime on the clock; anything else goes the full way, so its
// refusal says exactly what is wrong.
func (a *MarketplaceAuth) cached(raw string) (contract.Principal, bool) {
	a.mu.Lock()
	t, ok := a.accepted[raw]
	a.mu.Unlock()
	if !ok {
		return contract.Principal{}, false
	}
	now := a.issuer.Clock().Now()
	if now.Before(t.notBefore) || !now.Before(t.expires.Add(ExpiryLeeway)) {
		return contract.Principal{}, false
	}
	return t.principal, true
}

func (a *MarketplaceAuth) remember(raw string, p contract.Principal, claims jwt.MapClaims) {
	exp, err1 := claims.GetExpirationTime()
	nbf, err2 := claims.GetNotBefore()
	if err1 != nil || err2 != nil || exp == nil {
		return
	}
	t := acceptedToken{principal: p, expires: exp.Time}
	if nbf != nil {
		t.notBefore = nbf.Time
	}
	a.mu.Lock()
	if len(a.accepted) >= maxAccepted {
		a.accepted = map[string]acceptedToken{}
	}
	a.accepted[raw] = t
	a.mu.Unlock()
}

func (a *MarketplaceAuth) refuse(rule, summary, field, got, want, fix string) (contract.Principal, *contract.Rejection) {
	return contract.Principal{}, &contract.Rejection{Status: a.status, Violation: violation.Violation{
		Rule: rule, Summary: summary, Field: field, Got: got, Want: want, Fix: fix,
	}}
}

func str(c jwt.MapClaims, k string) string {
	s, _ := c[k].(string)
	return s
}

func claimTime(c jwt.MapClaims, k string) string {
	if c == nil {
		return ""
	}
	switch v := c[k].(type) {
	case float64:
		return time.Unix(int64(v), 0).UTC().Format(time.RFC3339)
	case int64:
		return time.Unix(v, 0).UTC().Format(time.RFC3339)
	}
	return ""
}
