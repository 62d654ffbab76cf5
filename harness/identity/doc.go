// Package identity is a fake Microsoft Entra ID: the token issuer the
// marketplace's callers and callees trust.
//
// It serves what real client libraries (MSAL for Go, azidentity, go-oidc,
// golang.org/x/oauth2/clientcredentials) read from Entra — OpenID discovery
// documents, JWKS, and the v1 and v2 client-credentials token endpoints —
// and mints RS256 access tokens whose claims have the shape of real ones. The
// harness uses the same Issuer to check the bearer tokens publishers send to
// the fake marketplace (Verify) and to sign the tokens the fake marketplace
// sends to publishers' webhooks (WebhookToken).
//
// With OnExchange and WithViolations the fake is part of the contract: every
// request it serves is reported as a contract.Exchange (operations OpToken,
// OpOpenIDConfig, OpKeys, OpUnknown), and every token request it refuses is
// an AUTH-05 violation (RuleTokenRequest) that names Entra's AADSTS code and
// what to change. Discovery and keys requests are never blamed: correct
// libraries are not refused, and the fake's limits are not the app's fault.
//
// Deliberate simplifications, each visible to a careful client:
//
//   - The token version follows the endpoint: /oauth2/token mints v1 tokens
//     and /oauth2/v2.0/token mints v2 tokens. Real Entra picks the version
//     from the resource app's accessTokenAcceptedVersion.
//   - Any resource is accepted as an audience, including ones that do not
//     exist: an app that asks for the wrong audience gets a token the fake
//     marketplace then refuses, which is the mistake the harness reports.
//   - Tenants are the tenant ids of registered apps, addressed by GUID only
//     (no domain names). The client-credentials grant is refused on the
//     tenant-less authorities common, organizations and consumers.
//   - Only client secrets authenticate a client (form fields or HTTP Basic);
//     certificate assertions are refused.
//   - iat and nbf are the issue time (real Entra back-dates them a few
//     minutes), so tests that move the clock see exact boundaries.
//
// Tenant and client ids in fixtures are invented GUIDs; no real directory
// is named anywhere in the package.
package identity
