package marketplace

import "time"

// The types below are the Fulfillment API v2 wire shapes as the fake sends
// them. Their JSON names follow Microsoft's; spec/fulfillment-v2.yaml says
// which fields are always present.

// SubscriptionStatus is a subscription's saasSubscriptionStatus.
type SubscriptionStatus string

// The subscription statuses. NotStarted is in Microsoft's enum but no
// documented flow reaches it (CONTRACT D3); the fake never produces it.
const (
	NotStarted              SubscriptionStatus = "NotStarted"
	PendingFulfillmentStart SubscriptionStatus = "PendingFulfillmentStart"
	Subscribed              SubscriptionStatus = "Subscribed"
	Suspended               SubscriptionStatus = "Suspended"
	Unsubscribed            SubscriptionStatus = "Unsubscribed"
)

// Action is what an operation does.
type Action string

// The operation actions.
const (
	ActionUnsubscribe    Action = "Unsubscribe"
	ActionChangePlan     Action = "ChangePlan"
	ActionChangeQuantity Action = "ChangeQuantity"
	ActionSuspend        Action = "Suspend"
	ActionReinstate      Action = "Reinstate"
	ActionRenew          Action = "Renew"
	// ActionSubscribe is Microsoft activating a purchase of a plan with
	// automatic activation (spec/README.md, "Subscribe").
	ActionSubscribe Action = "Subscribe"
)

// OperationStatus is an operation's status.
type OperationStatus string

// The operation statuses.
const (
	OpNotStarted OperationStatus = "NotStarted"
	OpInProgress OperationStatus = "InProgress"
	OpSucceeded  OperationStatus = "Succeeded"
	OpFailed     OperationStatus = "Failed"
	OpConflict   OperationStatus = "Conflict"
)

// Final reports whether no further change can happen to an operation.
func (s OperationStatus) Final() bool {
	return s == OpSucceeded || s == OpFailed || s == OpConflict
}

// RequestSource says who started an operation (operationRequestSource).
type RequestSource string

// The request sources.
const (
	SourceAzure   RequestSource = "Azure"   // the customer or Microsoft
	SourcePartner RequestSource = "Partner" // the publisher, through PATCH or DELETE
)

// AadIdentifier names a person or tenant in Entra ID.
type AadIdentifier struct {
	EmailID  string `json:"emailId"`
	ObjectID string `json:"objectId"`
	TenantID string `json:"tenantId"`
	PUID     string `json:"puid,omitempty"`
}

// Term is a subscription's billing term.
type Term struct {
	TermUnit       string     `json:"termUnit"` // P1M, P1Y, P2Y, P3Y, P4Y, P5Y
	StartDate      *time.Time `json:"startDate,omitempty"`
	EndDate        *time.Time `json:"endDate,omitempty"`
	ChargeDuration string     `json:"chargeDuration,omitempty"`
}

// Subscription is Microsoft's view of one SaaS subscription.
type Subscription struct {
	ID                        string             `json:"id"`
	PublisherID               string             `json:"publisherId"`
	OfferID                   string             `json:"offerId"`
	Name                      string             `json:"name"`
	SaasSubscriptionStatus    SubscriptionStatus `json:"saasSubscriptionStatus"`
	Beneficiary               AadIdentifier      `json:"beneficiary"`
	Purchaser                 AadIdentifier      `json:"purchaser"`
	PlanID                    string             `json:"planId"`
	Quantity                  *int64             `json:"quantity,omitempty"` // per-seat plans only
	Term                      Term               `json:"term"`
	AutoRenew                 bool               `json:"autoRenew"`
	IsTest                    bool               `json:"isTest"`
	IsFreeTrial               bool               `json:"isFreeTrial"`
	AllowedCustomerOperations []string           `json:"allowedCustomerOperations"`
	SandboxType               string             `json:"sandboxType"` // None, Csp
	Created                   time.Time          `json:"created"`
	LastModified              time.Time          `json:"lastModified"`
	SessionMode               string             `json:"sessionMode"` // None, DryRun
}

// ResolvedSubscription is what resolve returns for a purchase token.
type ResolvedSubscription struct {
	ID               string       `json:"id"`
	SubscriptionName string       `json:"subscriptionName"`
	OfferID          string       `json:"offerId"`
	PlanID           string       `json:"planId"`
	Quantity         *int64       `json:"quantity,omitempty"`
	Subscription     Subscription `json:"subscription"`
}

// SubscriptionPage is one page of the subscription list.
type SubscriptionPage struct {
	Subscriptions []Subscription `json:"subscriptions"`
	NextLink      string         `json:"@nextLink,omitempty"`
}

// Plan is one plan of an offer, as listAvailablePlans shows it.
type Plan struct {
	PlanID         string         `json:"planId"`
	DisplayName    string         `json:"displayName"`
	IsPrivate      bool           `json:"isPrivate"`
	Description    string         `json:"description"`
	MinQuantity    *int64         `json:"minQuantity,omitempty"`
	MaxQuantity    *int64         `json:"maxQuantity,omitempty"`
	HasFreeTrials  bool           `json:"hasFreeTrials"`
	IsPricePerSeat bool           `json:"isPricePerSeat"`
	IsStopSell     bool           `json:"isStopSell"`
	Market         string         `json:"market"`
	PlanComponents PlanComponents `json:"planComponents"`
	SourceOffers   []SourceOffer  `json:"sourceOffers,omitempty"`
	// AutoActivation is the Partner Center plan setting "automatic
	// activation": a purchase is Subscribed at once and the publisher gets
	// a Subscribe notification instead of an activate call. Microsoft's API
	// has no such field, so it never goes on the wire (spec/README.md).
	AutoActivation bool `json:"-"`
}

// PlanComponents lists a plan's prices.
type PlanComponents struct {
	RecurrentBillingTerms []RecurrentBillingTerm `json:"recurrentBillingTerms"`
	MeteringDimensions    []MeteringDimension    `json:"meteringDimensions"`
}

// RecurrentBillingTerm is one price of a plan for one term.
type RecurrentBillingTerm struct {
	Currency                string                    `json:"currency"`
	Price                   float64                   `json:"price"`
	TermUnit                string                    `json:"termUnit"`
	TermDescription         string                    `json:"termDescription"`
	MeteredQuantityIncluded []MeteredQuantityIncluded `json:"meteredQuantityIncluded,omitempty"`
}

// MeteredQuantityIncluded is a metered allowance a term includes.
type MeteredQuantityIncluded struct {
	DimensionID string `json:"dimensionId"`
	Units       string `json:"units"`
}

// MeteringDimension is a custom meter of a plan.
type MeteringDimension struct {
	ID            string  `json:"id"`
	Currency      string  `json:"currency"`
	PricePerUnit  float64 `json:"pricePerUnit"`
	UnitOfMeasure string  `json:"unitOfMeasure"`
	DisplayName   string  `json:"displayName"`
}

// SourceOffer names an offer a private plan came from.
type SourceOffer struct {
	ExternalID string `json:"externalId"`
}

// PlanList is the listAvailablePlans response.
type PlanList struct {
	Plans []Plan `json:"plans"`
}

// Operation is a SaaSOperation: a change to a subscription and its progress.
type Operation struct {
	ID                     string          `json:"id"`
	ActivityID             string          `json:"activityId"`
	SubscriptionID         string          `json:"subscriptionId"`
	OfferID                string          `json:"offerId"`
	PublisherID            string          `json:"publisherId"`
	PlanID                 string          `json:"planId"`
	Quantity               *int64          `json:"quantity,omitempty"`
	Action                 Action          `json:"action"`
	TimeStamp              time.Time       `json:"timeStamp"`
	Status                 OperationStatus `json:"status"`
	OperationRequestSource RequestSource   `json:"operationRequestSource,omitempty"`
}

// OperationList is the list-operations response.
type OperationList struct {
	Operations []Operation `json:"operations"`
}

// UpdateOperation is the body of PATCH operation.
type UpdateOperation struct {
	Status   string `json:"status"` // Success or Failure
	PlanID   string `json:"planId,omitempty"`
	Quantity *int64 `json:"quantity,omitempty"`
}

// ActivateRequest is the body of activate.
type ActivateRequest struct {
	PlanID   string `json:"planId"`
	Quantity *int64 `json:"quantity,omitempty"`
}

// UpdateRequest is the body of PATCH subscription: planId or quantity, not both.
type UpdateRequest struct {
	PlanID   string `json:"planId,omitempty"`
	Quantity *int64 `json:"quantity,omitempty"`
}

// WebhookPayload is what the marketplace POSTs to a publisher's webhook.
type WebhookPayload struct {
	ID                     string          `json:"id"`
	ActivityID             string          `json:"activityId"`
	PublisherID            string          `json:"publisherId"`
	OfferID                string          `json:"offerId"`
	PlanID                 string          `json:"planId"`
	Quantity               *int64          `json:"quantity"`
	SubscriptionID         string          `json:"subscriptionId"`
	TimeStamp              time.Time       `json:"timeStamp"`
	Action                 Action          `json:"action"`
	Status                 OperationStatus `json:"status"`
	OperationRequestSource RequestSource   `json:"operationRequestSource"`
	Subscription           Subscription    `json:"subscription"`
	PurchaseToken          *string         `json:"purchaseToken"`
}

// ErrorResponse is the body of every 4xx and 5xx the fake answers.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong.
type ErrorBody struct {
	Code    string      `json:"code"`
	Message string      `json:"message"`
	Target  string      `json:"target,omitempty"`
	Details []ErrorBody `json:"details,omitempty"`
}
