package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MarketplaceAppID is the application id of the SaaS Fulfillment API: the
// audience of publishers' API tokens and the appid/azp of the tokens the
// marketplace sends to webhooks.
const MarketplaceAppID = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"

// LegacyMarketplaceAppID is the resource id older documentation named for
// the Fulfillment API. Tokens for it are minted like any other; whether the
// marketplace accepts them is its quirk to decide.
const LegacyMarketplaceAppID = "62d94f6c-d599-489b-a797-3e10e42fbe22"

// TokenVersion is the Entra access-token format: v1 (appid, sts.windows.net
// issuer) or v2 (azp, login.microsoftonline.com/…/v2.0 issuer).
type TokenVersion int

// Token versions.
const (
	V1 TokenVersion = 1
	V2 TokenVersion = 2
)

// String returns "1.0" or "2.0", the token's ver claim.
func (v TokenVersion) String() string {
	if v == V1 {
		return "1.0"
	}
	return "2.0"
}

// IssuerStyle chooses the iss claim of minted tokens.
type IssuerStyle int

const (
	// IssuerLocal builds iss from the fake's own URL ({url}/{tid}/v2.0 for
	// v2, {url}/{tid}/ for v1), so validators that discover the issuer from
	// the fake's OpenID configuration accept it.
	IssuerLocal IssuerStyle = iota
	// IssuerMicrosoft uses the real strings,
	// https://login.microsoftonline.com/{tid}/v2.0 and
	// https://sts.windows.net/{tid}/, for publishers that hard-code them.
	IssuerMicrosoft
)

// Real Entra issuer prefixes (IssuerMicrosoft).
const (
	microsoftV2Issuer = "https://login.microsoftonline.com/"
	microsoftV1Issuer = "https://sts.windows.net/"
)

// issuerAt is the iss for a tenant when the fake is reachable at base.
// It is "" for IssuerLocal when no base is known.
func issuerAt(style IssuerStyle, base, tenantID string, v TokenVersion) string {
	if style == IssuerMicrosoft {
		if v == V1 {
			return microsoftV1Issuer + tenantID + "/"
		}
		return microsoftV2Issuer + tenantID + "/v2.0"
	}
	if base == "" {
		return ""
	}
	if v == V1 {
		return base + "/" + tenantID + "/"
	}
	return base + "/" + tenantID + "/v2.0"
}

// expiryAt is the exp of a token issued at now: now+lifetime rounded up to
// the whole second, so exp (whole seconds on the wire) is never earlier
// than the moment the token response's expires_in lets a client count to.
// With lifetimes of seconds, rounding down would make a correct cache with
// no renewal margin use a token that lapsed up to a second before it
// expected.
func expiryAt(now time.Time, lifetime time.Duration) time.Time {
	exp := now.Add(lifetime)
	if t := exp.Truncate(time.Second); !t.Equal(exp) {
		return t.Add(time.Second)
	}
	return exp
}

// claimsAt is the full claim set of an app-only access token, as Entra
// issues for the client-credentials grant with a secret (appidacr/azpacr "1").
func claimsAt(iss, tenantID, audience, callerAppID string, v TokenVersion, now time.Time, lifetime time.Duration) jwt.MapClaims {
	iat := now.Unix()
	oid := servicePrincipalID(tenantID, callerAppID)
	c := jwt.MapClaims{
		"aud": audience,
		"iss": iss,
		"iat": iat,
		"nbf": iat,
		"exp": expiryAt(now, lifetime).Unix(),
		"aio": randomText(base64.StdEncoding, 45),
		"oid": oid,
		"rh":  "0.A" + randomText(base64.RawURLEncoding, 39) + ".",
		"sub": oid,
		"tid": tenantID,
		"uti": randomText(base64.RawURLEncoding, 16),
		"ver": v.String(),
	}
	if v == V1 {
		c["appid"] = callerAppID
		c["appidacr"] = "1"
		c["idp"] = iss
	} else {
		c["azp"] = callerAppID
		c["azpacr"] = "1"
	}
	return c
}

// servicePrincipalID is the object id of an app's service principal in a
// tenant: what app-only tokens carry as oid and sub. It is derived from the
// pair so it is stable across runs and differs between tenants, as a real
// one does.
func servicePrincipalID(tenantID, appID string) string {
	sum := sha256.Sum256([]byte("saasconform/service-principal\x00" + tenantID + "\x00" + appID))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40 // shaped like the random (version 4) GUIDs Entra uses
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomText encodes n random bytes; opaque claims (aio, rh, uti) are random
// in real tokens, and nothing must depend on their content.
func randomText(enc *base64.Encoding, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return enc.EncodeToString(b)
}
