package contract

import (
	"context"
	"net/http"
	"strings"

	"github.com/saasconform/saasconform/harness/violation"
)

// Principal is who a bearer token says the caller is.
type Principal struct {
	TenantID string // tid
	AppID    string // appid (v1) or azp (v2)
	ObjectID string // oid
	Audience string // aud
	Token    string // the raw bearer token
	// PublisherID is the marketplace publisher the caller's app belongs to;
	// the fake serves only that publisher's subscriptions (AUTH-02). Empty
	// when the authenticator does not know (then nothing is filtered).
	PublisherID string
}

// Rejection is an Authenticator's refusal: the status to answer and the
// violation to record.
type Rejection struct {
	Status    int
	Violation violation.Violation
}

// Authenticator decides whether a request's credentials are acceptable.
// Real token verification (signature, audience, tenant, lifetime) plugs in
// here; the default only insists that a bearer token is present.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, *Rejection)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (Principal, *Rejection)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, *Rejection) { return f(r) }

// AuthFailureStatus is the status the fake answers for a missing or unusable
// bearer token. Microsoft's OpenAPI document gives 403 for every auth
// failure (CONTRACT D2); spec/README.md records the choice.
const AuthFailureStatus = http.StatusForbidden

// BearerPresent accepts any request that carries "Authorization: Bearer <token>".
type BearerPresent struct{}

// Authenticate implements Authenticator.
func (BearerPresent) Authenticate(r *http.Request) (Principal, *Rejection) {
	token, why := BearerToken(r)
	if why != "" {
		return Principal{}, &Rejection{Status: AuthFailureStatus, Violation: violation.Violation{
			Rule:    RuleAuthToken,
			Summary: why,
			Field:   "header.Authorization",
			Got:     describeAuthHeader(r),
			Want:    "Bearer <Entra ID access token>",
			Fix:     "get a token with client credentials for 20e940b3-4c77-4b0b-9a53-9e16a1b010a7/.default and send it as 'Authorization: Bearer <token>'",
		}}
	}
	return Principal{Token: token}, nil
}

// BearerToken extracts the token from an Authorization header, or says why
// there is none.
func BearerToken(r *http.Request) (token, why string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.Header.Get("Authentication") != "" {
			return "", "bearer token sent in an 'Authentication' header (the emulator's name); the real API reads 'Authorization'"
		}
		return "", "no Authorization header"
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", "Authorization header is not a Bearer token"
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return "", "Authorization header has an empty Bearer token"
	}
	return rest, ""
}

func describeAuthHeader(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "no Authorization header"
	}
	scheme, _, _ := strings.Cut(h, " ")
	return "Authorization: " + scheme + " …"
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the contract layer authenticated.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
