package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/saasconform/saasconform/harness/tlsca"
)

// BenchmarkCall is one keep-alive HTTPS GET to a small handler, straight
// to its server and through the proxy (CONNECT once per connection, then
// the request answered in-process): the difference is what the proxy adds
// per call. `go test -run '^$' -bench Call ./harness/proxy/`
func BenchmarkCall(b *testing.B) {
	ca, err := tlsca.New()
	if err != nil {
		b.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"0c6fa7b0-3f3e-4f3b-9d6c-7d1e0f9a1b2c","saasSubscriptionStatus":"Subscribed"}`)
	})
	srv, err := ca.Serve(h, false)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	p, err := Start(Options{CA: ca, Handlers: map[string]http.Handler{"marketplaceapi.microsoft.com": h}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	proxyURL, _ := url.Parse(p.URL)
	for _, c := range []struct {
		name string
		url  string
		tr   *http.Transport
	}{
		{"direct", srv.URL + "/api/saas/subscriptions/x", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}},
		{"proxy", "https://marketplaceapi.microsoft.com/api/saas/subscriptions/x",
			&http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{Transport: c.tr}
			defer c.tr.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(c.url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
