package identity

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors Verify wraps, so callers can tell a garbled token from a forged or
// stale one. Each comes wrapped with detail; test with errors.Is.
var (
	// ErrMalformed: not a JWT, undecodable parts, bad claim types, or no exp.
	ErrMalformed = errors.New("identity: token is malformed")
	// ErrSignature: the signature does not verify, the kid is not in the
	// JWKS, or the alg is anything but RS256 (none and HS256 included).
	ErrSignature = errors.New("identity: token signature is invalid")
	// ErrExpired: the clock is at or past exp.
	ErrExpired = errors.New("identity: token is expired")
	// ErrNotYetValid: the clock is before nbf.
	ErrNotYetValid = errors.New("identity: token is not valid yet")
)

// Sign signs claims with key as Entra does: RS256, header kid = key.ID and
// typ JWT. It is the low-level half of minting, open so callers can forge
// tokens with chosen claims or keys.
func (i *Issuer) Sign(claims jwt.MapClaims, key Key) (string, error) {
	if key.Private == nil {
		return "", errors.New("identity: sign: key has no private part")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = key.ID
	s, err := t.SignedString(key.Private)
	if err != nil {
		return "", fmt.Errorf("identity: sign: %w", err)
	}
	return s, nil
}

// Verify parses token and checks what any holder of Entra's JWKS can check:
// an RS256 signature by a key currently in the JWKS, and exp/nbf against
// the Issuer's clock with no leeway (exp is required). It does not judge
// iss, aud, tid or appid/azp: those depend on who is asking, so the caller
// reads them from the returned claims.
func (i *Issuer) Verify(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := i.parser.ParseWithClaims(token, claims, i.keyFor)
	if err != nil {
		return nil, classify(err)
	}
	return claims, nil
}

// VerifyLate is Verify that still accepts a token up to leeway past its exp
// (and before its nbf): the tolerance a service gives a token in transit.
func (i *Issuer) VerifyLate(token string, leeway time.Duration) (jwt.MapClaims, error) {
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithTimeFunc(i.clock.Now), jwt.WithExpirationRequired(), jwt.WithLeeway(leeway))
	claims := jwt.MapClaims{}
	if _, err := p.ParseWithClaims(token, claims, i.keyFor); err != nil {
		return nil, classify(err)
	}
	return claims, nil
}

// keyFor is the jwt.Keyfunc: the JWKS key named by the header's kid.
func (i *Issuer) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("header has no kid")
	}
	pub, ok := i.keys.publicKey(kid)
	if !ok {
		return nil, fmt.Errorf("kid %q is not in the JWKS", kid)
	}
	return pub, nil
}

// classify maps a jwt error onto the package's sentinels, keeping the
// original for its detail.
func classify(err error) error {
	var sentinel error
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		sentinel = ErrMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		sentinel = ErrSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		sentinel = ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		sentinel = ErrNotYetValid
	default: // missing exp, claims of the wrong type
		sentinel = ErrMalformed
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
