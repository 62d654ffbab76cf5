package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// policy is the publisher's business rule for customer-initiated changes.
type policy struct {
	rejectPlans map[string]bool
	maxSeats    int64
}

func newPolicy(cfg Config) policy {
	p := policy{rejectPlans: map[string]bool{}, maxSeats: cfg.MaxSeats}
	for _, id := range cfg.RejectPlans {
		p.rejectPlans[strings.ToLower(id)] = true
	}
	return p
}

// check returns why the publisher refuses a ChangePlan or ChangeQuantity
// operation, or "" when it accepts it. Other actions cannot be refused.
func (p policy) check(op operation) string {
	if op.Action != actionChangePlan && op.Action != actionChangeQuantity {
		return ""
	}
	if op.Action == actionChangePlan && p.rejectPlans[strings.ToLower(op.PlanID)] {
		return "plan " + op.PlanID + " is not available to existing customers"
	}
	if p.maxSeats > 0 && op.Quantity != nil && *op.Quantity > p.maxSeats {
		return "at most " + strconv.FormatInt(p.maxSeats, 10) + " seats"
	}
	return ""
}

// enqueue hands a job to the worker; false when the queue is full or the
// app is closing (the webhook then answers 503 and Microsoft retries).
func (a *App) enqueue(j job) bool {
	a.queueMu.RLock()
	defer a.queueMu.RUnlock()
	if a.closed {
		return false
	}
	select {
	case a.queue <- j:
		return true
	default:
		return false
	}
}

// work runs the queue until Close. One worker keeps the notifications of a
// subscription in order (Suspend before Reinstate); a bigger deployment
// would shard the queue by subscription id.
func (a *App) work() {
	defer close(a.done)
	for j := range a.queue {
		if err := a.process(a.ctx, j); err != nil {
			a.log.Error("webhook: processing failed", "operation", j.payload.ID, "subscription", j.payload.SubscriptionID, "err", err)
			// Let a redelivery try again.
			a.store.ForgetOperation(j.payload.SubscriptionID, j.payload.ID)
		}
	}
}

// process acts on one notification.
func (a *App) process(ctx context.Context, j job) error {
	ctx = withCorrelationID(ctx, j.correlationID)
	p := j.payload

	// WH-VERIFY-01: the payload is only a hint; the operation as the
	// marketplace reports it is the truth.
	var op operation
	if a.mistake == NoGetOperation {
		op = p.operation() // MISTAKE-10: trusts whatever was POSTed
	} else {
		var err error
		if op, err = a.api.GetOperation(ctx, p.SubscriptionID, p.ID); err != nil {
			return fmt.Errorf("GET operation: %w", err)
		}
		if !strings.EqualFold(op.SubscriptionID, p.SubscriptionID) {
			return fmt.Errorf("operation %s belongs to subscription %s, not %s", op.ID, op.SubscriptionID, p.SubscriptionID)
		}
	}
	if a.mistake == DuplicateWebhookApplied && j.duplicate && p.Status == opInProgress {
		// MISTAKE-19: the redelivery is handled as if it were new, so the
		// operation gets answered a second time.
		op.Status = opInProgress
	}
	log := a.log.With("action", op.Action, "subscription", op.SubscriptionID, "operation", op.ID, "status", op.Status,
		"source", op.OperationRequestSource, "correlationId", correlationID(ctx))

	switch op.Action {
	case actionChangePlan, actionChangeQuantity:
		return a.onChange(ctx, op, log)
	case actionSuspend:
		if op.Status != opSucceeded {
			return nil
		}
		if a.mistake == SuspendAsUnsubscribe {
			// MISTAKE-13: the customer's data is deleted during the grace period.
			a.store.UpdateAccount(op.SubscriptionID, func(acc *Account) { acc.State, acc.DataDeleted = StateCancelled, true })
			log.Info("suspended: account deleted")
			return nil
		}
		// STATE-03: block use, keep every byte of the customer's data.
		a.store.UpdateAccount(op.SubscriptionID, func(acc *Account) {
			if acc.State != StateCancelled {
				acc.State = StateSuspended
			}
		})
		log.Info("suspended: access blocked, data kept")
	case actionReinstate:
		if a.mistake == IgnoreReinstate {
			return nil // MISTAKE-14
		}
		return a.onReinstate(ctx, op, log)
	case actionRenew:
		if a.mistake == IgnoreRenew || op.Status != opSucceeded {
			return nil // MISTAKE-14 when ignored
		}
		acc, ok := a.store.UpdateAccount(op.SubscriptionID, func(acc *Account) { acc.Renewals++ })
		if !ok {
			log.Warn("renewal of an unknown subscription")
			return nil
		}
		// The operation has no term; read the new end date from Microsoft.
		if sub, err := a.api.GetSubscription(ctx, op.SubscriptionID); err == nil && sub.Term.EndDate != nil {
			t := *sub.Term.EndDate
			a.store.UpdateAccount(op.SubscriptionID, func(acc *Account) { acc.TermEnd = &t })
		} else if err != nil {
			log.Warn("renewed, but could not read the new term", "err", err)
		}
		log.Info("renewed", "renewals", acc.Renewals)
	case actionUnsubscribe:
		if op.Status != opSucceeded {
			return nil
		}
		// Deprovision, but keep the record (and whatever the law requires).
		a.store.UpdateAccount(op.SubscriptionID, func(acc *Account) { acc.State = StateCancelled })
		log.Info("unsubscribed: account deprovisioned")
	case actionSubscribe:
		if op.Status != opSucceeded {
			return nil
		}
		if a.mistake == IgnoreSubscribe {
			// MISTAKE: waits for a landing visit that need never come.
			log.Info("subscribe: nothing done")
			return nil
		}
		return a.onSubscribe(ctx, op, log)
	default:
		// Transfer or anything Microsoft adds later: not ours to act on,
		// but never a reason to fail the webhook.
		log.Info("ignoring an action this publisher does not handle")
	}
	return nil
}

// onSubscribe provisions a subscription Microsoft activated itself (a plan
// with automatic activation). Nothing is answered: Microsoft waits for no
// PATCH and no activate call. What to provision comes from the
// subscription as Microsoft holds it, not from the payload.
func (a *App) onSubscribe(ctx context.Context, op operation, log *slog.Logger) error {
	sub, err := a.api.GetSubscription(ctx, op.SubscriptionID)
	if err != nil {
		return fmt.Errorf("GET subscription: %w", err)
	}
	a.provisionActive(sub)
	log.Info("subscribe: account provisioned", "plan", sub.PlanID, "state", stateFor(sub.SaasSubscriptionStatus))
	return nil
}

// provisionActive creates (or brings up to date) the account of a
// subscription Microsoft activated itself, keyed on the beneficiary.
func (a *App) provisionActive(sub subscription) {
	state := stateFor(sub.SaasSubscriptionStatus)
	if _, ok := a.store.UpdateAccount(sub.ID, func(acc *Account) {
		if acc.State == StatePending {
			acc.State = state
		}
		acc.Plan, acc.Seats, acc.Provisioned, acc.AutoActivated = sub.PlanID, clonePtr(sub.Quantity), true, true
		acc.AllowedOperations = sub.AllowedCustomerOperations
	}); ok {
		return
	}
	a.store.SaveAccount(Account{
		SubscriptionID: sub.ID, CustomerTenant: sub.Beneficiary.TenantID, CustomerEmail: sub.Beneficiary.EmailID,
		PurchaserTenant: sub.Purchaser.TenantID, PurchaserEmail: sub.Purchaser.EmailID,
		OfferID: sub.OfferID, Plan: sub.PlanID, Seats: clonePtr(sub.Quantity), State: state,
		Provisioned: true, AutoActivated: true, AllowedOperations: sub.AllowedCustomerOperations,
	})
}

// onChange handles ChangePlan and ChangeQuantity.
func (a *App) onChange(ctx context.Context, op operation, log *slog.Logger) error {
	if op.OperationRequestSource == sourcePartner {
		// Our own PATCH (the admin flow polls it). Never answer it; just make
		// sure our view follows once it has succeeded.
		if op.Status == opSucceeded || a.mistake == PartnerNoticeApplied && op.Status == opFailed {
			a.applyChange(op)
			log.Info("own change confirmed")
		}
		return nil
	}
	if op.Action == actionChangeQuantity && a.mistake == IgnoreChangeQuantity {
		return nil // MISTAKE-14
	}
	switch op.Status {
	case opInProgress:
		if reason := a.policy.check(op); reason != "" {
			log.Info("rejecting change", "reason", reason)
			return a.answer(ctx, op, "Failure", log)
		}
		if err := a.answer(ctx, op, "Success", log); err != nil {
			return err
		}
		log.Info("change accepted")
	case opSucceeded:
		// Already accepted (e.g. Microsoft's 10-second window passed).
		a.applyChange(op)
	}
	return nil
}

// onReinstate accepts a Reinstate when we can restore the account.
func (a *App) onReinstate(ctx context.Context, op operation, log *slog.Logger) error {
	if op.OperationRequestSource == sourcePartner {
		return nil
	}
	acc, known := a.store.Account(op.SubscriptionID)
	switch op.Status {
	case opInProgress:
		if known && (acc.DataDeleted || acc.State == StateCancelled) {
			// Nothing left to restore: say so rather than pretend (STATE-04).
			log.Warn("cannot reinstate a deleted account")
			return a.answer(ctx, op, "Failure", log)
		}
		if err := a.answer(ctx, op, "Success", log); err != nil {
			return err
		}
	case opSucceeded:
		a.applyChange(op)
	}
	log.Info("reinstate handled")
	return nil
}

// answer PATCHes an operation with Success or Failure and, on Success,
// applies it to our view. If Microsoft already finished the operation (409),
// we follow what it decided.
func (a *App) answer(ctx context.Context, op operation, status string, log *slog.Logger) error {
	err := a.api.PatchOperation(ctx, op.SubscriptionID, op.ID, status)
	if err != nil {
		if apiStatus(err) != 409 || a.mistake == NoGetOperation {
			return fmt.Errorf("PATCH operation %s: %w", status, err)
		}
		log.Warn("operation was already final", "err", err)
		now, gerr := a.api.GetOperation(ctx, op.SubscriptionID, op.ID)
		if gerr != nil {
			return fmt.Errorf("GET operation after 409: %w", gerr)
		}
		if now.Status == opSucceeded {
			a.applyChange(now)
		}
		return nil
	}
	if status == "Success" {
		a.applyChange(op)
	}
	return nil
}

// applyChange makes our view reflect a succeeded operation.
func (a *App) applyChange(op operation) {
	a.store.UpdateAccount(op.SubscriptionID, func(acc *Account) {
		switch op.Action {
		case actionChangePlan:
			acc.Plan, acc.Seats = op.PlanID, clonePtr(op.Quantity)
		case actionChangeQuantity:
			acc.Seats = clonePtr(op.Quantity)
		case actionReinstate:
			if acc.State == StateSuspended {
				acc.State = StateActive
			}
		case actionUnsubscribe:
			acc.State = StateCancelled
		}
	})
}
