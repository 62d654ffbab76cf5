package marketplace

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the exported methods return wraps one of
// these (test with errors.Is) inside an *Error that names the bad input.
var (
	ErrUnknownOffer       = errors.New("unknown offer")
	ErrUnknownPlan        = errors.New("unknown plan")
	ErrQuantity           = errors.New("quantity not allowed")
	ErrNoFreeTrial        = errors.New("plan has no free trial")
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrInvalidState       = errors.New("not allowed in this subscription status")
	ErrNotAllowed         = errors.New("operation not in allowedCustomerOperations")
	ErrOperationPending   = errors.New("another operation is in progress")
	ErrOperationFinal     = errors.New("operation already final")
	ErrOperationImmutable = errors.New("operation cannot be completed by the publisher")
	ErrSuperseded         = errors.New("subscription changed since the operation started")
)

// Error is a failed call on the fake: which rule of the fake was hit (Kind),
// which input broke it (Field, Value), and a sentence for humans.
type Error struct {
	Kind           error  // one of the Err* sentinels
	Field          string // the input at fault, e.g. "PlanID", "quantity"
	Value          string // what was given, formatted
	SubscriptionID string
	Msg            string
}

func (e *Error) Error() string {
	s := "marketplace: " + e.Kind.Error()
	if e.Field != "" {
		s += fmt.Sprintf(": %s", e.Field)
		if e.Value != "" {
			s += fmt.Sprintf(" %q", e.Value)
		}
	}
	if e.SubscriptionID != "" {
		s += " (subscription " + e.SubscriptionID + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap lets errors.Is match the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

func newErr(kind error, field, value, msg string) *Error {
	return &Error{Kind: kind, Field: field, Value: value, Msg: msg}
}

func notFound(subID string) *Error {
	return &Error{Kind: ErrNotFound, Field: "subscriptionId", Value: subID, Msg: "no such subscription"}
}
