package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // x5t is defined as the SHA-1 thumbprint (RFC 7517 §4.8)
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key is a signing key. ID is the kid tokens carry in their header; like
// Entra's, it equals the key certificate's x5t thumbprint.
type Key struct {
	ID      string
	Private *rsa.PrivateKey
}

// signingKey is a Key with the self-signed certificate the JWKS publishes
// for it (x5c), as Entra does.
type signingKey struct {
	Key
	cert *x509.Certificate
}

// keyring holds the current signing key and the one before it. Both are in
// the JWKS so tokens signed just before a rotation keep verifying, the
// window real key roll-over gives validators.
type keyring struct {
	bits int

	mu       sync.RWMutex
	current  signingKey
	previous signingKey
	jwks     []byte // JSON of {keys:[current, previous]}, rebuilt on rotation
}

func newKeyring(bits int, now time.Time) (*keyring, error) {
	older, err := newSigningKey(bits, now)
	if err != nil {
		return nil, err
	}
	newer, err := newSigningKey(bits, now)
	if err != nil {
		return nil, err
	}
	r := &keyring{bits: bits}
	if err := r.install(newer, older); err != nil {
		return nil, err
	}
	return r, nil
}

// newSigningKey generates an RSA key and a self-signed certificate for it.
func newSigningKey(bits int, now time.Time) (signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return signingKey{}, fmt.Errorf("identity: generate RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return signingKey{}, fmt.Errorf("identity: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "accounts.accesscontrol.windows.net (saasconform fake)"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return signingKey{}, fmt.Errorf("identity: self-sign key certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return signingKey{}, fmt.Errorf("identity: parse key certificate: %w", err)
	}
	sum := sha1.Sum(der)
	priv.Precompute()
	return signingKey{
		Key:  Key{ID: base64.RawURLEncoding.EncodeToString(sum[:]), Private: priv},
		cert: cert,
	}, nil
}

// install makes cur current and prev previous and rebuilds the JWKS.
func (r *keyring) install(cur, prev signingKey) error {
	doc, err := marshalJWKS(cur, prev)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.current, r.previous, r.jwks = cur, prev, doc
	r.mu.Unlock()
	return nil
}

// rotate generates a key outside the lock, then makes it current.
func (r *keyring) rotate(now time.Time) (Key, error) {
	k, err := newSigningKey(r.bits, now)
	if err != nil {
		return Key{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	doc, err := marshalJWKS(k, r.current)
	if err != nil {
		return Key{}, err
	}
	r.previous, r.current, r.jwks = r.current, k, doc
	return k.Key, nil
}

// swap makes the previous key current and the current one previous.
func (r *keyring) swap() (Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.previous.Private == nil {
		return r.current.Key, errors.New("identity: no previous key to roll back to")
	}
	doc, err := marshalJWKS(r.previous, r.current)
	if err != nil {
		return r.current.Key, err
	}
	r.previous, r.current, r.jwks = r.current, r.previous, doc
	return r.current.Key, nil
}

func (r *keyring) currentKey() Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current.Key
}

// publicKey returns the public key of a kid in the JWKS.
func (r *keyring) publicKey(kid string) (*rsa.PublicKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range []signingKey{r.current, r.previous} {
		if k.Private != nil && k.ID == kid {
			return &k.Private.PublicKey, true
		}
	}
	return nil, false
}

func (r *keyring) jwksJSON() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.jwks
}

// marshalJWKS renders the keys that have a private part, in order, as a
// JWK Set: kty, use, kid, x5t, n, e, x5c and alg.
func marshalJWKS(keys ...signingKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		if k.Private == nil {
			continue
		}
		sum := sha1.Sum(k.cert.Raw)
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:                       &k.Private.PublicKey,
			KeyID:                     k.ID,
			Algorithm:                 "RS256",
			Use:                       "sig",
			Certificates:              []*x509.Certificate{k.cert},
			CertificateThumbprintSHA1: sum[:],
		})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("identity: marshal JWKS: %w", err)
	}
	return b, nil
}
