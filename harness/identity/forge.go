package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Forgery is a webhook call's Authorization header that a publisher must
// refuse (WH-AUTH-01): each one breaks exactly one thing a validator has to
// check, so a publisher that accepts it is missing exactly that check.
type Forgery struct {
	Name   string // stable, e.g. "alg-none"; suites name specs after it
	Check  string // what the publisher's validator must check to refuse it
	Header string // the whole Authorization header value; "" sends none
}

// Forgery names, in the order Forgeries returns them.
const (
	ForgeNoToken      = "no-token"
	ForgeMalformed    = "malformed"
	ForgeAlgNone      = "alg-none"
	ForgeHS256        = "hs256-with-public-key"
	ForgeUnknownKey   = "unknown-key"
	ForgeWrongKid     = "wrong-kid"
	ForgeWrongAud     = "wrong-aud"
	ForgeWrongTenant  = "wrong-tid"
	ForgeWrongCaller  = "wrong-azp-appid"
	ForgeWrongIssuer  = "wrong-iss"
	ForgeExpired      = "expired"
	ForgeNotYetValid  = "not-yet-valid"
	forgeryClockSlack = time.Hour // beyond any validator's clock-skew leeway
)

// Forgeries returns every forged webhook token for publisher, in token
// version v. All but the one broken claim match WebhookToken exactly.
func (i *Issuer) Forgeries(publisher App, v TokenVersion) ([]Forgery, error) {
	now := i.webhook.Now()
	good := i.webhookClaims(publisher, v, now)
	callerClaim := "azp"
	if v == V1 {
		callerClaim = "appid"
	}
	key := i.CurrentKey()
	stranger, err := newStrangerKey()
	if err != nil {
		return nil, err
	}
	otherTenant := uuid.NewString()

	var out []Forgery
	add := func(name, check, header string) { out = append(out, Forgery{Name: name, Check: check, Header: header}) }
	bearer := func(tok string) string { return "Bearer " + tok }
	signed := func(c jwt.MapClaims) (string, error) { return i.Sign(c, key) }
	with := func(k string, val any) jwt.MapClaims {
		c := cloneClaims(good)
		c[k] = val
		return c
	}

	add(ForgeNoToken, "a webhook call without a bearer token is refused", "")
	add(ForgeMalformed, "the bearer value must parse as a JWT", bearer("not-a-jwt.really"))
	add(ForgeAlgNone, "alg none (an unsigned token) is refused", bearer(unsigned(good, key.ID)))

	hs, err := hmacWithPublicKey(good, key)
	if err != nil {
		return nil, err
	}
	add(ForgeHS256, "only RS256 is accepted: an HS256 token keyed with Entra's public key is refused", bearer(hs))

	tok, err := i.Sign(good, stranger)
	if err != nil {
		return nil, err
	}
	add(ForgeUnknownKey, "the signing key must be one of Entra's (from JWKS)", bearer(tok))

	tok, err = i.Sign(good, Key{ID: key.ID, Private: stranger.Private})
	if err != nil {
		return nil, err
	}
	add(ForgeWrongKid, "the signature must verify with the key the kid names", bearer(tok))

	for _, f := range []struct {
		name, check string
		claims      jwt.MapClaims
	}{
		{ForgeWrongAud, "aud must be the publisher's own app id", with("aud", uuid.NewString())},
		{ForgeWrongTenant, "tid must be the publisher's tenant", withTenant(good, otherTenant, i.IssuerFor(otherTenant, v))},
		{ForgeWrongCaller, callerClaim + " must be the marketplace's app id " + MarketplaceAppID, with(callerClaim, uuid.NewString())},
		{ForgeWrongIssuer, "iss must be Entra's issuer for the publisher's tenant", with("iss", "https://issuer.invalid/"+publisher.TenantID+"/")},
		{ForgeExpired, "exp must be in the future", timed(good, now.Add(-2*forgeryClockSlack), now.Add(-forgeryClockSlack))},
		{ForgeNotYetValid, "nbf must be in the past", timed(good, now.Add(forgeryClockSlack), now.Add(2*forgeryClockSlack))},
	} {
		tok, err := signed(f.claims)
		if err != nil {
			return nil, err
		}
		add(f.name, f.check, bearer(tok))
	}
	return out, nil
}

// webhookClaims are the claims of a genuine webhook token issued at now.
func (i *Issuer) webhookClaims(publisher App, v TokenVersion, now time.Time) jwt.MapClaims {
	tid := strings.ToLower(publisher.TenantID)
	return claimsAt(i.IssuerFor(tid, v), tid, strings.ToLower(publisher.ClientID), MarketplaceAppID, v, now, i.lifetime)
}

func cloneClaims(c jwt.MapClaims) jwt.MapClaims {
	out := make(jwt.MapClaims, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

func withTenant(c jwt.MapClaims, tid, iss string) jwt.MapClaims {
	out := cloneClaims(c)
	out["tid"] = tid
	out["iss"] = iss
	if _, ok := out["idp"]; ok {
		out["idp"] = iss
	}
	return out
}

// timed sets the token's lifetime to [from, to).
func timed(c jwt.MapClaims, from, to time.Time) jwt.MapClaims {
	out := cloneClaims(c)
	out["iat"] = from.Unix()
	out["nbf"] = from.Unix()
	out["exp"] = to.Unix()
	return out
}

// unsigned encodes claims with alg none and an empty signature.
func unsigned(c jwt.MapClaims, kid string) string {
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	body, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(body) + "."
}

// hmacWithPublicKey signs claims with HS256 keyed by the PEM of Entra's
// public key: the algorithm-confusion attack on validators that take the
// algorithm from the token.
func hmacWithPublicKey(c jwt.MapClaims, key Key) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.Private.PublicKey)
	if err != nil {
		return "", fmt.Errorf("identity: encoding public key: %w", err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = key.ID
	return t.SignedString(secret)
}

// newStrangerKey is a key no Issuer ever publishes. One per process is
// enough, and RSA key generation is slow enough to matter in a suite.
var newStrangerKey = sync.OnceValues(func() (Key, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Key{}, fmt.Errorf("identity: generating a stranger key: %w", err)
	}
	return Key{ID: "stranger-" + uuid.NewString()[:8], Private: k}, nil
})
