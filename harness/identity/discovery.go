package identity

import (
	"net/http"
	"strings"

	"github.com/saasconform/saasconform/spec"
)

// tenantPlaceholder is what Entra's tenant-less discovery documents put
// where a tenant id goes.
const tenantPlaceholder = "{tenantid}"

// openIDConfig is the discovery document: every field MSAL, azidentity and
// go-oidc read (MSAL requires authorization_endpoint, token_endpoint and
// issuer; go-oidc issuer and jwks_uri), plus Entra's descriptive fields.
type openIDConfig struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ClaimsSupported                   []string `json:"claims_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// openIDConfigFor builds the v1 or v2 discovery document of a tenant path
// segment (a tenant id, or a tenant-less alias) at base.
func (i *Issuer) openIDConfigFor(base, tenant string, v TokenVersion) openIDConfig {
	issTenant := tenant
	if isTenantless(tenant) {
		issTenant = tenantPlaceholder
	}
	region := "NA" // Entra reports the tenant's region; the fake has one
	cfg := openIDConfig{
		Issuer:                            issuerAt(i.style, base, issTenant, v),
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		RequestURIParameterSupported:      false,
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		CloudInstanceName:                 "microsoftonline.com",
		CloudGraphHostName:                "graph.windows.net",
		MSGraphHost:                       "graph.microsoft.com",
		RBACURL:                           "https://pas.windows.net",
	}
	if isTenantless(tenant) {
		cfg.TenantRegionScope = nil
	} else {
		cfg.TenantRegionScope = &region
	}
	root := base + "/" + tenant
	if v == V2 {
		cfg.AuthorizationEndpoint = root + "/oauth2/v2.0/authorize"
		cfg.TokenEndpoint = root + "/oauth2/v2.0/token"
		cfg.JWKSURI = root + "/discovery/v2.0/keys"
		cfg.EndSessionEndpoint = root + "/oauth2/v2.0/logout"
		cfg.ScopesSupported = []string{"openid", "profile", "email", "offline_access"}
		cfg.ClaimsSupported = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"}
	} else {
		cfg.AuthorizationEndpoint = root + "/oauth2/authorize"
		cfg.TokenEndpoint = root + "/oauth2/token"
		cfg.JWKSURI = root + "/discovery/keys"
		cfg.EndSessionEndpoint = root + "/oauth2/logout"
		cfg.ClaimsSupported = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"}
	}
	return cfg
}

// serveConfig answers GET …/.well-known/openid-configuration.
func (i *Issuer) serveConfig(w http.ResponseWriter, r *http.Request, tenant string, v TokenVersion) {
	tenant, ok := i.discoverableTenant(w, r, tenant)
	if !ok {
		return
	}
	writeJSON(w, correlationID(r), http.StatusOK, i.openIDConfigFor(i.baseFor(r), tenant, v))
}

// serveKeys answers GET …/discovery/keys and …/discovery/v2.0/keys: the
// JWK Set of the current and previous signing keys, the same for every
// tenant as Entra's is.
func (i *Issuer) serveKeys(w http.ResponseWriter, r *http.Request, tenant string) {
	if _, ok := i.discoverableTenant(w, r, tenant); !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "max-age=86400, private")
	h.Set("x-ms-request-id", correlationID(r))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(i.keys.jwksJSON())
}

// discoverableTenant normalizes the tenant segment of a discovery or keys
// request, answering 400 invalid_tenant (as Entra does) for an unknown one.
func (i *Issuer) discoverableTenant(w http.ResponseWriter, r *http.Request, tenant string) (string, bool) {
	if isTenantless(tenant) {
		return strings.ToLower(tenant), true
	}
	if !spec.IsGUID(tenant) || !i.knownTenant(tenant) {
		i.writeError(w, r, errUnknownTenant(tenant, "invalid_tenant"))
		return "", false
	}
	return strings.ToLower(tenant), true
}
