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
	// Bearer eyJ… anywhere in text (logs, failure messages).
	bearerText = regexp.MustCompile(`(?i)\bBearer\s+([A-Za-z0-9\-._~+/]+=*)`)
)

// RedactBody hides the values of access_token, client_secret, id_token,
// refresh_token and client_assertion (names in any case), whether the body
// is JSON or a form, and bearer tokens in it.
func RedactBody(s string) string {
	s = jsonSecret.ReplaceAllString(s, `$1"<redacted>"`)
	s = formSecret.ReplaceAllString(s, `$1$2=<redacted>`)
	return redactBearers(s)
}

// RedactText is RedactBody for free text: logs, failure messages, URLs.
func RedactText(s string) string { return RedactBody(s) }

// bearerWords follow "bearer" in prose ("the bearer token was issued for
// another API"): not a token, so not redacted.
var bearerWords = map[string]bool{"token": true, "tokens": true, "token's": true, "auth": true, "authentication": true,
	"authorization": true, "scheme": true, "header": true, "prefix": true, "challenge": true}

func redactBearers(s string) string {
	return bearerText.ReplaceAllStringFunc(s, func(m string) string {
		tok := bearerText.FindStringSubmatch(m)[1]
		if strings.HasPrefix(tok, "<redacted") || bearerWords[strings.ToLower(tok)] {
			return m
		}
		return fmt.Sprintf("Bearer <redacted: %d chars>", utf8.RuneCountInString(tok))
	})
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
