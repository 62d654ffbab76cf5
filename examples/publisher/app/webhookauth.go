package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// Microsoft calls the webhook with a bearer token it got from Entra ID for
// OUR app: aud is our client id, tid our tenant, and the caller (azp in v2
// tokens, appid in v1 tokens) is the marketplace's app id. Anyone can POST
// to a public URL, so every one of these is checked (WH-AUTH-01).

// errAuthUnavailable means we could not load Entra ID's keys; the caller
// answers 503 so Microsoft retries, instead of a 4xx that would reject a
// plan change.
var errAuthUnavailable = errors.New("identity provider unavailable")

// tokenVersion is the Entra access-token format.
type tokenVersion int

const (
	tokenV1 tokenVersion = 1 // appid, issuer {authority}/{tid}/ (sts.windows.net on Azure)
	tokenV2 tokenVersion = 2 // azp, issuer {authority}/{tid}/v2.0
)

// jwtClaims are the claims we look at.
type jwtClaims struct {
	Iss   string          `json:"iss"`
	Aud   json.RawMessage `json:"aud"` // a string, or an array in some tokens
	Tid   string          `json:"tid"`
	Azp   string          `json:"azp"`
	AppID string          `json:"appid"`
	Ver   string          `json:"ver"`
	Exp   *float64        `json:"exp"`
	Nbf   *float64        `json:"nbf"`
}

func (c jwtClaims) version() tokenVersion {
	if c.Ver == "2.0" || strings.HasSuffix(c.Iss, "/v2.0") {
		return tokenV2
	}
	return tokenV1
}

// caller is the app that asked Entra ID for the token.
func (c jwtClaims) caller() string {
	if c.version() == tokenV2 {
		return c.Azp
	}
	return c.AppID
}

func (c jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

// webhookAuth validates webhook bearer tokens with go-oidc. The OpenID
// providers (discovery + JWKS) are created on first use and retried after a
// failure, so the app starts even when Entra ID is not reachable yet.
type webhookAuth struct {
	authority, tenant, clientID string
	client                      *http.Client
	mistake                     Mistake
	now                         func() time.Time

	mu         sync.Mutex
	verifiers  map[tokenVersion]*oidc.IDTokenVerifier
	staticKeys *oidc.StaticKeySet // jwks-refresh-ignored only
}

func newWebhookAuth(cfg Config) *webhookAuth {
	return &webhookAuth{
		authority: cfg.AuthorityHost, tenant: cfg.TenantID, clientID: cfg.ClientID,
		client: cfg.HTTPClient, mistake: cfg.Mistake, now: time.Now,
		verifiers: map[tokenVersion]*oidc.IDTokenVerifier{},
	}
}

// issuerFor is the iss our tenant's tokens carry: Entra's v2 issuer is
// under the authority host; its v1 issuer is https://sts.windows.net/{tid}/
// in Azure's public cloud and {authority}/{tid}/ for other authorities.
func (w *webhookAuth) issuerFor(tenant string, v tokenVersion) string {
	if v == tokenV2 {
		return w.authority + "/" + tenant + "/v2.0"
	}
	if w.authority == DefaultAuthorityHost {
		return "https://sts.windows.net/" + tenant + "/"
	}
	return w.authority + "/" + tenant + "/"
}

// verifier returns the go-oidc verifier for a token version, discovering
// the provider on first use.
func (w *webhookAuth) verifier(ctx context.Context, v tokenVersion) (*oidc.IDTokenVerifier, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if vf, ok := w.verifiers[v]; ok {
		return vf, nil
	}
	issuer := w.issuerFor(w.tenant, v)
	discovery := w.authority + "/" + w.tenant // v1 discovery document
	if v == tokenV2 {
		discovery += "/v2.0"
	}
	ctx = oidc.ClientContext(ctx, w.client)
	location := issuer // go-oidc finds the document at issuer + "/.well-known/…"
	if strings.TrimSuffix(issuer, "/") != discovery {
		// Azure's v1 discovery document lives under login.microsoftonline.com
		// but names sts.windows.net as issuer; tell go-oidc which issuer to
		// expect, and check below that the document agrees.
		ctx = oidc.InsecureIssuerURLContext(ctx, issuer)
		location = discovery
	}
	p, err := oidc.NewProvider(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("%w: OpenID discovery at %s: %v", errAuthUnavailable, discovery, err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := p.Claims(&doc); err != nil || doc.Issuer != issuer {
		return nil, fmt.Errorf("%w: discovery at %s names issuer %q, want %q", errAuthUnavailable, discovery, doc.Issuer, issuer)
	}
	cfg := &oidc.Config{
		ClientID:             w.clientID,        // aud must be our app
		SupportedSigningAlgs: []string{"RS256"}, // Entra signs with RS256; refuse anything else
		Now:                  w.now,
		// MISTAKE-09 variants, each dropping one check:
		SkipClientIDCheck: w.mistake == WebhookSkipAud,
		SkipExpiryCheck:   w.mistake == WebhookSkipExpiry,
		// webhook-skip-tid accepts any tenant's issuer; checked by hand below.
		SkipIssuerCheck: w.mistake == WebhookSkipTid,
	}
	// p.Verifier checks signatures against go-oidc's RemoteKeySet, which
	// fetches the JWKS again when a token names a kid it has not seen:
	// Entra rolls its keys over, on a schedule or at once in an emergency.
	vf := p.Verifier(cfg)
	if w.mistake == JWKSRefreshIgnored {
		keys, err := w.keysOnce(ctx, p)
		if err != nil {
			return nil, err
		}
		vf = oidc.NewVerifier(issuer, &staleKeys{first: keys, refetch: func(ctx context.Context) { _, _ = w.fetchKeys(ctx, p) }}, cfg)
	}
	w.verifiers[v] = vf
	return vf, nil
}

// staleKeys is the jwks-refresh-ignored mistake: on a signature it cannot
// verify it reads Entra's JWKS again, as it should, but then goes on
// verifying against the set it read first (the refreshed one is dropped),
// so a token signed with a key Entra rolled over to is refused until the
// app restarts.
type staleKeys struct {
	first   *oidc.StaticKeySet
	refetch func(context.Context)
}

func (k *staleKeys) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.first.VerifySignature(ctx, jwt)
	if err != nil {
		k.refetch(ctx)
	}
	return payload, err
}

// keysOnce reads Entra's keys the first time they are needed and keeps
// them (jwks-refresh-ignored).
func (w *webhookAuth) keysOnce(ctx context.Context, p *oidc.Provider) (*oidc.StaticKeySet, error) {
	if w.staticKeys != nil {
		return w.staticKeys, nil
	}
	keys, err := w.fetchKeys(ctx, p)
	if err != nil {
		return nil, err
	}
	w.staticKeys = keys
	return keys, nil
}

// fetchKeys reads Entra's JWKS from the jwks_uri discovery names.
func (w *webhookAuth) fetchKeys(ctx context.Context, p *oidc.Provider) (*oidc.StaticKeySet, error) {
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKSURI == "" {
		return nil, fmt.Errorf("%w: discovery names no jwks_uri", errAuthUnavailable)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc.JWKSURI, nil)
	if err != nil {
		return nil, err
	}
	client := w.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: JWKS: %v", errAuthUnavailable, err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: JWKS at %s: status %d, %v", errAuthUnavailable, doc.JWKSURI, resp.StatusCode, err)
	}
	keys := &oidc.StaticKeySet{}
	for _, k := range set.Keys {
		keys.PublicKeys = append(keys.PublicKeys, k.Key)
	}
	return keys, nil
}

// Check validates the request's bearer token. A nil error means the call
// really comes from the marketplace for our app.
func (w *webhookAuth) Check(ctx context.Context, r *http.Request) error {
	if w.mistake == WebhookSkipAuth {
		return nil // MISTAKE-09: anyone may call the webhook
	}
	raw, ok := bearer(r)
	if !ok {
		return errors.New("no bearer token")
	}
	// Peek at the claims (unverified!) only to choose the v1 or v2 provider.
	peek, err := unverifiedClaims(raw)
	if err != nil {
		return err
	}
	if w.mistake == WebhookSkipSignature {
		return w.checkClaimsByHand(peek) // MISTAKE-09: claims trusted without a signature
	}
	vf, err := w.verifier(ctx, peek.version())
	if err != nil {
		return err
	}
	// Signature (RS256, a key from Entra's JWKS), iss, aud, exp and nbf.
	tok, err := vf.Verify(oidc.ClientContext(ctx, w.client), raw)
	if err != nil {
		return err
	}
	var c jwtClaims
	if err := tok.Claims(&c); err != nil {
		return err
	}
	if w.mistake == WebhookSkipTid {
		// The multi-tenant shortcut: iss is "an Entra issuer" for whatever
		// tenant the token names, and tid is never compared with ours.
		if c.Iss != w.issuerFor(c.Tid, c.version()) {
			return fmt.Errorf("iss %q is not an Entra issuer", c.Iss)
		}
	} else if !strings.EqualFold(c.Tid, w.tenant) {
		return fmt.Errorf("tid %q is not our tenant", c.Tid)
	}
	if w.mistake != WebhookSkipAzp && !strings.EqualFold(c.caller(), MarketplaceAppID) {
		return fmt.Errorf("token was requested by %q, not the marketplace", c.caller())
	}
	return nil
}

// checkClaimsByHand is MISTAKE-09 (webhook-skip-signature): every claim is
// checked, but nothing proves Entra ID issued them.
func (w *webhookAuth) checkClaimsByHand(c jwtClaims) error {
	now := w.now()
	switch {
	case c.Iss != w.issuerFor(w.tenant, c.version()):
		return fmt.Errorf("iss %q", c.Iss)
	case !containsFold(c.audiences(), w.clientID):
		return errors.New("aud is not our app")
	case !strings.EqualFold(c.Tid, w.tenant):
		return errors.New("tid is not our tenant")
	case !strings.EqualFold(c.caller(), MarketplaceAppID):
		return errors.New("not called by the marketplace")
	case c.Exp == nil || now.After(time.Unix(int64(*c.Exp), 0)):
		return errors.New("expired")
	case c.Nbf != nil && now.Add(5*time.Minute).Before(time.Unix(int64(*c.Nbf), 0)):
		return errors.New("not valid yet")
	}
	return nil
}

// bearer extracts the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// unverifiedClaims decodes a JWT's payload WITHOUT checking anything.
func unverifiedClaims(raw string) (jwtClaims, error) {
	var c jwtClaims
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return c, errors.New("bearer token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("bearer token payload: %w", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("bearer token claims: %w", err)
	}
	return c, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
