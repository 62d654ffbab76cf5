package identity

import (
	"net/http"
	"strings"
)

// maxBody is the largest request body the fake reads. Real token requests
// are a few hundred bytes; anything near this is a client bug or an attack.
const maxBody = 64 << 10

// endpoint is one of the routes the fake serves below /{tenant}/.
type endpoint int

const (
	noEndpoint endpoint = iota
	configV2            // /{tenant}/v2.0/.well-known/openid-configuration
	configV1            // /{tenant}/.well-known/openid-configuration
	keysV2              // /{tenant}/discovery/v2.0/keys
	keysV1              // /{tenant}/discovery/keys
	tokenV2             // /{tenant}/oauth2/v2.0/token
	tokenV1             // /{tenant}/oauth2/token
	instance            // /{tenant}/discovery/instance (MSAL's instance discovery; Entra serves it under common)
)

// routes maps the path below the tenant segment to its endpoint.
var routes = map[string]endpoint{
	"v2.0/.well-known/openid-configuration": configV2,
	".well-known/openid-configuration":      configV1,
	"discovery/v2.0/keys":                   keysV2,
	"discovery/keys":                        keysV1,
	"oauth2/v2.0/token":                     tokenV2,
	"oauth2/token":                          tokenV1,
	"discovery/instance":                    instance,
}

// match splits a request path into its tenant segment and endpoint.
func match(path string) (tenant string, e endpoint) {
	tenant, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || tenant == "" {
		return "", noEndpoint
	}
	return tenant, routes[rest]
}

func (e endpoint) isToken() bool { return e == tokenV1 || e == tokenV2 }

// allowedFor is the Allow header of a request's endpoint.
func allowedFor(r *http.Request) string {
	if _, e := match(r.URL.Path); e.isToken() {
		return http.MethodPost
	}
	return "GET, HEAD"
}

// ServeHTTP serves Entra's discovery, keys and token endpoints. Every
// answer, errors included, is JSON in Entra's shape; unknown paths are 404.
// With OnExchange or WithViolations, each request is also recorded (see
// transcript.go).
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if i.log == nil && len(i.onExch) == 0 {
		i.serve(w, r)
		return
	}
	i.serveRecorded(w, r)
}

// serve answers one request.
func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A handler bug must not take down the harness's server; the caller
		// sees a 500 in Entra's shape.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			i.writeError(w, r, oauthError{http.StatusInternalServerError, "server_error", 0, "saasconform: internal error in the fake identity provider"})
		}
	}()
	tenant, e := match(r.URL.Path)
	if e == noEndpoint {
		i.writeError(w, r, errNotFound(r.URL.Path))
		return
	}
	if e.isToken() {
		if r.Method != http.MethodPost {
			i.writeError(w, r, errMethod(r.Method, http.MethodPost))
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		i.writeError(w, r, errMethod(r.Method, "GET"))
		return
	}
	switch e {
	case configV2:
		i.serveConfig(w, r, tenant, V2)
	case configV1:
		i.serveConfig(w, r, tenant, V1)
	case keysV2, keysV1:
		i.serveKeys(w, r, tenant)
	case instance:
		i.serveInstance(w, r)
	case tokenV2:
		i.serveToken(w, r, tenant, V2)
	case tokenV1:
		i.serveToken(w, r, tenant, V1)
	}
}

// tenantless authorities stand for "some tenant"; they have discovery
// documents and keys but cannot be the tenant of an app-only token.
func isTenantless(seg string) bool {
	switch strings.ToLower(seg) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// baseFor is the authority base for a request: the configured URL, else
// the scheme and host the request arrived with.
func (i *Issuer) baseFor(r *http.Request) string {
	if u := i.URL(); u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		host = "localhost"
	}
	return scheme + "://" + host
}
