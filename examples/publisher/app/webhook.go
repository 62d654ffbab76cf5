package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// webhookPayload is what Microsoft POSTs. Only the fields we use are
// declared; unknown ones are ignored (WH-PAYLOAD-02). The payload only
// tells us WHICH operation to look at: what to do is decided by the
// operation as GET operation returns it (WH-VERIFY-01).
type webhookPayload struct {
	ID                     string        `json:"id"` // the operation id
	ActivityID             string        `json:"activityId"`
	SubscriptionID         string        `json:"subscriptionId"`
	OfferID                string        `json:"offerId"`
	PlanID                 string        `json:"planId"`
	Quantity               *int64        `json:"quantity"`
	Action                 string        `json:"action"`
	Status                 string        `json:"status"`
	OperationRequestSource string        `json:"operationRequestSource"`
	TimeStamp              *time.Time    `json:"timeStamp"`
	Subscription           *subscription `json:"subscription"`
}

// strictPayload lists exactly the documented top-level fields, for the
// strict-webhook-json mistake, which refuses anything else.
type strictPayload struct {
	ID                     string          `json:"id"`
	ActivityID             string          `json:"activityId"`
	PublisherID            string          `json:"publisherId"`
	OfferID                string          `json:"offerId"`
	PlanID                 string          `json:"planId"`
	Quantity               *int64          `json:"quantity"`
	SubscriptionID         string          `json:"subscriptionId"`
	TimeStamp              *time.Time      `json:"timeStamp"`
	Action                 string          `json:"action"`
	Status                 string          `json:"status"`
	OperationRequestSource string          `json:"operationRequestSource"`
	Subscription           json.RawMessage `json:"subscription"`
	PurchaseToken          *string         `json:"purchaseToken"`
}

// operation is the payload read as an operation (only the
// no-get-operation mistake trusts it this way).
func (p webhookPayload) operation() operation {
	return operation{
		ID: p.ID, SubscriptionID: p.SubscriptionID, PlanID: p.PlanID, Quantity: clonePtr(p.Quantity),
		Action: p.Action, Status: p.Status, OperationRequestSource: p.OperationRequestSource,
	}
}

// job is one webhook delivery waiting for the worker.
type job struct {
	payload       webhookPayload
	correlationID string
	// duplicate marks a redelivery; only the duplicate-webhook-applied
	// mistake ever processes one.
	duplicate bool
}

// handleWebhook is POST /webhook. It authenticates, decodes, de-duplicates
// and queues the notification, then answers 200 at once (WH-ACK-01): the
// slow part — calling the marketplace — happens in the worker.
func (a *App) handleWebhook(w http.ResponseWriter, r *http.Request) {
	if err := a.auth.Check(r.Context(), r); err != nil {
		if errors.Is(err, errAuthUnavailable) {
			// We could not load Entra ID's keys: a 5xx makes Microsoft
			// retry, where a 4xx would count as rejecting a change.
			a.log.Error("webhook: cannot validate tokens", "err", err)
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		a.log.Warn("webhook: refused unauthenticated call", "err", err, "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var p webhookPayload
	if a.mistake == StrictWebhookJSON {
		// MISTAKE-18: any field Microsoft adds breaks the webhook.
		var sp strictPayload
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&sp)
	}
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	if err != nil || p.ID == "" || p.SubscriptionID == "" {
		a.log.Warn("webhook: bad payload", "err", err)
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	if a.mistake == UnknownActionCrashes && !documentedAction(p.Action) {
		// MISTAKE-18: an action Microsoft adds (or Transfer, which it has
		// never documented) blows up the decoder; Microsoft just retries.
		a.log.Error("webhook: unknown action", "action", p.Action)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	corr := uuid.NewString() // one correlation id for everything this notification causes
	a.log.Info("webhook: received", "action", p.Action, "subscription", p.SubscriptionID, "operation", p.ID,
		"source", p.OperationRequestSource, "correlationId", corr)

	if a.mistake == RejectWith500 && p.OperationRequestSource != sourcePartner {
		if reason := a.policy.check(p.operation()); reason != "" {
			// MISTAKE-12: a 5xx is not a rejection, Microsoft just retries.
			a.log.Info("webhook: rejecting with 500", "reason", reason)
			http.Error(w, "rejected: "+reason, http.StatusInternalServerError)
			return
		}
	}

	// WH-IDEMP-01: Microsoft may deliver the same notification again.
	duplicate := !a.store.BeginOperation(p.SubscriptionID, p.ID)
	if duplicate && a.mistake != DuplicateWebhookApplied {
		a.log.Info("webhook: duplicate delivery ignored", "operation", p.ID)
		writeText(w, http.StatusOK, "ok (duplicate)")
		return
	}
	if !a.enqueue(job{payload: p, correlationID: corr, duplicate: duplicate}) {
		a.store.ForgetOperation(p.SubscriptionID, p.ID)
		http.Error(w, "busy, try again", http.StatusServiceUnavailable)
		return
	}

	switch a.mistake {
	case WebhookSlow:
		// MISTAKE-11: Microsoft gives up after about 10 seconds.
		select {
		case <-time.After(a.cfg.SlowWebhook):
		case <-r.Context().Done():
			return
		}
	case Webhook500:
		// MISTAKE-11: the work is done, but Microsoft sees a failure.
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// documentedAction is the closed enum the unknown-action-crashes mistake
// decodes into; the correct publisher never needs it.
func documentedAction(s string) bool {
	switch s {
	case actionChangePlan, actionChangeQuantity, actionSuspend, actionReinstate, actionRenew, actionUnsubscribe:
		return true
	}
	return false
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s+"\n")
}
