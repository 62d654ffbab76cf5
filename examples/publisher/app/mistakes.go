package app

import (
	"fmt"
	"strings"
)

// Mistake names one deliberate integration mistake. The zero value is the
// correct publisher. Each mistake switches on exactly one wrong behaviour so
// the harness can be shown to catch it; the code paths are marked with
// `if a.mistake == …` and a comment, and are never what an ISV should copy.
type Mistake string

// NoMistake is the correct publisher.
const NoMistake Mistake = ""

// The mistakes, by switch name.
const (
	DecodeTokenTwice        Mistake = "decode-token-twice"
	ActivateWrongPlan       Mistake = "activate-wrong-plan"
	ActivateWrongQuantity   Mistake = "activate-wrong-quantity"
	ActivateOnRevisit       Mistake = "activate-on-revisit"
	ActivateFromReconcile   Mistake = "activate-from-reconcile"
	V1API                   Mistake = "v1-api"
	NoAPIVersion            Mistake = "no-api-version"
	WrongTokenScope         Mistake = "wrong-token-scope"
	TokenCachedPastExpiry   Mistake = "token-cached-past-expiry"
	WebhookSkipAuth         Mistake = "webhook-skip-auth"
	WebhookSkipSignature    Mistake = "webhook-skip-signature"
	WebhookSkipAud          Mistake = "webhook-skip-aud"
	WebhookSkipTid          Mistake = "webhook-skip-tid"
	WebhookSkipAzp          Mistake = "webhook-skip-azp"
	WebhookSkipExpiry       Mistake = "webhook-skip-expiry"
	JWKSRefreshIgnored      Mistake = "jwks-refresh-ignored"
	Webhook500              Mistake = "webhook-500"
	WebhookSlow             Mistake = "webhook-slow"
	NoGetOperation          Mistake = "no-get-operation"
	RejectWith500           Mistake = "reject-with-500"
	SuspendAsUnsubscribe    Mistake = "suspend-as-unsubscribe"
	IgnoreReinstate         Mistake = "ignore-reinstate"
	IgnoreRenew             Mistake = "ignore-renew"
	IgnoreChangeQuantity    Mistake = "ignore-change-quantity"
	PatchPlanAndQuantity    Mistake = "patch-plan-and-quantity"
	IgnoreOperationLocation Mistake = "ignore-operation-location"
	FirstPageOnly           Mistake = "first-page-only"
	StrictWebhookJSON       Mistake = "strict-webhook-json"
	DuplicateWebhookApplied Mistake = "duplicate-webhook-applied"
	CSPKeyPurchaser         Mistake = "csp-key-purchaser"
	ExpiredToken500         Mistake = "expired-token-500"
	ResolveFromBrowser      Mistake = "resolve-from-browser"
	ChangeWithoutChecking   Mistake = "change-without-checking"
	PartnerNoticeApplied    Mistake = "partner-notice-applied"
	IgnoreSubscribe         Mistake = "ignore-subscribe"
	ActivateAfterAuto       Mistake = "activate-after-auto"
	UnknownActionCrashes    Mistake = "unknown-action-crashes"
	NoRetryOnTransient      Mistake = "no-retry-on-5xx"
)

// MistakeInfo describes one mistake: the table main's help and the README
// are written from.
type MistakeInfo struct {
	Name        Mistake
	ID          string // CONTRACT.md §9
	Rules       string // CONTRACT.md rule IDs it breaks
	Description string // what the publisher does wrong
	Seen        string // how the harness sees it from outside
}

// Mistakes lists every switch, in CONTRACT.md order.
var Mistakes = []MistakeInfo{
	{DecodeTokenTwice, "MISTAKE-01", "FUL-RESOLVE-01", "URL-decodes the landing-page token once more before resolving", "resolve receives the token with '+' turned into ' ' and answers 400"},
	{ActivateWrongPlan, "MISTAKE-02", "FUL-ACTIVATE-01", "activates with a hard-coded planId \"standard\" instead of the one resolve returned", "activate planId differs from the resolved one; 400"},
	{ActivateWrongQuantity, "MISTAKE-02", "FUL-ACTIVATE-01", "activates a per-seat plan with the purchased quantity + 1", "activate quantity differs from the resolved one; 400"},
	{ActivateOnRevisit, "MISTAKE-03", "FUL-ACTIVATE-02", "a Manage-account visit to a Subscribed subscription calls activate again", "a second activate call for an active subscription"},
	{ActivateFromReconcile, "MISTAKE-04", "FUL-ACTIVATE-02", "reconcile activates every PendingFulfillmentStart subscription it lists, never resolving", "activate for a subscription never resolved"},
	{V1API, "MISTAKE-05", "FUL-API-02", "activates with v1: PUT /saas/subscriptions/{id}?api-version=2017-04-15 and the marketplace token header", "v1 path, method and api-version"},
	{NoAPIVersion, "MISTAKE-06", "FUL-API-01", "drops api-version from every call", "every call lacks api-version and gets 400"},
	{WrongTokenScope, "MISTAKE-07", "AUTH-01", "asks Entra ID for https://management.azure.com/.default", "bearer token audience is not the marketplace; 403"},
	{TokenCachedPastExpiry, "MISTAKE-08", "AUTH-04", "fetches one token at first use and reuses it forever, bypassing MSAL's cache", "bearer token used after its exp; 403 once it expires"},
	{WebhookSkipAuth, "MISTAKE-09", "WH-AUTH-01", "does not validate the webhook's bearer token at all", "every forged token (even none) gets 200"},
	{WebhookSkipSignature, "MISTAKE-09", "WH-AUTH-01", "reads the webhook token's claims without verifying the signature (checks iss/aud/tid/azp/exp)", "alg-none, HS256, unknown-key and wrong-kid forgeries get 200"},
	{WebhookSkipAud, "MISTAKE-09", "WH-AUTH-01", "does not check the webhook token's aud", "wrong-aud forgery gets 200"},
	{WebhookSkipTid, "MISTAKE-09", "WH-AUTH-01", "does not check the webhook token's tid (accepts any tenant's issuer)", "wrong-tid forgery gets 200"},
	{WebhookSkipAzp, "MISTAKE-09", "WH-AUTH-01", "does not check the webhook token's azp/appid", "wrong-azp-appid forgery gets 200"},
	{WebhookSkipExpiry, "MISTAKE-09", "WH-AUTH-01", "does not check the webhook token's exp/nbf", "expired and not-yet-valid forgeries get 200"},
	{JWKSRefreshIgnored, "—", "WH-AUTH-02", "reads Entra's JWKS again on a token it cannot verify, but keeps verifying against the keys it read first", "after a key rollover, a genuine webhook signed with the new key gets 401 on every retry, although the app read the new JWKS"},
	{Webhook500, "MISTAKE-11", "WH-ACK-01", "processes webhooks but answers 500", "webhook status 500 (Microsoft would retry)"},
	{WebhookSlow, "MISTAKE-11", "WH-ACK-01", "answers the webhook only after SAAS_SLOW_WEBHOOK (default 12s)", "webhook latency above 10 s"},
	{NoGetOperation, "MISTAKE-10", "WH-VERIFY-01", "acts on the webhook payload without GET operation", "no GET operation before the change; a payload-only forgery is applied"},
	{RejectWith500, "MISTAKE-12", "WH-ACK-02", "rejects a refused change by answering the webhook 500 instead of PATCH Failure", "webhook 500 and the operation is never rejected"},
	{SuspendAsUnsubscribe, "MISTAKE-13", "STATE-03", "treats Suspend as Unsubscribe: deletes the account", "probe shows cancelled after Suspend; the later Reinstate is refused"},
	{IgnoreReinstate, "MISTAKE-14", "STATE-06", "ignores Reinstate", "probe stays suspended while Microsoft shows Subscribed"},
	{IgnoreRenew, "MISTAKE-14", "STATE-06", "ignores Renew", "probe renewals count does not move"},
	{IgnoreChangeQuantity, "MISTAKE-14", "STATE-06", "ignores ChangeQuantity (no PATCH, no change)", "probe seats differ from Microsoft's quantity"},
	{PatchPlanAndQuantity, "MISTAKE-15", "FUL-UPDATE-01", "changes plan with {\"planId\",\"quantity\"} in one PATCH (quantity 1 when it has no seats)", "PATCH body carries both fields; 400"},
	{IgnoreOperationLocation, "MISTAKE-16", "FUL-UPDATE-02", "after 202 updates its own view at once and never polls Operation-Location", "no GET operation after 202; probe changed although the operation failed"},
	{FirstPageOnly, "MISTAKE-17", "FUL-LIST-01", "reconcile reads only the first page of subscriptions", "no request with continuationToken"},
	{StrictWebhookJSON, "MISTAKE-18", "WH-PAYLOAD-02", "decodes webhooks with DisallowUnknownFields", "a payload with an extra field gets 400"},
	{UnknownActionCrashes, "MISTAKE-18", "WH-PAYLOAD-03", "reads the webhook's action into a closed enum of the six documented actions and fails on any other", "a Transfer or future-action notification gets 500"},
	{DuplicateWebhookApplied, "MISTAKE-19", "WH-IDEMP-01, FUL-OP-01", "processes every delivery again, including a second PATCH of the operation", "second PATCH of a final operation (409); renewals counted twice"},
	{CSPKeyPurchaser, "MISTAKE-20", "STATE-06", "keys the account on the purchaser tenant instead of the beneficiary's", "probe customerTenant is the CSP's tenant"},
	{ExpiredToken500, "MISTAKE-21", "FUL-RESOLVE-03", "shows an invalid or expired landing token as a server error", "landing page answers 500"},
	{ResolveFromBrowser, "MISTAKE-22", "FUL-API-03", "the landing page's script calls resolve from the browser with fetch()", "a marketplace call with an Origin header during a real browser visit"},
	{PartnerNoticeApplied, "MISTAKE-16", "FUL-UPDATE-02, STATE-06", "its admin flow follows Operation-Location correctly, but its webhook applies the notification of its own change even when the operation failed", "probe shows the change a moment after Microsoft's operation failed, when the Partner notification arrives"},
	{ChangeWithoutChecking, "—", "STATE-02, FUL-UPDATE-03", "asks Microsoft for any change its admin requests, whatever the subscription's state or allowedCustomerOperations", "PATCH of a Suspended subscription, or of a CSP subscription that allows only Read; 400"},
	{IgnoreSubscribe, "—", "WH-SUBSCRIBE-01", "acknowledges a Subscribe notification but provisions nothing, waiting for a landing visit that need never come", "probe has no account for a subscription Microsoft activated itself"},
	{ActivateAfterAuto, "—", "FUL-ACTIVATE-05, FUL-RESOLVE-02", "a Manage-account visit to a subscription Microsoft activated itself calls activate, and shows the refusal to the customer as an error page", "activate on an auto-activated subscription (a warning alone), then the landing page answers 502"},
	{NoRetryOnTransient, "—", "FUL-RETRY-01", "treats a 500, 503 or 429 answer to a read (GET subscription or operation) as final instead of asking again",
		"in the production profile, a flow stops after a transient fault on a GET"},
}

// mistakeProfiles are the mistakes only the production profile shows: the
// strict fake never answers a read with a transient fault.
var mistakeProfiles = map[Mistake]string{NoRetryOnTransient: "production"}

// Profile is the marketplace profile (a target's marketplace.profile) a run
// needs to show mistake m: "production", or "" for the default, strict.
func (m Mistake) Profile() string { return mistakeProfiles[m] }

// ParseMistake returns the mistake named s; "" is the correct publisher.
// An unknown name is an error that lists the valid ones.
func ParseMistake(s string) (Mistake, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return NoMistake, nil
	}
	for _, m := range Mistakes {
		if string(m.Name) == s {
			return m.Name, nil
		}
	}
	return NoMistake, fmt.Errorf("unknown mistake %q; valid names: %s", s, strings.Join(MistakeNames(), ", "))
}

// MistakeNames lists the valid switch names.
func MistakeNames() []string {
	out := make([]string, len(Mistakes))
	for i, m := range Mistakes {
		out[i] = string(m.Name)
	}
	return out
}
