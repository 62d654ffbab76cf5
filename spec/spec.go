// Package spec embeds saasconform's own OpenAPI 3.0.3 description of the SaaS
// Fulfillment API v2 (fulfillment-v2.yaml) and loads it with kin-openapi.
//
// The document is stricter than Microsoft's published one (closed request
// bodies, planId XOR quantity on update, required response fields, closed
// enums); README.md in this directory lists every deviation and its reason.
//
// Its single server is "/api". Callers that route requests against a running
// fake rewrite doc.Servers to the fake's base URL first; Load returns a fresh
// document on every call so that rewriting one never affects another.
package spec

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed fulfillment-v2.yaml
var fulfillmentV2 []byte

// APIVersion is the only api-version value Fulfillment API v2 accepts.
const APIVersion = "2018-08-31"

// ServerURL is the server URL written in the document: the fake serves the
// API below this path.
const ServerURL = "/api"

// ProductionErrorSchema names the schema (components/schemas) of error
// bodies in the production profile: a bare string or a flat code and
// message, as the real service is reported to answer.
const ProductionErrorSchema = "ProductionError"

// The operationIds of the ten Fulfillment v2 operations, as written in
// fulfillment-v2.yaml. Other packages key routes, recordings and violations
// on these strings.
const (
	OpResolve            = "resolve"            // POST   /saas/subscriptions/resolve
	OpListSubscriptions  = "listSubscriptions"  // GET    /saas/subscriptions
	OpGetSubscription    = "getSubscription"    // GET    /saas/subscriptions/{subscriptionId}
	OpUpdateSubscription = "updateSubscription" // PATCH  /saas/subscriptions/{subscriptionId}
	OpDeleteSubscription = "deleteSubscription" // DELETE /saas/subscriptions/{subscriptionId}
	OpListAvailablePlans = "listAvailablePlans" // GET    /saas/subscriptions/{subscriptionId}/listAvailablePlans
	OpActivate           = "activate"           // POST   /saas/subscriptions/{subscriptionId}/activate
	OpListOperations     = "listOperations"     // GET    /saas/subscriptions/{subscriptionId}/operations
	OpGetOperation       = "getOperation"       // GET    /saas/subscriptions/{subscriptionId}/operations/{operationId}
	OpUpdateOperation    = "updateOperation"    // PATCH  /saas/subscriptions/{subscriptionId}/operations/{operationId}
)

// OperationIDs lists every operationId in the document, in the order above.
func OperationIDs() []string {
	return []string{
		OpResolve, OpListSubscriptions, OpGetSubscription, OpUpdateSubscription,
		OpDeleteSubscription, OpListAvailablePlans, OpActivate, OpListOperations,
		OpGetOperation, OpUpdateOperation,
	}
}

// WebhookPayloadSchema is the name of the components/schemas entry that
// describes the webhook body; no path uses it.
const WebhookPayloadSchema = "WebhookPayload"

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 hex form, in either
// case, without braces or a urn: prefix. Microsoft's "uuid" is a .NET Guid,
// which does not constrain the version or variant nibbles, so neither do we.
// It is what the regexp
// ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$
// accepts (spec_test.go checks they agree), by hand: it runs on every
// call's path and id headers.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// FormatUUID validates the "uuid" string format: a GUID in 8-4-4-4-12 hex form.
var FormatUUID openapi3.StringFormatValidator = openapi3.NewCallbackValidator(func(s string) error {
	if !IsGUID(s) {
		return errors.New("not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
	}
	return nil
})

// FormatURI validates the "uri" string format: an absolute URI (with a scheme
// and a host), as Operation-Location and @nextLink are.
var FormatURI openapi3.StringFormatValidator = openapi3.NewCallbackValidator(func(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme == "" || u.Host == "" {
		return errors.New("not an absolute URI")
	}
	return nil
})

func init() {
	// kin-openapi only checks formats it knows. Registering ours globally at
	// init time (before any goroutine can read the map) makes every
	// validation in the process check them, including openapi3filter calls
	// whose Options do not carry ValidationOptions().
	openapi3.DefineStringFormatValidator("uuid", FormatUUID)
	openapi3.DefineStringFormatValidator("uri", FormatURI)
}

// ValidationOptions returns the schema validation options that check the
// formats the document uses. They are registered globally too; pass these to
// openapi3filter.Options.SchemaValidationOptions to be explicit.
func ValidationOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidator("uuid", FormatUUID),
		openapi3.WithStringFormatValidator("uri", FormatURI),
	}
}

// YAML returns a copy of the embedded fulfillment-v2.yaml.
func YAML() []byte {
	out := make([]byte, len(fulfillmentV2))
	copy(out, fulfillmentV2)
	return out
}

// Load parses the embedded document, validates it and returns it. Each call
// returns a new *openapi3.T, so callers may modify it (typically Servers).
func Load() (*openapi3.T, error) {
	return LoadContext(context.Background())
}

// LoadContext is Load with a context for validation.
func LoadContext(ctx context.Context) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(fulfillmentV2)
	if err != nil {
		return nil, fmt.Errorf("spec: load fulfillment-v2.yaml: %w", err)
	}
	doc.SetStringFormatValidator("uuid", FormatUUID)
	doc.SetStringFormatValidator("uri", FormatURI)
	if err := doc.Validate(ctx, openapi3.EnableSchemaFormatValidation()); err != nil {
		return nil, fmt.Errorf("spec: validate fulfillment-v2.yaml: %w", err)
	}
	return doc, nil
}

// MustLoad is Load that panics on error; the document is embedded and
// tested, so an error is a build defect.
func MustLoad() *openapi3.T {
	doc, err := Load()
	if err != nil {
		panic(err)
	}
	return doc
}
