package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The admin API is how the publisher changes subscriptions on its own
// initiative (CONTRACT §4 flow 4) — in a real product, from a back-office
// screen; here, so the harness can drive it. Answers are plain JSON.
// A real deployment protects these routes (they are not for customers).

// accountView is the publisher's own view of an account, in its own
// vocabulary (GET /admin/subscriptions/{id}).
type accountView struct {
	ID             string     `json:"id"`
	State          State      `json:"state"`
	Plan           string     `json:"plan"`
	Seats          *int64     `json:"seats"` // null for flat-rate plans
	CustomerTenant string     `json:"customerTenant"`
	Renewals       int        `json:"renewals"`
	TermEnd        *time.Time `json:"termEnd"` // as of the last renewal; null before one
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string, extra map[string]any) {
	body := map[string]any{"error": msg}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, status, body)
}

// handleGetAccount is GET /admin/subscriptions/{id}.
func (a *App) handleGetAccount(w http.ResponseWriter, r *http.Request) {
	acc, ok := a.store.Account(r.PathValue("id"))
	if !ok {
		writeJSONError(w, http.StatusNotFound, "unknown subscription", nil)
		return
	}
	writeJSON(w, http.StatusOK, accountView{ID: acc.SubscriptionID, State: acc.State, Plan: acc.Plan,
		Seats: acc.Seats, CustomerTenant: acc.CustomerTenant, Renewals: acc.Renewals, TermEnd: acc.TermEnd})
}

// handleChangePlan is POST /admin/subscriptions/{id}/plan?to=PLAN.
func (a *App) handleChangePlan(w http.ResponseWriter, r *http.Request) {
	id, plan := r.PathValue("id"), strings.TrimSpace(r.URL.Query().Get("to"))
	if plan == "" {
		writeJSONError(w, http.StatusBadRequest, "query parameter to=PLAN is required", nil)
		return
	}
	acc, ok := a.store.Account(id)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "unknown subscription", nil)
		return
	}
	if !a.mayChange(w, acc, "Update") {
		return
	}
	// FUL-UPDATE-01: a PATCH carries planId OR quantity.
	body := updateRequest{PlanID: plan}
	if a.mistake == PatchPlanAndQuantity {
		q := int64(1) // MISTAKE-15: both fields in one PATCH
		if acc.Seats != nil {
			q = *acc.Seats
		}
		body.Quantity = &q
	}
	a.change(w, r, id, body, func(acc *Account) { acc.Plan = plan })
}

// handleChangeSeats is POST /admin/subscriptions/{id}/seats?to=N.
func (a *App) handleChangeSeats(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
	if err != nil || n < 1 {
		writeJSONError(w, http.StatusBadRequest, "query parameter to=N (a positive number of seats) is required", nil)
		return
	}
	acc, ok := a.store.Account(id)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "unknown subscription", nil)
		return
	}
	if !a.mayChange(w, acc, "Update") {
		return
	}
	a.change(w, r, id, updateRequest{Quantity: &n}, func(acc *Account) { acc.Seats = &n })
}

// handleCancel is POST /admin/subscriptions/{id}/cancel.
func (a *App) handleCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	acc, ok := a.store.Account(id)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "unknown subscription", nil)
		return
	}
	if !a.mayChange(w, acc, "Delete") {
		return
	}
	ctx := withCorrelationID(r.Context(), "")
	loc, err := a.api.Delete(ctx, id)
	a.finishOperation(ctx, w, id, loc, err, func(acc *Account) { acc.State = StateCancelled })
}

// mayChange refuses, before calling Microsoft, a change the marketplace
// would refuse anyway (FUL-UPDATE-03, STATE-02): plan and seats change only
// while the subscription is active, nothing changes once it is cancelled,
// and only what allowedCustomerOperations permits.
func (a *App) mayChange(w http.ResponseWriter, acc Account, op string) bool {
	if a.mistake == ChangeWithoutChecking {
		return true // forwards everything and lets Microsoft refuse it
	}
	switch {
	case acc.State == StateCancelled:
		writeJSONError(w, http.StatusConflict, "the subscription is cancelled", map[string]any{"state": acc.State})
		return false
	case op == "Update" && acc.State != StateActive:
		writeJSONError(w, http.StatusConflict, "plan and seats change only while the subscription is active", map[string]any{"state": acc.State})
		return false
	case acc.AllowedOperations != nil && !slices.Contains(acc.AllowedOperations, op):
		writeJSONError(w, http.StatusConflict, op+" is not among the subscription's allowedCustomerOperations",
			map[string]any{"allowedCustomerOperations": acc.AllowedOperations})
		return false
	}
	return true
}

// change sends a PATCH and follows it to the end. assumed is what the
// ignore-operation-location mistake writes without waiting.
func (a *App) change(w http.ResponseWriter, r *http.Request, id string, body updateRequest, assumed func(*Account)) {
	ctx := withCorrelationID(r.Context(), "")
	loc, err := a.api.Update(ctx, id, body)
	a.finishOperation(ctx, w, id, loc, err, assumed)
}

// finishOperation follows the Operation-Location of a 202 until the
// operation is final (FUL-UPDATE-02) and only then updates our view.
func (a *App) finishOperation(ctx context.Context, w http.ResponseWriter, id, loc string, err error, assumed func(*Account)) {
	if err != nil {
		a.refused(w, err)
		return
	}
	opID := path.Base(strings.SplitN(loc, "?", 2)[0])
	if a.mistake == IgnoreOperationLocation {
		// MISTAKE-16: 202 only means "accepted", not "done".
		a.store.UpdateAccount(id, assumed)
		writeJSON(w, http.StatusOK, map[string]string{"operationId": opID, "status": opSucceeded})
		return
	}
	pctx, cancel := context.WithTimeout(ctx, a.cfg.PollTimeout)
	defer cancel()
	op, err := a.api.PollOperation(pctx, loc, a.cfg.PollInterval)
	if err != nil {
		if apiStatus(err) != 0 {
			a.refused(w, err)
			return
		}
		a.log.Error("admin: following Operation-Location failed", "subscription", id, "err", err)
		writeJSONError(w, http.StatusGatewayTimeout, err.Error(), map[string]any{"operationId": opID})
		return
	}
	if op.Status != opSucceeded {
		writeJSON(w, http.StatusConflict, map[string]string{"operationId": op.ID, "status": op.Status})
		return
	}
	a.applyChange(op)
	a.log.Info("admin: operation succeeded", "subscription", id, "action", op.Action, "operation", op.ID)
	writeJSON(w, http.StatusOK, map[string]string{"operationId": op.ID, "status": op.Status})
}

// refused reports a marketplace refusal as 502 with its status and body.
func (a *App) refused(w http.ResponseWriter, err error) {
	var ae *APIError
	if errors.As(err, &ae) {
		writeJSONError(w, http.StatusBadGateway, "the marketplace refused the call",
			map[string]any{"status": ae.Status, "body": ae.Body})
		return
	}
	writeJSONError(w, http.StatusBadGateway, err.Error(), nil)
}

// handleReconcile is POST /admin/reconcile: read every subscription
// Microsoft has for us, following @nextLink (FUL-LIST-01), and make our
// view match.
func (a *App) handleReconcile(w http.ResponseWriter, r *http.Request) {
	ctx := withCorrelationID(r.Context(), "")
	count, pages, next := 0, 0, ""
	for {
		pg, err := a.api.ListPage(ctx, next)
		if err != nil {
			a.refused(w, err)
			return
		}
		pages++
		for _, s := range pg.Subscriptions {
			count++
			a.reconcileOne(ctx, s)
		}
		next = pg.NextLink
		if next == "" || a.mistake == FirstPageOnly { // MISTAKE-17 stops early
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"subscriptions": count, "pages": pages})
}

func (a *App) reconcileOne(ctx context.Context, s subscription) {
	if a.mistake == ActivateFromReconcile && s.SaasSubscriptionStatus == statusPending {
		// MISTAKE-04: activation without the customer's landing visit.
		if err := a.api.Activate(ctx, s.ID, activateRequest{PlanID: s.PlanID, Quantity: s.Quantity}); err == nil {
			s.SaasSubscriptionStatus = statusSubscribed
		}
	}
	state := stateFor(s.SaasSubscriptionStatus)
	if _, ok := a.store.UpdateAccount(s.ID, func(acc *Account) {
		acc.State, acc.Plan, acc.Seats = state, s.PlanID, clonePtr(s.Quantity)
		acc.AllowedOperations = s.AllowedCustomerOperations
	}); ok {
		return
	}
	// Not provisioned through our landing page: remember we saw it. It
	// stays "pending" until the customer visits (ended ones are cancelled).
	if state != StateCancelled && a.mistake != ActivateFromReconcile {
		state = StatePending
	}
	a.store.SaveAccount(Account{
		SubscriptionID: s.ID, CustomerTenant: s.Beneficiary.TenantID, CustomerEmail: s.Beneficiary.EmailID,
		PurchaserTenant: s.Purchaser.TenantID, PurchaserEmail: s.Purchaser.EmailID,
		OfferID: s.OfferID, Plan: s.PlanID, Seats: clonePtr(s.Quantity), State: state,
		AllowedOperations: s.AllowedCustomerOperations,
	})
}
