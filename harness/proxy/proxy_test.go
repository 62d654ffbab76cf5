package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/tlsca"
)

// fixture: a CA, a fake behind it that echoes what it was asked, and a
// proxy routing two Microsoft host names to it.
type fixture struct {
	ca      *tlsca.CA
	backend *tlsca.Server
	proxy   *Proxy
	mu      sync.Mutex
	refused []Refusal
}

func start(t *testing.T, passthrough ...string) *fixture {
	t.Helper()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ca: ca}
	f.backend, err = ca.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s host=%s", r.Method, r.URL.RequestURI(), r.Host)
	}), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.backend.Close() })
	f.proxy, err = Start(Options{CA: ca, Passthrough: passthrough,
		Routes: map[string]string{"marketplaceapi.microsoft.com": f.backend.URL, "login.microsoftonline.com": f.backend.URL},
		OnRefused: func(r Refusal) {
			f.mu.Lock()
			f.refused = append(f.refused, r)
			f.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.proxy.Close() })
	return f
}

// client is an app configured as the README says: HTTPS_PROXY and the
// run's CA.
func (f *fixture) client(t *testing.T) *http.Client {
	proxyURL, err := url.Parse(f.proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: f.ca.Pool()}}}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoutedHostsReachTheFakeUnderTheirOwnNames(t *testing.T) {
	f := start(t)
	c := f.client(t)
	for _, u := range []string{
		"https://marketplaceapi.microsoft.com/api/saas/subscriptions?api-version=2018-08-31",
		"https://login.microsoftonline.com/common/discovery/instance?api-version=1.1",
		"http://marketplaceapi.microsoft.com/api/x", // plain HTTP is proxied too
	} {
		status, body := get(t, c, u)
		want := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
		host, path, _ := strings.Cut(want, "/")
		if status != 200 || !strings.Contains(body, " /"+path) || !strings.Contains(body, "host="+host) {
			t.Errorf("%s: %d %q; want the fake's echo of /%s with host %s", u, status, body, path, host)
		}
	}
	// The certificate the app saw names Microsoft's host and chains to the
	// run's CA: an app that checks certificates is satisfied.
	resp, err := c.Get("https://login.microsoftonline.com/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	leaf := resp.TLS.PeerCertificates[0]
	if err := leaf.VerifyHostname("login.microsoftonline.com"); err != nil {
		t.Errorf("certificate: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: f.ca.Pool(), DNSName: "login.microsoftonline.com"}); err != nil {
		t.Errorf("certificate chain: %v", err)
	}
	if len(f.proxy.Refused()) != 0 {
		t.Errorf("refused: %+v", f.proxy.Refused())
	}
}

func TestOtherHostsAreRefusedAndReported(t *testing.T) {
	f := start(t)
	c := f.client(t)
	if status, body := get(t, c, "https://graph.microsoft.com/v1.0/me"); status != 0 || !strings.Contains(body, "Forbidden") {
		t.Errorf("CONNECT to an unknown host: %d %q, want the tunnel refused with 403", status, body)
	}
	status, body := get(t, c, "http://example.com/ping?secret=1")
	if status != http.StatusForbidden || !strings.Contains(body, "example.com") {
		t.Errorf("plain HTTP to an unknown host: %d %q, want 403 naming it", status, body)
	}
	got := f.proxy.Refused()
	if len(got) != 2 || got[0].Method != http.MethodConnect || got[0].Host != "graph.microsoft.com" ||
		got[1].Host != "example.com" || strings.Contains(got[1].URL, "secret") {
		t.Errorf("refusals %+v", got)
	}
	f.mu.Lock()
	n := len(f.refused)
	f.mu.Unlock()
	if n != 2 {
		t.Errorf("OnRefused told %d times, want 2", n)
	}
}

func TestPassthroughHostsAreTunnelled(t *testing.T) {
	f := start(t, "127.0.0.1")
	c := f.client(t)
	// The backend listens on 127.0.0.1: let through, not intercepted, so
	// the certificate is the backend's own.
	status, body := get(t, c, f.backend.URL+"/direct")
	if status != 200 || !strings.Contains(body, "/direct") {
		t.Errorf("passthrough: %d %q", status, body)
	}
	if len(f.proxy.Refused()) != 0 {
		t.Errorf("refused: %+v", f.proxy.Refused())
	}
}

func TestCallingTheProxyDirectlyExplains(t *testing.T) {
	f := start(t)
	status, body := get(t, http.DefaultClient, f.proxy.URL+"/")
	if status != http.StatusBadRequest || !strings.Contains(body, "HTTPS_PROXY") {
		t.Errorf("%d %q", status, body)
	}
}

func TestBadOptions(t *testing.T) {
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]Options{
		"no CA":            {},
		"route not a URL":  {CA: ca, Routes: map[string]string{"a.example": "::"}},
		"route not http":   {CA: ca, Routes: map[string]string{"a.example": "ftp://x"}},
		"passthrough path": {CA: ca, Passthrough: []string{"a.example/x"}},
		"address in use":   {CA: ca, Addr: "256.0.0.1:1"},
	} {
		if p, err := Start(o); err == nil {
			p.Close()
			t.Errorf("%s: started", name)
		}
	}
}

// TestHandlersAnswerInProcess: a host with a handler is answered by it in
// the proxy's process, with the request as the app sent it.
func TestHandlersAnswerInProcess(t *testing.T) {
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(Options{CA: ca, Handlers: map[string]http.Handler{"marketplaceapi.microsoft.com": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Host+" "+r.URL.RequestURI())
		w.WriteHeader(http.StatusAccepted)
		io.Copy(w, r.Body)
	})}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proxyURL, _ := url.Parse(p.URL)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, err := c.Post("https://marketplaceapi.microsoft.com/api/x?y=1", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || string(body) != "hello" || resp.Header.Get("X-Seen") != "marketplaceapi.microsoft.com /api/x?y=1" {
		t.Errorf("%d %q %q", resp.StatusCode, body, resp.Header.Get("X-Seen"))
	}
	if _, err := Start(Options{CA: ca, Handlers: map[string]http.Handler{"x.example": nil}}); err == nil {
		t.Error("a nil handler was accepted")
	}
}
