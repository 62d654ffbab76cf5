// Package tlsca makes a certificate authority for one run, so the fake
// marketplace and the fake Entra ID can serve HTTPS that the publisher under
// test trusts without trusting anything else.
//
// Keys live only in memory (KeyPEM hands the CA key to a caller that keeps
// state across restarts); the CA certificate (never its key) is written to
// a PEM file whose path goes into the publisher's environment as
// SSL_CERT_FILE, NODE_EXTRA_CA_CERTS and REQUESTS_CA_BUNDLE.
package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/saasconform/saasconform/harness/atomicfile"
)

// DefaultHosts are the names a leaf certificate covers unless told otherwise:
// every way a local process reaches the loopback.
var DefaultHosts = []string{"127.0.0.1", "::1", "localhost"}

// CA is a certificate authority that exists for one run.
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	pool    *x509.CertPool
}

// New makes a CA valid from an hour ago (clock skew between processes) for
// a week, which outlasts any run.
func New() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsca: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "saasconform test CA", Organization: []string{"saasconform (test only)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsca: CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, pool: pool,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// KeyPEM returns the CA's private key (PKCS #8 PEM), for a long-lived fake
// that must come back with the same CA. Keep it private.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Load brings back a CA from its certificate and KeyPEM. It refuses a pair
// that does not match, a certificate that is not a CA, and one that expires
// within a day (make a new CA instead).
func Load(certPEM, keyPEM []byte, now time.Time) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("tlsca: Load: want a PEM certificate and a PEM private key")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tlsca: Load: certificate: %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tlsca: Load: key: %w", err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, errors.New("tlsca: Load: the key cannot sign")
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("tlsca: Load: the key is not the certificate's")
	}
	if !cert.IsCA {
		return nil, errors.New("tlsca: Load: the certificate is not a CA")
	}
	if now.Add(24 * time.Hour).After(cert.NotAfter) {
		return nil, fmt.Errorf("tlsca: Load: the CA expires %s", cert.NotAfter.Format(time.RFC3339))
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, pool: pool,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cb.Bytes})}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

// Leaf issues a server certificate for hosts (IP addresses or DNS names);
// with none, for DefaultHosts.
func (ca *CA) Leaf(hosts ...string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsca: leaf key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    ca.cert.NotBefore,
		NotAfter:     ca.cert.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if h == "" {
			return tls.Certificate{}, errors.New("tlsca: empty host name")
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsca: leaf certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsca: leaf certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerConfig is a TLS configuration serving a leaf for DefaultHosts.
func (ca *CA) ServerConfig() (*tls.Config, error) {
	leaf, err := ca.Leaf()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}, nil
}

// ClientConfig trusts this CA only.
func (ca *CA) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
}

// Client is an HTTP client that trusts this CA only.
func (ca *CA) Client() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = ca.ClientConfig()
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// WriteFile writes the CA certificate to dir/saasconform-ca.pem and returns
// the path. The file is replaced by rename; a link or any other non-regular
// file at that name is refused, never written through.
func (ca *CA) WriteFile(dir string) (string, error) {
	path := filepath.Join(dir, "saasconform-ca.pem")
	if err := atomicfile.Write(path, ca.certPEM, 0o644); err != nil {
		return "", fmt.Errorf("tlsca: writing the CA file: %w", err)
	}
	return path, nil
}

// Env returns the variables that make common runtimes trust the CA file at
// path: Go and OpenSSL (SSL_CERT_FILE), Node.js (NODE_EXTRA_CA_CERTS) and
// Python requests (REQUESTS_CA_BUNDLE), as KEY=VALUE strings.
func Env(path string) []string {
	return []string{"SSL_CERT_FILE=" + path, "NODE_EXTRA_CA_CERTS=" + path, "REQUESTS_CA_BUNDLE=" + path}
}

// Server is a handler served on a loopback port.
type Server struct {
	URL string // https://127.0.0.1:PORT or http://127.0.0.1:PORT, no trailing slash
	srv *http.Server
	ln  net.Listener
}

// Serve starts h on a loopback port: over HTTPS with a leaf from this CA, or
// over plain HTTP when plain is true. Close the server when done.
func (ca *CA) Serve(h http.Handler, plain bool) (*Server, error) {
	return ca.ServeAt("127.0.0.1:0", h, plain)
}

// ServeAt is Serve on a chosen address (host:port; port 0 picks a free one).
func (ca *CA) ServeAt(addr string, h http.Handler, plain bool) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tlsca: listen on %s: %w", addr, err)
	}
	// A client that stalls mid-request or sits idle does not hold a
	// goroutine for ever: bodies here are small, so a slow one is broken.
	s := &Server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute}}
	scheme := "http"
	if !plain {
		cfg, err := ca.ServerConfig()
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.ln = tls.NewListener(ln, cfg)
		scheme = "https"
	}
	s.URL = scheme + "://" + ln.Addr().String()
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }
