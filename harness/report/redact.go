package report

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

// secretFields are the JSON and form fields whose values never reach a
// report.
var secretFields = `access_token|client_secret|id_token|refresh_token|client_assertion`

var (
	// "access_token": "eyJ…" (escaped quotes inside the value included).
	// Names match in any case: a server ignores a Client_secret, but the
	// secret in it is still a secret.
	jsonSecret = regexp.MustCompile(`(?i)("(?:` + secretFields + `)"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// access_token=eyJ…& in a form body or a query, any case.
	formSecret = regexp.MustCompile(`(?i)(^|[?&\s])(` + secretFields + `)=[^&\s"]*`)
	// An Authorization header printed in text ("Authorization: Bearer x",
	// `"authorization":"Basic x"`, Go's map[Authorization:[Bearer x]]): its
	// value is a credential whatever its shape (RFC 7235's token68). A
	// placeholder ("Bearer <token>") or a value already redacted does not
	// match.
	authText = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization"?\s*[:=]\s*["\[]?\s*)(?:([A-Za-z][A-Za-z0-9_-]*)(\s+))?([A-Za-z0-9\-._~+/]+=*)`)
	// A JWT: three base64url parts, the first a JSON header (`{"` encodes
	// to "eyJ"). The signature may be empty (alg none).
	jwtShape = regexp.MustCompile(`\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	// A PEM private key (a signing key printed by a careless app).
	privateKey = regexp.MustCompile(`-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)`)
)

// RedactBody hides secrets by what they are, never by the word before
// them: PEM private keys, the values of access_token, client_secret, id_token, refresh_token
// and client_assertion (names in any case) in a JSON or form body, the
// value of an Authorization header written out in the text, and anything
// shaped like a JWT. Prose about bearer tokens is left as it is.
func RedactBody(s string) string {
	// Each pattern runs only where a literal it cannot match without is
	// present: a publisher's log passes through here line by line, and
	// most lines hold no secret at all (160 MiB of log lines took longer
	// than a readiness timeout under the race detector otherwise).
	if strings.Contains(s, "PRIVATE KEY-----") {
		s = privateKey.ReplaceAllString(s, "<redacted ${1}private key>")
	}
	lower := strings.ToLower(s)
	if hasSecretField(lower) {
		s = jsonSecret.ReplaceAllString(s, `$1"<redacted>"`)
		s = formSecret.ReplaceAllString(s, `$1$2=<redacted>`)
	}
	if strings.Contains(lower, "authorization") {
		s = authText.ReplaceAllStringFunc(s, redactAuthValue)
	}
	if !strings.Contains(s, "eyJ") {
		return s
	}
	return jwtShape.ReplaceAllStringFunc(s, func(tok string) string {
		return fmt.Sprintf("<redacted: %d chars>", utf8.RuneCountInString(tok))
	})
}

// hasSecretField reports whether lower (text in lower case) names one of
// secretFields.
func hasSecretField(lower string) bool {
	for _, f := range strings.Split(secretFields, "|") {
		if strings.Contains(lower, f) {
			return true
		}
	}
	return false
}

// RedactText is RedactBody for free text: logs, failure messages, URLs.
func RedactText(s string) string { return RedactBody(s) }

var authSchemes = map[string]bool{"bearer": true, "basic": true, "digest": true, "negotiate": true, "ntlm": true}

// redactAuthValue rewrites one authText match: the scheme stays (Bearer
// spelt canonically), the credential goes.
func redactAuthValue(m string) string {
	sub := authText.FindStringSubmatch(m)
	lead, scheme, space, cred := sub[1], sub[2], sub[3], sub[4]
	if scheme == "" && authSchemes[strings.ToLower(cred)] {
		return m // "Authorization: Bearer <token>": a scheme and a placeholder
	}
	if scheme != "" && strings.EqualFold(scheme, "bearer") {
		scheme = "Bearer"
	}
	return fmt.Sprintf("%s%s%s<redacted: %d chars>", lead, scheme, space, utf8.RuneCountInString(cred))
}

// RedactHeader copies h with secrets hidden: an Authorization value becomes
// "Bearer <redacted: N chars>" (N the token's length), an
// x-ms-marketplace-token keeps its first 6 characters. Keys are canonical.
func RedactHeader(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		for _, v := range vs {
			out[ck] = append(out[ck], RedactHeaderValue(ck, v))
		}
	}
	return out
}

// RedactHeaderValue hides the secret in one header value.
func RedactHeaderValue(name, v string) string {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization":
		scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok {
			return fmt.Sprintf("<redacted: %d chars>", utf8.RuneCountInString(v))
		}
		if strings.EqualFold(scheme, "bearer") {
			scheme = "Bearer"
		}
		return fmt.Sprintf("%s <redacted: %d chars>", scheme, utf8.RuneCountInString(strings.TrimSpace(tok)))
	case "x-ms-marketplace-token":
		r := []rune(v)
		if len(r) <= 6 {
			return "…"
		}
		return string(r[:6]) + "…"
	case "cookie", "set-cookie":
		return fmt.Sprintf("<redacted: %d chars>", utf8.RuneCountInString(v))
	}
	return RedactText(v)
}
