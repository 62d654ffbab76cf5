package identity

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/saasconform/saasconform/fixtures"
	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

// Issuer is the fake Entra ID. It is an http.Handler (see ServeHTTP) and the
// library the rest of the harness mints and checks tokens with. It is safe
// for concurrent use, including Rotate while tokens are minted and verified.
type Issuer struct {
	clock    clock.Clock
	webhook  clock.Clock // webhook tokens' clock
	lifetime time.Duration
	style    IssuerStyle
	keys     *keyring
	parser   *jwt.Parser
	log      *violation.Log            // nil: refusals are not recorded
	onExch   []func(contract.Exchange) // transcript hooks
	lastExp  atomic.Int64              // unix seconds: the latest exp of an access token issued

	mu      sync.RWMutex
	url     string
	apps    []App          // registration order
	byID    map[string]int // lower-case client id → index in apps
	tenants map[string]int // lower-case tenant id → number of apps in it
}

// New returns an Issuer with two signing keys (so the JWKS lists two from
// the start, as Entra's does) and the apps of fixtures/apps.yaml unless
// WithApps says otherwise.
func New(opts ...Option) (*Issuer, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("identity: nil Option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if !cfg.appsSet {
		apps, err := LoadApps(fixtures.Apps)
		if err != nil {
			return nil, fmt.Errorf("identity: default apps: %w", err)
		}
		cfg.apps = apps
	}
	webhook := cfg.webhook
	if webhook == nil {
		webhook = cfg.clock
	}
	i := &Issuer{
		clock:    cfg.clock,
		webhook:  webhook,
		lifetime: cfg.lifetime,
		style:    cfg.style,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithTimeFunc(cfg.clock.Now),
			jwt.WithExpirationRequired(),
		),
		url:     cfg.url,
		log:     cfg.log,
		onExch:  cfg.onExch,
		byID:    map[string]int{},
		tenants: map[string]int{},
	}
	for _, a := range cfg.apps {
		if err := i.Register(a); err != nil {
			return nil, err
		}
	}
	// Keys last: generating them is the slow part, and a bad option or app
	// should fail fast.
	if cfg.keys != nil {
		i.keys = &keyring{bits: cfg.keyBits}
		if err := i.keys.install(cfg.keys[0], cfg.keys[1]); err != nil {
			return nil, err
		}
		return i, nil
	}
	keys, err := newKeyring(cfg.keyBits, cfg.clock.Now())
	if err != nil {
		return nil, err
	}
	i.keys = keys
	return i, nil
}

// SetURL sets the authority base (scheme://host[:port]) once the server's
// address is known; issuers, discovery documents and error URIs use it from
// then on instead of deriving it from each request.
func (i *Issuer) SetURL(u string) error {
	base, err := normalizeBase(u)
	if err != nil {
		return fmt.Errorf("identity: SetURL: %w", err)
	}
	i.mu.Lock()
	i.url = base
	i.mu.Unlock()
	return nil
}

// URL is the authority base set by WithURL or SetURL, "" if neither was.
func (i *Issuer) URL() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.url
}

// Clock is the clock tokens are issued and verified against.
func (i *Issuer) Clock() clock.Clock { return i.clock }

// Register adds an app registration. Tenant and client ids are stored in
// lower case; a client id may be registered once.
func (i *Issuer) Register(a App) error {
	if field, err := validateApp(a); err != nil {
		return fmt.Errorf("identity: register %q: %s: %w", a.Name, field, err)
	}
	a.TenantID = strings.ToLower(a.TenantID)
	a.ClientID = strings.ToLower(a.ClientID)
	i.mu.Lock()
	defer i.mu.Unlock()
	if n, dup := i.byID[a.ClientID]; dup {
		return fmt.Errorf("identity: register %q: client id %s is already registered by %q", a.Name, a.ClientID, i.apps[n].Name)
	}
	i.byID[a.ClientID] = len(i.apps)
	i.apps = append(i.apps, a)
	i.tenants[a.TenantID]++
	return nil
}

// App returns the registration of a client id (case-insensitive).
func (i *Issuer) App(clientID string) (App, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	n, ok := i.byID[strings.ToLower(clientID)]
	if !ok {
		return App{}, false
	}
	return i.apps[n], true
}

// Apps returns every registration in the order registered.
func (i *Issuer) Apps() []App {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return append([]App(nil), i.apps...)
}

// AppByPublisher returns the first registered app configured for a
// marketplace publisherId (case-insensitive).
func (i *Issuer) AppByPublisher(publisherID string) (App, bool) {
	if publisherID == "" {
		return App{}, false
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	for _, a := range i.apps {
		if strings.EqualFold(a.PublisherID, publisherID) {
			return a, true
		}
	}
	return App{}, false
}

// knownTenant reports whether any app is registered in the tenant.
func (i *Issuer) knownTenant(tenantID string) bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.tenants[strings.ToLower(tenantID)] > 0
}

// CurrentKey is the key new tokens are signed with.
func (i *Issuer) CurrentKey() Key { return i.keys.currentKey() }

// Rotate generates a fresh signing key and makes it current. The key it
// replaces stays in the JWKS so tokens it signed keep verifying; the one
// before that is dropped. Should key generation fail (it cannot with the
// sizes WithKeyBits allows), the current key is kept and returned.
func (i *Issuer) Rotate() Key {
	k, err := i.keys.rotate(i.clock.Now())
	if err != nil {
		return i.keys.currentKey()
	}
	return k
}

// PublicKey returns the public half of a key the JWKS lists now.
func (i *Issuer) PublicKey(kid string) (*rsa.PublicKey, bool) { return i.keys.publicKey(kid) }

// IssuerFor is the iss claim tokens for a tenant carry. With IssuerLocal it
// is built from URL() and is "" until a URL is set.
func (i *Issuer) IssuerFor(tenantID string, v TokenVersion) string {
	return issuerAt(i.style, i.URL(), strings.ToLower(tenantID), v)
}

// WebhookClock is the clock webhook tokens are issued against.
func (i *Issuer) WebhookClock() clock.Clock { return i.webhook }

// Claims is the full claim set of an app-only token of version v that
// callerAppID obtains in tenantID for audience: iat and nbf are the clock's
// now, exp is now plus the token lifetime, oid/sub are the caller's service
// principal in that tenant. With IssuerLocal and no URL set, iss is "".
func (i *Issuer) Claims(tenantID, audience, callerAppID string, v TokenVersion) jwt.MapClaims {
	tenantID = strings.ToLower(tenantID)
	return claimsAt(i.IssuerFor(tenantID, v), tenantID, audience, callerAppID, v, i.clock.Now(), i.lifetime)
}

// AccessToken mints what the token endpoint returns to app for the
// client-credentials grant, and when it expires.
func (i *Issuer) AccessToken(app App, audience string, v TokenVersion) (token string, expires time.Time, err error) {
	return i.mint(i.URL(), app, audience, v)
}

// mint signs a client-credentials token with iss built from base.
func (i *Issuer) mint(base string, app App, audience string, v TokenVersion) (string, time.Time, error) {
	tok, exp, err := i.mintAt(base, app, audience, v, i.clock.Now())
	for err == nil {
		last := i.lastExp.Load()
		if exp.Unix() <= last || i.lastExp.CompareAndSwap(last, exp.Unix()) {
			break
		}
	}
	return tok, exp, err
}

func (i *Issuer) mintAt(base string, app App, audience string, v TokenVersion, now time.Time) (string, time.Time, error) {
	if v != V1 && v != V2 {
		return "", time.Time{}, fmt.Errorf("identity: token version %d is neither V1 nor V2", int(v))
	}
	if audience == "" {
		return "", time.Time{}, errors.New("identity: token audience is empty")
	}
	tid := strings.ToLower(app.TenantID)
	iss := issuerAt(i.style, base, tid, v)
	if iss == "" {
		return "", time.Time{}, errors.New("identity: no URL to build the issuer from: call SetURL or use WithURL")
	}
	claims := claimsAt(iss, tid, audience, strings.ToLower(app.ClientID), v, now, i.lifetime)
	tok, err := i.Sign(claims, i.CurrentKey())
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, expiryAt(now, i.lifetime), nil
}

// LatestExpiry is the latest exp of any access token issued so far (zero
// before the first): once the token clock passes it, plus ExpiryLeeway,
// every token an app holds has expired.
func (i *Issuer) LatestExpiry() time.Time {
	if n := i.lastExp.Load(); n != 0 {
		return time.Unix(n, 0)
	}
	return time.Time{}
}

// WebhookToken is the bearer token the marketplace sends to a publisher's
// webhook: the marketplace app (MarketplaceAppID) calling the publisher's
// app, so aud is the publisher's client id, tid its tenant, appid (v1) or
// azp (v2) the marketplace, and oid/sub the marketplace's service principal
// in the publisher's tenant.
func (i *Issuer) WebhookToken(publisher App, v TokenVersion) (string, error) {
	if publisher.ClientID == "" || publisher.TenantID == "" {
		return "", errors.New("identity: webhook token: publisher app has no client or tenant id")
	}
	marketplace := App{TenantID: publisher.TenantID, ClientID: MarketplaceAppID}
	tok, _, err := i.mintAt(i.URL(), marketplace, strings.ToLower(publisher.ClientID), v, i.webhook.Now())
	return tok, err
}

// RollBack undoes a Rotate: the previous key becomes current again and the
// key it replaces stays in the JWKS as the previous one, so every token
// signed with either keeps verifying. A spec that rolls the keys mid-run
// (Entra may roll them at any time, see
// https://learn.microsoft.com/entra/identity-platform/signing-key-rollover)
// rolls back when it ends, so later specs sign with a key the publisher
// has known from the start and a publisher that caches the JWKS forever
// fails the rollover spec alone, whatever order the specs run in.
func (i *Issuer) RollBack() (Key, error) { return i.keys.swap() }
