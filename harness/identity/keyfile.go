package identity

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// keyFile is how ExportKeys writes the keyring: each key's certificate and
// PKCS #8 private key, DER in base64 (JSON's []byte), current first.
type keyFile struct {
	Keys []keyFileEntry `json:"keys"`
}

type keyFileEntry struct {
	Cert []byte `json:"cert"`
	Key  []byte `json:"key"`
}

// ExportKeys returns the current and previous signing keys with their
// certificates, so a restarted fake can keep signing and verifying with the
// same kids (WithKeys). The result holds private keys: keep it private.
func (i *Issuer) ExportKeys() ([]byte, error) {
	i.keys.mu.RLock()
	keys := []signingKey{i.keys.current, i.keys.previous}
	i.keys.mu.RUnlock()
	var f keyFile
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			return nil, fmt.Errorf("identity: export keys: %w", err)
		}
		f.Keys = append(f.Keys, keyFileEntry{Cert: k.cert.Raw, Key: der})
	}
	return json.Marshal(f)
}

// WithKeys makes the Issuer sign with keys ExportKeys wrote instead of fresh
// ones. Keys that do not parse, or a certificate that does not match its
// key, are an error.
func WithKeys(data []byte) Option {
	return func(cfg *config) error {
		var f keyFile
		if err := json.Unmarshal(data, &f); err != nil {
			return optErr("WithKeys", "not an exported keyring: %v", err)
		}
		if len(f.Keys) != 2 {
			return optErr("WithKeys", "want 2 keys (current and previous), got %d", len(f.Keys))
		}
		var keys []signingKey
		for n, e := range f.Keys {
			k, err := parseSigningKey(e)
			if err != nil {
				return optErr("WithKeys", "key %d: %v", n, err)
			}
			keys = append(keys, k)
		}
		cfg.keys = keys
		return nil
	}
}

func parseSigningKey(e keyFileEntry) (signingKey, error) {
	cert, err := x509.ParseCertificate(e.Cert)
	if err != nil {
		return signingKey{}, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(e.Key)
	if err != nil {
		return signingKey{}, err
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return signingKey{}, errors.New("not an RSA key")
	}
	if !priv.PublicKey.Equal(cert.PublicKey) {
		return signingKey{}, errors.New("the certificate is not this key's")
	}
	if priv.N.BitLen() < minKeyBits {
		return signingKey{}, fmt.Errorf("%d-bit key, below %d", priv.N.BitLen(), minKeyBits)
	}
	sum := sha1.Sum(cert.Raw)
	priv.Precompute()
	return signingKey{Key: Key{ID: base64.RawURLEncoding.EncodeToString(sum[:]), Private: priv}, cert: cert}, nil
}
