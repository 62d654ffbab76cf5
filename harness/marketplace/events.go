package marketplace

import (
	"time"

	"github.com/saasconform/saasconform/harness/window"
)

// Event is a notification the marketplace sends a publisher's webhook: the
// webhook sender listens for these and delivers Payload.
type Event struct {
	Seq     int // increasing; never reused, not even across Reset
	At      time.Time
	Payload WebhookPayload
}

// OnEvent registers fn to be called, synchronously and outside any lock,
// after every state change that notifies the publisher. fn may call back
// into the Marketplace. Listeners survive Reset.
func (m *Marketplace) OnEvent(fn func(Event)) {
	if fn == nil {
		return
	}
	m.mu.Lock()
	m.listeners = append(m.listeners, fn)
	m.unlock()
}

// Events returns every event since New or the last Reset (the newest
// WithMaxEvents of them), oldest first.
func (m *Marketplace) Events() []Event {
	m.mu.Lock()
	defer m.unlock()
	evs := window.Newest(m.st.events, m.cfg.maxEvents)
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = cloneEvent(e)
	}
	return out
}

// eventLocked records the notification for operation o, with the
// subscription as it is now, and returns it for delivery after unlocking.
func (m *Marketplace) eventLocked(r *subRecord, o *opRecord, now time.Time) Event {
	status := OpSucceeded
	switch o.op.Action {
	case ActionChangePlan, ActionChangeQuantity, ActionReinstate:
		// The changes the publisher may still reject arrive in progress.
		status = OpInProgress
	}
	e := Event{
		Seq: int(m.nextSeqLocked()),
		At:  now,
		Payload: WebhookPayload{
			ID:                     o.op.ID,
			ActivityID:             o.op.ActivityID,
			PublisherID:            o.op.PublisherID,
			OfferID:                o.op.OfferID,
			PlanID:                 o.op.PlanID,
			Quantity:               clonePtr(o.op.Quantity),
			SubscriptionID:         o.op.SubscriptionID,
			TimeStamp:              o.op.TimeStamp,
			Action:                 o.op.Action,
			Status:                 status,
			OperationRequestSource: o.op.OperationRequestSource,
			Subscription:           cloneSubscription(r.sub),
			PurchaseToken:          nil,
		},
	}
	m.st.events, _ = window.Append(m.st.events, e, m.cfg.maxEvents)
	return cloneEvent(e)
}

// deliver calls the listeners; the caller must not hold m.mu.
func (m *Marketplace) deliver(evs ...Event) {
	if len(evs) == 0 {
		return
	}
	m.mu.Lock()
	ls := append([]func(Event){}, m.listeners...)
	m.unlock()
	for _, e := range evs {
		for _, fn := range ls {
			fn(cloneEvent(e))
		}
	}
}

func cloneEvent(e Event) Event {
	e.Payload.Quantity = clonePtr(e.Payload.Quantity)
	e.Payload.Subscription = cloneSubscription(e.Payload.Subscription)
	return e
}
