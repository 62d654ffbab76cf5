package identity

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/spec"
)

// oauthError is an error answer in Entra's shape. Code 0 marks a condition
// only the fake reports (unknown path, oversized body): it carries no
// AADSTS number rather than borrowing one that means something else.
type oauthError struct {
	status int
	kind   string // the OAuth error field: invalid_request, invalid_client, …
	code   int    // the AADSTS number
	msg    string
}

func (e oauthError) Error() string {
	return fmt.Sprintf("%d %s AADSTS%d: %s", e.status, e.kind, e.code, e.msg)
}

// Error answers of the token, discovery and keys endpoints, with the codes
// and statuses Entra uses for the same conditions (messages in our words).
func errUnknownTenant(tenant, kind string) oauthError {
	return oauthError{http.StatusBadRequest, kind, 90002,
		fmt.Sprintf("Tenant '%s' not found. No app is registered in a tenant with this id; check the tenant id in the authority URL.", tenant)}
}

func errTenantless(tenant string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 9001023,
		fmt.Sprintf("The client_credentials grant needs a tenant-specific authority, not '/%s'. Use /{tenant-id}/.", tenant)}
}

func errMissingParam(name string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 900144,
		fmt.Sprintf("The request body must contain the parameter '%s'.", name)}
}

func errUnsupportedGrant(grant string) oauthError {
	return oauthError{http.StatusBadRequest, "unsupported_grant_type", 70003,
		fmt.Sprintf("The grant type '%s' is not supported here; an app calling the marketplace uses 'client_credentials'.", grant)}
}

func errNoDefaultScope(scope string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_scope", 1002012,
		fmt.Sprintf("The scope '%s' is not valid. The client credentials flow needs a scope of the form <resource>/.default.", scope)}
}

func errManyResources(scope string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_scope", 28000,
		fmt.Sprintf("The scope '%s' is not valid because it names more than one resource.", scope)}
}

func errScopeNotValid(scope string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_scope", 70011,
		fmt.Sprintf("The scope '%s' is not valid: with <resource>/.default only openid, profile and offline_access may be added.", scope)}
}

func errUnknownClient(clientID, tenant string) oauthError {
	return oauthError{http.StatusBadRequest, "unauthorized_client", 700016,
		fmt.Sprintf("No application with identifier '%s' was found in the directory '%s'. The app may not be registered in this tenant, or the request went to the wrong tenant.", clientID, tenant)}
}

func errMissingSecret() oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 7000216,
		"The client_credentials grant needs a client_secret (or a client assertion); none was sent."}
}

func errBadSecret(clientID string) oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 7000215,
		fmt.Sprintf("The client secret sent for app '%s' is not valid. Send the secret's value, not its id.", clientID)}
}

func errAssertionUnsupported() oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 700027,
		"Client assertions (certificate credentials) are not accepted by this fake; authenticate with the app's client secret."}
}

func errMethod(method, allowed string) oauthError {
	return oauthError{http.StatusMethodNotAllowed, "invalid_request", 900561,
		fmt.Sprintf("This endpoint accepts %s requests only; it received %s.", allowed, method)}
}

// Conditions only the fake names (no AADSTS code).
func errNotFound(path string) oauthError {
	return oauthError{http.StatusNotFound, "not_found", 0,
		fmt.Sprintf("saasconform: no Entra endpoint at %q. Served: /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys, /{tenant}/oauth2/v2.0/token, /{tenant}/oauth2/token.", path)}
}

func errTooLarge(limit int64) oauthError {
	return oauthError{http.StatusRequestEntityTooLarge, "invalid_request", 0,
		fmt.Sprintf("saasconform: request body exceeds %d bytes.", limit)}
}

func errMalformedForm(err error) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 0,
		fmt.Sprintf("saasconform: the body is not a valid application/x-www-form-urlencoded form: %v", err)}
}

// errorBody is the JSON Entra answers errors with.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// entraTimestamp is the format of Entra's timestamp field.
const entraTimestamp = "2006-01-02 15:04:05Z"

// writeError answers e in Entra's shape. The correlation id echoes the
// client-request-id header MSAL sends, as Entra does.
func (i *Issuer) writeError(w http.ResponseWriter, r *http.Request, e oauthError) {
	if t, ok := w.(*tap); ok {
		t.refusal = &e
	}
	now := i.clock.Now().UTC()
	trace := uuid.NewString()
	corr := correlationID(r)
	body := errorBody{
		Error:         e.kind,
		Timestamp:     now.Format(entraTimestamp),
		TraceID:       trace,
		CorrelationID: corr,
		ErrorCodes:    []int{},
	}
	desc := e.msg
	if e.code != 0 {
		desc = fmt.Sprintf("AADSTS%d: %s", e.code, e.msg)
		body.ErrorCodes = []int{e.code}
		body.ErrorURI = fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.code)
	}
	body.ErrorDescription = fmt.Sprintf("%s Trace ID: %s Correlation ID: %s Timestamp: %s",
		desc, trace, corr, body.Timestamp)
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", allowedFor(r))
	}
	writeJSON(w, corr, e.status, body)
}

// correlationID is the request's client-request-id if it is a GUID, else a
// fresh one.
func correlationID(r *http.Request) string {
	if id := r.Header.Get("client-request-id"); spec.IsGUID(id) {
		return id
	}
	return uuid.NewString()
}

// writeJSON writes v with the headers Entra's JSON answers carry.
func writeJSON(w http.ResponseWriter, corr string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only plain structs and maps reach here
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if corr != "" {
		h.Set("client-request-id", corr)
	}
	h.Set("x-ms-request-id", uuid.NewString())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
