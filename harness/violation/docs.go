package violation

import "strings"

// Microsoft Learn pages the rule families come from.
const (
	docSubscriptionAPIs = "https://learn.microsoft.com/partner-center/marketplace-offers/pc-saas-fulfillment-subscription-api"
	docOperationAPIs    = "https://learn.microsoft.com/partner-center/marketplace-offers/pc-saas-fulfillment-operations-api"
	docWebhook          = "https://learn.microsoft.com/partner-center/marketplace-offers/pc-saas-fulfillment-webhook"
	docRegistration     = "https://learn.microsoft.com/partner-center/marketplace-offers/pc-saas-registration"
	docLifecycle        = "https://learn.microsoft.com/partner-center/marketplace-offers/pc-saas-fulfillment-life-cycle"
	docKeyRollover      = "https://learn.microsoft.com/entra/identity-platform/signing-key-rollover"
)

// DocFor returns the documentation page for a rule ID, by its family.
func DocFor(rule string) string {
	switch {
	case rule == "WH-AUTH-02":
		return docKeyRollover
	case strings.HasPrefix(rule, "FUL-OP-"):
		return docOperationAPIs
	case strings.HasPrefix(rule, "FUL-"):
		return docSubscriptionAPIs
	case strings.HasPrefix(rule, "WH-"):
		return docWebhook
	case strings.HasPrefix(rule, "AUTH-"):
		return docRegistration
	case strings.HasPrefix(rule, "STATE-"):
		return docLifecycle
	}
	return ""
}
