package identity

import (
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/saasconform/saasconform/spec"
)

// v2TokenResponse is the v2 endpoint's answer; expires_in is a number.
type v2TokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// v1TokenResponse is the v1 endpoint's answer; every number is a string.
type v1TokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

// oidcScopes may accompany <resource>/.default: MSAL and azidentity always
// add them, and Entra ignores them for app-only tokens.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true}

// serveToken answers POST /{tenant}/oauth2/token (v1) and
// /{tenant}/oauth2/v2.0/token (v2) for the client-credentials grant,
// checking the request in the order Entra reports problems: tenant, form,
// grant, client id, scope or resource, app registration, secret.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request, tenant string, v TokenVersion) {
	if r.ContentLength > maxBody {
		i.writeError(w, r, errTooLarge(maxBody))
		return
	}
	if isTenantless(tenant) {
		i.writeError(w, r, errTenantless(tenant))
		return
	}
	if !spec.IsGUID(tenant) || !i.knownTenant(tenant) {
		i.writeError(w, r, errUnknownTenant(tenant, "invalid_request"))
		return
	}
	tenant = strings.ToLower(tenant)
	form, oerr := readForm(w, r)
	if oerr != nil {
		i.writeError(w, r, *oerr)
		return
	}
	req, oerr := parseTokenRequest(r, form, v)
	if oerr != nil {
		i.writeError(w, r, *oerr)
		return
	}
	app, ok := i.App(req.clientID)
	if !ok || app.TenantID != tenant {
		// An app registered in another tenant is as absent as one never
		// registered: Entra looks the client up in the URL's tenant only.
		i.writeError(w, r, errUnknownClient(req.clientID, tenant))
		return
	}
	switch {
	case req.secret == "" && req.assertion:
		i.writeError(w, r, errAssertionUnsupported())
		return
	case req.secret == "":
		i.writeError(w, r, errMissingSecret())
		return
	case subtle.ConstantTimeCompare([]byte(req.secret), []byte(app.Secret)) != 1:
		i.writeError(w, r, errBadSecret(app.ClientID))
		return
	}
	now := i.clock.Now()
	tok, exp, err := i.mint(i.baseFor(r), app, req.audience, v)
	if err != nil {
		i.writeError(w, r, oauthError{http.StatusInternalServerError, "server_error", 0, "saasconform: " + err.Error()})
		return
	}
	// expires_in counts whole seconds down from now, so a client that adds
	// it to its own clock never passes exp (see expiryAt).
	life := int64(exp.Sub(now) / time.Second)
	corr := correlationID(r)
	if v == V1 {
		writeJSON(w, corr, http.StatusOK, v1TokenResponse{
			TokenType:    "Bearer",
			ExpiresIn:    strconv.FormatInt(life, 10),
			ExtExpiresIn: strconv.FormatInt(life, 10),
			ExpiresOn:    strconv.FormatInt(exp.Unix(), 10),
			NotBefore:    strconv.FormatInt(now.Unix(), 10),
			Resource:     req.audience,
			AccessToken:  tok,
		})
		return
	}
	writeJSON(w, corr, http.StatusOK, v2TokenResponse{
		TokenType:    "Bearer",
		ExpiresIn:    life,
		ExtExpiresIn: life,
		AccessToken:  tok,
	})
}

// readForm reads a form-encoded body of at most maxBody bytes. A body of
// another content type yields an empty form, so the request fails on its
// first missing parameter, as with Entra.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return url.Values{}, nil
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			e := errTooLarge(maxBody)
			return nil, &e
		}
		e := errMalformedForm(err)
		return nil, &e
	}
	return r.PostForm, nil
}

// tokenRequest is a client-credentials request that passed the checks
// which need no registration lookup.
type tokenRequest struct {
	clientID  string
	secret    string
	assertion bool   // a client_assertion was sent
	audience  string // the resource the token is for
}

// parseTokenRequest checks grant, client id and scope (v2) or resource
// (v1). Client credentials come from the form (client_secret_post) or the
// Authorization header (client_secret_basic, form-encoded per RFC 6749 §2.3.1).
func parseTokenRequest(r *http.Request, form url.Values, v TokenVersion) (tokenRequest, *oauthError) {
	fail := func(e oauthError) (tokenRequest, *oauthError) { return tokenRequest{}, &e }
	grant := form.Get("grant_type")
	switch grant {
	case "":
		return fail(errMissingParam("grant_type"))
	case "client_credentials":
	default:
		return fail(errUnsupportedGrant(grant))
	}
	req := tokenRequest{
		clientID:  form.Get("client_id"),
		secret:    form.Get("client_secret"),
		assertion: form.Get("client_assertion") != "",
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(user); err == nil && req.clientID == "" {
			req.clientID = u
		}
		if p, err := url.QueryUnescape(pass); err == nil && req.secret == "" {
			req.secret = p
		}
	}
	if req.clientID == "" {
		return fail(errMissingParam("client_id"))
	}
	if v == V1 {
		req.audience = form.Get("resource")
		if req.audience == "" {
			return fail(errMissingParam("resource"))
		}
		return req, nil
	}
	scope := form.Get("scope")
	if strings.TrimSpace(scope) == "" {
		return fail(errMissingParam("scope"))
	}
	var defaults, others []string
	for _, s := range strings.Fields(scope) {
		switch {
		case oidcScopes[strings.ToLower(s)]:
		case strings.HasSuffix(s, "/.default"):
			defaults = append(defaults, strings.TrimSuffix(s, "/.default"))
		default:
			others = append(others, s)
		}
	}
	switch {
	case len(defaults) == 0:
		return fail(errNoDefaultScope(scope))
	case len(defaults) > 1:
		return fail(errManyResources(scope))
	case len(others) > 0:
		return fail(errScopeNotValid(scope))
	case defaults[0] == "":
		return fail(errNoDefaultScope(scope))
	}
	req.audience = defaults[0]
	return req, nil
}
