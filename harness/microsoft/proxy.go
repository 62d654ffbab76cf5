package microsoft

import (
	"net/http"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/proxy"
	"github.com/saasconform/saasconform/harness/violation"
)

// PublicMarketplaceHost is the Fulfillment API's real host name.
const PublicMarketplaceHost = "marketplaceapi.microsoft.com"

// RuleProxyHost is the rule a request the proxy refused breaks (a warning:
// the app reached for a host the harness does not play).
const RuleProxyHost = "NET-01"

// startProxy starts the intercepting proxy with Entra's public-cloud hosts
// routed to the fake Entra ID and the marketplace's to the fake marketplace.
func (s *Side) startProxy(o Options, marketplaceHandler http.Handler) error {
	// The fakes run in this process: the proxy hands each request to their
	// handlers directly rather than over a second TLS connection.
	handlers := map[string]http.Handler{PublicMarketplaceHost: marketplaceHandler}
	for _, h := range identity.PublicCloudHosts {
		handlers[h] = s.Identity
	}
	p, err := proxy.Start(proxy.Options{Addr: o.ProxyAddr, CA: s.CA, Handlers: handlers, Passthrough: o.Passthrough,
		OnRefused: s.refused})
	if err != nil {
		return err
	}
	s.Proxy, s.ProxyURL = p, p.URL
	return nil
}

// refused records what the proxy would not carry: the app called a host
// the harness does not play, and nothing answered it.
func (s *Side) refused(r proxy.Refusal) {
	s.Log.Record(violation.Violation{Rule: RuleProxyHost, Severity: violation.Warning,
		Summary: "the app called " + r.Host + " through the proxy; the harness does not play that host, so the call was refused",
		Got:     r.Method + " " + r.URL, Want: "calls to Microsoft's Entra ID and marketplace hosts only",
		Fix: "if the app needs this host during the run, list it in marketplace.proxyPassthrough; " +
			"if it is a Microsoft endpoint the harness should play, tell the saasconform maintainers",
		Method: r.Method, Path: r.URL, At: r.At})
}
