package identity

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// PublicCloudHosts are the host names of Entra ID's public cloud: the names
// MSAL treats as one authority, and the ones saasconform's proxy answers
// for.
var PublicCloudHosts = []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}

// instanceMetadata is one cloud's entry in an instance-discovery answer.
type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

type instanceAnswer struct {
	TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
	APIVersion              string             `json:"api-version"`
	Metadata                []instanceMetadata `json:"metadata"`
}

// serveInstance answers MSAL's instance discovery
// (GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…):
// where the authority's tenant discovery document is, and which host names
// are one cloud. A public-cloud authority gets Entra's public-cloud
// aliases; the fake's own host (without the proxy) is a cloud of its own.
// An authorization endpoint that is not a URL is refused as Entra refuses
// an unknown instance.
func (i *Issuer) serveInstance(w http.ResponseWriter, r *http.Request) {
	ep, err := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	if err != nil || ep.Host == "" || (ep.Scheme != "https" && ep.Scheme != "http") {
		i.writeError(w, r, oauthError{http.StatusBadRequest, "invalid_instance", 50049,
			"Unknown or invalid instance: authorization_endpoint must be the authority's https URL."})
		return
	}
	tenant := "common"
	if seg, _, _ := strings.Cut(strings.TrimPrefix(ep.Path, "/"), "/"); seg != "" {
		tenant = seg
	}
	host := strings.ToLower(ep.Host)
	meta := instanceMetadata{PreferredNetwork: host, PreferredCache: host, Aliases: []string{host}}
	if slices.Contains(PublicCloudHosts, host) {
		meta = instanceMetadata{PreferredNetwork: "login.microsoftonline.com", PreferredCache: "login.windows.net",
			Aliases: slices.Clone(PublicCloudHosts)}
	}
	base := ep.Scheme + "://" + ep.Host
	writeJSON(w, correlationID(r), http.StatusOK, instanceAnswer{
		TenantDiscoveryEndpoint: base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		APIVersion:              "1.1",
		Metadata:                []instanceMetadata{meta},
	})
}
