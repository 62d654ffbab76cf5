package identity

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

// Operation names of the fake Entra ID's exchanges in a transcript. They
// share the prefix "entra:", which no Fulfillment API operationId has, so
// code that looks for marketplace operations (spec.Op*) never matches them.
const (
	OpToken        = "entra:token"                // POST /{tenant}/oauth2/token, /{tenant}/oauth2/v2.0/token
	OpOpenIDConfig = "entra:openid-configuration" // GET /{tenant}[/v2.0]/.well-known/openid-configuration
	OpKeys         = "entra:keys"                 // GET /{tenant}/discovery[/v2.0]/keys
	OpInstance     = "entra:instance-discovery"   // GET /common/discovery/instance
	OpUnknown      = "entra:unknown"              // a path the fake does not serve
)

// IsOperation reports whether an exchange's Operation is one of the fake
// Entra ID's.
func IsOperation(op string) bool { return strings.HasPrefix(op, "entra:") }

// RuleTokenRequest is the rule a refused token request breaks: the app
// gets its marketplace token with a well-formed client-credentials request
// for its own registration. A wrong client id or secret breaks it too (not
// AUTH-02, which is about whose token reaches the marketplace).
const RuleTokenRequest = "AUTH-05"

func (e endpoint) operation() string {
	switch e {
	case tokenV1, tokenV2:
		return OpToken
	case configV1, configV2:
		return OpOpenIDConfig
	case keysV1, keysV2:
		return OpKeys
	case instance:
		return OpInstance
	}
	return OpUnknown
}

// tap buffers the answer to one request so the exchange is recorded before
// the caller sees the answer (as the marketplace's validator does), and
// notes the refusal writeError sent.
type tap struct {
	w       http.ResponseWriter
	status  int
	body    bytes.Buffer
	refusal *oauthError
}

func (t *tap) Header() http.Header { return t.w.Header() }

func (t *tap) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
	}
}

func (t *tap) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	return t.body.Write(p)
}

func (t *tap) statusOrOK() int {
	if t.status == 0 {
		return http.StatusOK
	}
	return t.status
}

// serveRecorded serves r, then records the exchange and, for a refused
// token request, its AUTH-05 violation, then sends the answer.
func (i *Issuer) serveRecorded(w http.ResponseWriter, r *http.Request) {
	wall, start := time.Now(), i.clock.Now()
	ex := contract.Exchange{At: wall, ClockAt: start, Method: r.Method, URL: r.URL.RequestURI(), RequestHeader: r.Header.Clone()}
	ex.RequestBody = peekBody(r)
	t := &tap{w: w}
	i.serve(t, r)

	tenant, e := match(r.URL.Path)
	ex.Operation = e.operation()
	ex.Status = t.statusOrOK()
	ex.ResponseHeader = w.Header().Clone()
	ex.ResponseBody = bytes.Clone(t.body.Bytes())
	ex.Duration = time.Since(wall)
	ex.CorrelationID = ex.ResponseHeader.Get("client-request-id")
	ex.RequestID = ex.ResponseHeader.Get("x-ms-request-id")
	if v, ok := judge(r, tenant, e, t.refusal, ex.RequestBody); ok {
		v.Rule, v.Severity, v.Doc = RuleTokenRequest, violation.Error, violation.DocFor(RuleTokenRequest)
		v.Method, v.Path, v.Status = r.Method, redactQuery(r.URL.RequestURI()), ex.Status
		v.CorrelationID, v.RequestID, v.At, v.ClockAt = ex.CorrelationID, ex.RequestID, wall, start
		if i.log != nil {
			i.log.Record(v)
		}
		ex.Violations = append(ex.Violations, v)
	}
	for _, fn := range i.onExch {
		fn(ex)
	}
	w.WriteHeader(ex.Status)
	_, _ = w.Write(t.body.Bytes())
}

// peekBody reads up to maxBody+1 bytes of r's body for the transcript and
// puts them back in front of the rest, so the handler reads the same body
// and still sees an oversized one as oversized.
func peekBody(r *http.Request) []byte {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	rest := io.Reader(r.Body)
	if err != nil {
		rest = errReader{err}
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(b), rest), r.Body}
	return bytes.Clone(b[:min(len(b), maxBody)])
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// judge turns the refusal of a token request into what the violation says.
// Only token requests are judged: a discovery or keys request the fake
// cannot answer is the fake's limit as much as the app's mistake, and
// correct libraries (MSAL, azidentity, x/oauth2) are never refused. An
// unknown path counts only when it is plainly a token request.
func judge(r *http.Request, tenant string, e endpoint, refusal *oauthError, body []byte) (violation.Violation, bool) {
	if e == noEndpoint {
		if !looksLikeToken(r.URL.Path) {
			return violation.Violation{}, false
		}
		return violation.Violation{
			Summary: "token request sent to a path Entra ID does not serve",
			Field:   "path",
			Got:     got(r, http.StatusNotFound, 0, ""),
			Want:    "POST {authority}/{tenant-id}/oauth2/v2.0/token (v2) or {authority}/{tenant-id}/oauth2/token (v1)",
			Fix:     "Build the token URL as the authority, your tenant id, then /oauth2/v2.0/token — or let MSAL or azidentity build it from the tenant id.",
		}, true
	}
	if !e.isToken() || refusal == nil || refusal.status >= http.StatusInternalServerError {
		return violation.Violation{}, false
	}
	want := "POST {authority}/{tenant-id}/oauth2/v2.0/token with grant_type=client_credentials, client_id, client_secret and scope=" + MarketplaceAppID + "/.default"
	if e == tokenV1 {
		want = "POST {authority}/{tenant-id}/oauth2/token with grant_type=client_credentials, client_id, client_secret and resource=" + MarketplaceAppID
	}
	v := violation.Violation{Got: got(r, refusal.status, refusal.code, ""), Want: want}
	form := r.PostForm
	switch refusal.code {
	case 900561:
		v.Summary = fmt.Sprintf("token request sent as %s; Entra ID accepts only POST", r.Method)
		v.Field, v.Want = "method", "POST with the parameters in a form-encoded body"
		v.Fix = "Send the token request as POST with Content-Type: application/x-www-form-urlencoded and the parameters in the body, not the query."
	case 900144:
		missing := missingParam(*refusal)
		sent := formNames(r, body)
		v.Field = "form." + missing
		v.Got = got(r, refusal.status, refusal.code, sentList(sent))
		switch variant := caseVariant(sent, missing); {
		case r.URL.Query().Has(missing):
			v.Summary = fmt.Sprintf("token request sends %s in the query string; Entra ID reads the parameters from the body only", missing)
			v.Fix = "Send the parameters in a form-encoded POST body, not the URL: the query ends up in logs, secret included."
		case len(body) == 0:
			v.Summary = "token request has no body; Entra ID reads the parameters from a form-encoded body"
			v.Field = "body"
			v.Fix = "Send grant_type, client_id, client_secret and scope (or resource) as an application/x-www-form-urlencoded body."
		case !isForm(r):
			v.Summary = fmt.Sprintf("token request body is not form-encoded (Content-Type %q); Entra ID reads only application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
			v.Field = "header.Content-Type"
			v.Fix = "Encode the parameters as a form (url.Values.Encode) and send Content-Type: application/x-www-form-urlencoded."
		case variant != "":
			v.Summary = fmt.Sprintf("token request sends %s instead of %s; parameter names are case-sensitive", variant, missing)
			v.Fix = "Send the parameter names in lower case: grant_type, client_id, client_secret and scope (v2) or resource (v1)."
		default:
			v.Summary = fmt.Sprintf("token request has no %s parameter", missing)
			v.Fix = fixMissing(missing)
		}
	case 70003:
		v.Summary = fmt.Sprintf("token request uses grant_type=%s; an app calling the marketplace uses client_credentials", form.Get("grant_type"))
		v.Field = "form.grant_type"
		v.Fix = "Send grant_type=client_credentials: the marketplace API takes app-only tokens, not user tokens."
	case 1002012, 28000, 70011:
		v.Summary = fmt.Sprintf("token request asks for scope %q, which is not one resource's /.default", form.Get("scope"))
		v.Field = "form.scope"
		v.Fix = "Send scope=" + MarketplaceAppID + "/.default and nothing else."
	case 700016:
		v.Summary = fmt.Sprintf("token request names client_id %s, which is not an app registered in tenant %s", clientIDOf(r), tenant)
		v.Field = "form.client_id"
		v.Fix = "Send the Application (client) ID of the app registration saasconform was given, to that app's tenant."
	case 7000216:
		v.Summary = "token request sends no client_secret"
		v.Field = "form.client_secret"
		v.Fix = "Send the app's client secret as client_secret in the form (or with HTTP Basic)."
	case 7000215:
		v.Summary = fmt.Sprintf("token request sends a client secret that is not app %s's current secret", clientIDOf(r))
		v.Field = "form.client_secret"
		v.Fix = "Send the secret's Value (not its Secret ID) of the secret saasconform was given; check it was not rotated."
	case 700027:
		v.Summary = "token request authenticates with a client assertion (certificate); the app saasconform registered has a client secret only"
		v.Field = "form.client_assertion"
		v.Fix = "Authenticate with the client secret saasconform was given (client_secret)."
	case 90002:
		v.Summary = fmt.Sprintf("token request goes to tenant %q, where the app is not registered", tenant)
		v.Field = "path.tenant"
		v.Fix = "Put your app's Directory (tenant) ID — a GUID — in the token URL: {authority}/{tenant-id}/oauth2/v2.0/token."
	case 9001023:
		v.Summary = fmt.Sprintf("token request uses the tenant-less authority /%s; client credentials need the app's tenant id", tenant)
		v.Field = "path.tenant"
		v.Fix = "Use {authority}/{tenant-id}/ as the authority, not /common, /organizations or /consumers."
	default: // the fake's own conditions: oversized or malformed body
		v.Summary = "token request body is not a well-formed form: " + refusal.msg
		v.Field = "body"
		v.Fix = "Send a small application/x-www-form-urlencoded body of grant_type, client_id, client_secret and scope (or resource)."
	}
	return v, true
}

// querySecret is a secret sent in a query string, where a token request
// that should have been a POST puts it.
var querySecret = regexp.MustCompile(`(?i)([?&](?:client_secret|client_assertion|access_token)=)[^&#]*`)

// redactQuery hides secrets in a request URI: violations are printed and
// written as they are, unlike exchanges, which only reach a reader through
// the report's redaction (which leaves this form as it is).
func redactQuery(uri string) string { return querySecret.ReplaceAllString(uri, "${1}<redacted>") }

// got is the request line and Entra's answer: "GET /t/oauth2/v2.0/token →
// 405 AADSTS900561". The query is left out: a secret may be in it.
func got(r *http.Request, status, code int, extra string) string {
	s := fmt.Sprintf("%s %s → %d", r.Method, r.URL.Path, status)
	if code != 0 {
		s += fmt.Sprintf(" AADSTS%d", code)
	}
	if extra != "" {
		s += "; " + extra
	}
	return s
}

// looksLikeToken reports whether a path the fake does not serve is plainly
// aimed at a token endpoint (no tenant, a misspelt segment, a trailing
// slash).
func looksLikeToken(path string) bool {
	p := strings.ToLower(path)
	return strings.Contains(p, "/oauth2/") || strings.HasSuffix(strings.TrimSuffix(p, "/"), "/token")
}

// missingParam is the parameter an errMissingParam answer names.
func missingParam(e oauthError) string {
	_, rest, _ := strings.Cut(e.msg, "parameter '")
	name, _, _ := strings.Cut(rest, "'")
	return name
}

func isForm(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}

// formNames are the parameter names of a form body, in order, each once;
// nil when the body is not a form. Values are never kept: they hold
// secrets.
func formNames(r *http.Request, body []byte) []string {
	if !isForm(r) {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, pair := range strings.Split(string(body), "&") {
		k, _, _ := strings.Cut(pair, "=")
		if name, err := url.QueryUnescape(k); err == nil && name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

func sentList(names []string) string {
	if len(names) == 0 {
		return "sent no form parameters"
	}
	return "sent " + strings.Join(names, ", ")
}

// caseVariant is the sent name that differs from want only in case.
func caseVariant(sent []string, want string) string {
	for _, s := range sent {
		if s != want && strings.EqualFold(s, want) {
			return s
		}
	}
	return ""
}

func fixMissing(name string) string {
	switch name {
	case "grant_type":
		return "Send grant_type=client_credentials."
	case "client_id":
		return "Send client_id=<your app's Application (client) ID>."
	case "scope":
		return "Send scope=" + MarketplaceAppID + "/.default (v2 endpoint), or use the v1 endpoint /oauth2/token with resource=" + MarketplaceAppID + "."
	case "resource":
		return "Send resource=" + MarketplaceAppID + " (v1 endpoint), or use /oauth2/v2.0/token with scope=" + MarketplaceAppID + "/.default."
	}
	return "Send " + name + "."
}

// clientIDOf is the client id a token request named, from the form or HTTP
// Basic, as parseTokenRequest reads it.
func clientIDOf(r *http.Request) string {
	if id := r.PostForm.Get("client_id"); id != "" {
		return id
	}
	if user, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(user); err == nil {
			return u
		}
	}
	return ""
}
