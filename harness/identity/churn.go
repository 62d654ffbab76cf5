package identity

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

// RuleTokenChurn is the warning for an app that asks Entra ID for a new
// marketplace token for (nearly) every API call although the one it holds
// has long to live. Entra ID throttles such apps.
const RuleTokenChurn = "AUTH-06"

// DocTokenCache is Microsoft's page on acquiring and caching tokens, where
// AUTH-06 comes from (spec/rules.yaml gives the same link).
const DocTokenCache = "https://learn.microsoft.com/entra/identity-platform/msal-acquire-cache-tokens"

// Thresholds of TokenChurn.
const (
	// RenewMargin is how early a correct cache may renew a token: MSAL
	// (and azidentity, which uses it) treats a token with less than five
	// minutes left as expired; some caches renew at half the lifetime.
	RenewMargin = 5 * time.Minute
	// churnMin is how many needless token requests a run must show before
	// it is called churn: a few (one per worker process, say) are not.
	churnMin = 3
)

// TokenChurn reads a run's transcript for an app that asks Entra ID for a
// new token while the last one it got still had more than RenewMargin (and
// more than half its lifetime) to live — a needless request — and does so
// for at least half its marketplace calls, three times or more. Such an
// app fetches a token per call; a correct cache (whatever its lifetime:
// with tokens shorter than the margin every request is legitimate) or an
// app that fetches one token per process start does not qualify. The
// violation is a warning seen on the last needless token request.
func TokenChurn(xs []contract.Exchange) (violation.Violation, bool) {
	xs = slices.Clone(xs)
	slices.SortStableFunc(xs, func(a, b contract.Exchange) int { return a.At.Compare(b.At) })
	type held struct {
		expires  time.Time
		lifetime time.Duration
	}
	last := map[string]held{} // by client id
	var needless, tokens, calls int
	var seen contract.Exchange
	var left time.Duration
	for _, x := range xs {
		if !IsOperation(x.Operation) {
			if x.RequestHeader.Get("Authorization") != "" {
				calls++
			}
			continue
		}
		if x.Operation != OpToken || x.Status != http.StatusOK {
			continue
		}
		life, ok := expiresIn(x.ResponseBody)
		if !ok {
			continue
		}
		tokens++
		client := tokenClient(x)
		if h, ok := last[client]; ok {
			if rest := h.expires.Sub(x.At); rest > max(RenewMargin, h.lifetime/2) {
				needless++
				seen = x
				if left == 0 || rest < left {
					left = rest
				}
			}
		}
		last[client] = held{expires: x.At.Add(life), lifetime: life}
	}
	if needless < churnMin || 2*needless < calls {
		return violation.Violation{}, false
	}
	return violation.Violation{
		Rule: RuleTokenChurn, Severity: violation.Warning, Doc: DocTokenCache,
		Summary: fmt.Sprintf("the app asked Entra ID for a new token %d times while the token it held still had %s or more to live: a token request for (nearly) every API call", needless, left.Round(time.Second)),
		Field:   "token requests",
		Got:     fmt.Sprintf("%d token requests for %d marketplace calls; %d of them while a valid token was held", tokens, calls, needless),
		Want:    "one token reused until shortly before it expires",
		Fix: "keep the token and reuse it until a few minutes before it expires — with MSAL or azidentity keep one client (credential) for the " +
			"whole process instead of building one per call, and it caches for you; Entra ID throttles apps that ask for a token per call",
		Method: seen.Method, Path: redactQuery(seen.URL), Status: seen.Status,
		CorrelationID: seen.CorrelationID, RequestID: seen.RequestID, At: seen.At, ClockAt: seen.ClockAt,
	}, true
}

// expiresIn reads a token answer's expires_in: a number (v2) or a string
// of digits (v1).
func expiresIn(body []byte) (time.Duration, bool) {
	var answer struct {
		ExpiresIn json.RawMessage `json:"expires_in"`
	}
	if json.Unmarshal(body, &answer) != nil || len(answer.ExpiresIn) == 0 {
		return 0, false
	}
	n, err := strconv.ParseFloat(strings.Trim(string(answer.ExpiresIn), `"`), 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n * float64(time.Second)), true
}

// tokenClient is the client id a token request named, from its form body
// or HTTP Basic.
func tokenClient(x contract.Exchange) string {
	if form, err := url.ParseQuery(string(x.RequestBody)); err == nil && form.Get("client_id") != "" {
		return form.Get("client_id")
	}
	r := http.Request{Header: x.RequestHeader}
	if user, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(user); err == nil {
			return u
		}
	}
	return ""
}
