package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/harness/window"
)

// Attempt is one POST of a webhook.
type Attempt struct {
	At       time.Time     `json:"at"`      // wall time it was sent
	ClockAt  time.Time     `json:"clockAt"` // harness clock (back-off moves a fake one on)
	Latency  time.Duration `json:"latency"` // wall time until the answer (or the timeout)
	Status   int           `json:"status"`  // 0 when no answer came
	Body     string        `json:"body"`    // the answer's start
	Err      string        `json:"error,omitempty"`
	TimedOut bool          `json:"timedOut,omitempty"`
	// Interrupted: the harness itself stopped waiting (the run was
	// cancelled), so the attempt says nothing about the publisher.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Delivery is one webhook notification and every attempt to deliver it.
type Delivery struct {
	Payload marketplace.WebhookPayload `json:"payload"`
	Body    []byte                     `json:"body"` // exactly what was POSTed
	Forgery string                     `json:"forgery,omitempty"`
	// Duplicate: a second delivery of a notification already acknowledged
	// (Sender.Redeliver).
	Duplicate bool      `json:"duplicate,omitempty"`
	Attempts  []Attempt `json:"attempts"`
}

// Acked reports whether the last attempt got a 2xx.
func (d Delivery) Acked() bool {
	if len(d.Attempts) == 0 {
		return false
	}
	s := d.Attempts[len(d.Attempts)-1].Status
	return s >= 200 && s < 300
}

// Rejected reports whether the publisher refused the change with a 4xx, which
// Microsoft treats as a rejection of a ChangePlan or ChangeQuantity (WH-ACK-02).
func (d Delivery) Rejected() bool {
	if len(d.Attempts) == 0 {
		return false
	}
	s := d.Attempts[len(d.Attempts)-1].Status
	return s >= 400 && s < 500
}

// Sender is Microsoft's webhook caller: it signs each notification with an
// Entra token for the publisher's app, POSTs it, and retries what fails.
type Sender struct {
	URL     string
	Client  *http.Client
	Issuer  *identity.Issuer
	App     identity.App             // the publisher's app registration: the token's audience and tenant
	Version identity.TokenVersion    // token version; default V2, as real webhook tokens are
	Clock   clock.Clock              // harness clock for back-off; a *clock.Fake is advanced, not waited on
	Log     *violation.Log           // where failed deliveries are recorded (may be nil)
	Market  *marketplace.Marketplace // when set, a 4xx to ChangePlan/ChangeQuantity fails the operation, as Microsoft does

	// AckWindow bounds each attempt's wall time (default 10s): an answer
	// later than that counts as none (WH-ACK-01).
	AckWindow time.Duration
	// Attempts is how many times one notification is tried (default 3; the
	// real marketplace keeps trying for hours).
	Attempts int
	// Backoff is the wait before retry n (1-based); default 2^(n-1) seconds.
	// MicrosoftBackoff with MicrosoftAttempts is Microsoft's own schedule.
	Backoff func(n int) time.Duration
	// GiveUpAfter, when set, bounds the wall time one delivery may take:
	// no attempt starts after it. Microsoft keeps trying for hours on its
	// clock; the harness moves its fake clock through the back-off, but each
	// attempt still costs real time when the app is slow to answer.
	GiveUpAfter time.Duration
	// Redeliver sends every acknowledged notification a second time at
	// once, with a fresh token, as Microsoft does when the acknowledgement
	// is lost on the way back (delivery is at least once). The second
	// delivery is kept as a Delivery of its own with Duplicate set.
	Redeliver bool

	// MaxKept bounds the deliveries Deliveries keeps (the newest); 0 keeps
	// every one, as a run of the suites needs and a long-lived serve must not.
	MaxKept int

	mu         sync.Mutex
	deliveries []Delivery
	inFlight   atomic.Int64 // deliveries begun and not finished
}

// Deliveries returns a copy of every delivery so far (the newest MaxKept).
func (s *Sender) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), window.Newest(s.deliveries, s.MaxKept)...)
}

// DeliveriesFor returns the deliveries of one subscription.
func (s *Sender) DeliveriesFor(subscriptionID string) []Delivery {
	var out []Delivery
	for _, d := range s.Deliveries() {
		if strings.EqualFold(d.Payload.SubscriptionID, subscriptionID) {
			out = append(out, d)
		}
	}
	return out
}

// Deliver sends a genuine notification until it is acknowledged or the
// attempts run out, and records what happened. A final failure is also a
// violation of WH-ACK-01; a 4xx to a ChangePlan or ChangeQuantity in
// progress is the publisher's rejection, and ends the operation Failed.
func (s *Sender) Deliver(ctx context.Context, p marketplace.WebhookPayload) (Delivery, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return Delivery{}, fmt.Errorf("driver: encoding the webhook payload: %w", err)
	}
	return s.DeliverBody(ctx, p, body)
}

// DeliverBody is Deliver with the exact bytes to POST (a payload with extra
// fields, for instance) for the notification p describes.
func (s *Sender) DeliverBody(ctx context.Context, p marketplace.WebhookPayload, body []byte) (Delivery, error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	d, err := s.deliver(ctx, p, body, false)
	if err != nil || !s.Redeliver || !d.Acked() {
		return d, err
	}
	if _, err := s.deliver(ctx, p, body, true); err != nil {
		return d, err
	}
	return d, nil
}

// deliver is one delivery of a notification, with its retries.
func (s *Sender) deliver(ctx context.Context, p marketplace.WebhookPayload, body []byte, duplicate bool) (Delivery, error) {
	d := Delivery{Payload: p, Body: body, Duplicate: duplicate}
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	began := time.Now()
	for n := 1; n <= attempts; n++ {
		if n > 1 {
			if s.GiveUpAfter > 0 && time.Since(began) >= s.GiveUpAfter {
				break
			}
			if err := s.wait(ctx, s.backoff(n-1)); err != nil {
				return s.keep(d), err
			}
		}
		token, err := s.Issuer.WebhookToken(s.App, s.version())
		if err != nil {
			return s.keep(d), fmt.Errorf("driver: minting the webhook token: %w", err)
		}
		a := s.post(ctx, "Bearer "+token, body)
		d.Attempts = append(d.Attempts, a)
		if a.Status >= 200 && a.Status < 300 {
			break
		}
		if d.Rejected() && rejectable(p) {
			break // a rejection, not a failure: Microsoft does not retry it
		}
		if ctx.Err() != nil {
			break
		}
	}
	s.judge(d)
	return s.keep(d), ctx.Err()
}

// InFlight is the number of deliveries under way: a notification the
// publisher has not answered yet is activity a wait on it must see.
func (s *Sender) InFlight() int { return int(s.inFlight.Load()) }

// Forge POSTs a notification under a forged Authorization header once (no
// retries: a refusal is the right answer). A 2xx is a WH-AUTH-01 violation.
func (s *Sender) Forge(ctx context.Context, p marketplace.WebhookPayload, f identity.Forgery) (Delivery, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return Delivery{}, fmt.Errorf("driver: encoding the webhook payload: %w", err)
	}
	d := Delivery{Payload: p, Body: body, Forgery: f.Name}
	a := s.post(ctx, f.Header, body)
	d.Attempts = append(d.Attempts, a)
	if d.Acked() && s.Log != nil {
		s.Log.Record(violation.Violation{
			Rule: "WH-AUTH-01", Summary: "webhook accepted a forged token (" + f.Name + ")",
			Field: "header.Authorization", Got: fmt.Sprintf("%d", a.Status), Want: "401 and no effect",
			Fix: "validate the webhook's bearer token: " + f.Check, Method: http.MethodPost, Path: s.URL,
			Status: a.Status, SubscriptionID: p.SubscriptionID, At: a.At,
		})
	}
	return s.keep(d), ctx.Err()
}

// judge records what a finished genuine delivery says about the publisher.
func (s *Sender) judge(d Delivery) {
	if rejectable(d.Payload) && d.Rejected() && s.Market != nil {
		// Microsoft ends the operation when the publisher refuses it with a
		// 4xx inside the window (WH-ACK-02).
		_ = s.Market.CompleteOperation(d.Payload.SubscriptionID, d.Payload.ID, marketplace.OpFailed)
		return
	}
	if s.Log == nil {
		return
	}
	failed := 0
	for i, a := range d.Attempts {
		if a.Interrupted {
			continue // the run stopped, not the publisher
		}
		if a.Status >= 200 && a.Status < 300 && !a.TimedOut {
			continue
		}
		if failed++; failed > maxAckRecords {
			// Microsoft retries up to 500 times: the rest of the same
			// failure is one line, not one per retry.
			if rest := failedAfter(d.Attempts[i:]); rest > 0 {
				s.Log.Record(violation.Violation{Rule: "WH-ACK-01", Method: http.MethodPost, Path: s.URL, Status: a.Status,
					SubscriptionID: d.Payload.SubscriptionID, At: a.At,
					Summary: fmt.Sprintf("webhook failed %d more attempts to deliver the %s notification (attempts %d–%d)", rest, d.Payload.Action, i+1, len(d.Attempts)),
					Got:     fmt.Sprintf("%d more failed attempts", rest), Want: "200",
					Fix: "answer 200 once the notification is queued; every failed attempt makes Microsoft retry, for up to 8 hours"})
			}
			break
		}
		v := violation.Violation{Rule: "WH-ACK-01", Method: http.MethodPost, Path: s.URL, Status: a.Status,
			SubscriptionID: d.Payload.SubscriptionID, At: a.At}
		switch {
		case a.TimedOut:
			v.Summary = fmt.Sprintf("webhook answered no sooner than %s (%s notification, attempt %d)", s.ackWindow(), d.Payload.Action, i+1)
			v.Got, v.Want = "no answer within "+s.ackWindow().String(), "an answer well within the window"
			v.Fix = "answer 200 at once and do the work afterwards (a queue or a goroutine)"
		case a.Status >= 200 && a.Status < 300:
			continue
		case a.Status >= 400 && a.Status < 500 && !rejectable(d.Payload):
			v.Summary = fmt.Sprintf("webhook refused a %s notification with %d; it cannot be rejected", d.Payload.Action, a.Status)
			v.Got, v.Want = fmt.Sprint(a.Status), "200"
			v.Fix = "acknowledge every Suspend, Reinstate, Renew and Unsubscribe with 200; only ChangePlan/ChangeQuantity can be refused"
		case a.Status == 0:
			v.Summary = fmt.Sprintf("webhook could not be reached for a %s notification: %s", d.Payload.Action, a.Err)
			v.Got, v.Want = a.Err, "200"
			v.Fix = "keep the webhook endpoint up and reachable from the marketplace"
		default:
			v.Summary = fmt.Sprintf("webhook answered %d to a %s notification (attempt %d); Microsoft retries it", a.Status, d.Payload.Action, i+1)
			v.Got, v.Want = fmt.Sprint(a.Status), "200"
			v.Fix = "answer 200 once the notification is queued; to refuse a change, PATCH the operation with Failure"
		}
		s.Log.Record(v)
	}
}

// maxAckRecords is how many failed attempts of one delivery are recorded
// one by one; the rest are counted in one more violation.
const maxAckRecords = 3

// failedAfter counts the attempts that failed (not interrupted, no 2xx in
// time).
func failedAfter(as []Attempt) int {
	n := 0
	for _, a := range as {
		if !a.Interrupted && (a.TimedOut || a.Status < 200 || a.Status >= 300) {
			n++
		}
	}
	return n
}

// rejectable says whether the publisher may refuse the notification.
func rejectable(p marketplace.WebhookPayload) bool {
	return (p.Action == marketplace.ActionChangePlan || p.Action == marketplace.ActionChangeQuantity) &&
		p.Status == marketplace.OpInProgress && p.OperationRequestSource != marketplace.SourcePartner
}

func (s *Sender) post(parent context.Context, authorization string, body []byte) Attempt {
	a := Attempt{At: time.Now(), ClockAt: s.clock().Now()}
	ctx, cancel := context.WithTimeout(parent, s.ackWindow())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	start := time.Now()
	resp, err := client.Do(req)
	a.Latency = time.Since(start)
	if err != nil {
		a.Err = err.Error()
		a.Interrupted = parent.Err() != nil
		a.TimedOut = !a.Interrupted && errors.Is(ctx.Err(), context.DeadlineExceeded)
		return a
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	a.Status, a.Body = resp.StatusCode, string(head)
	return a
}

func (s *Sender) keep(d Delivery) Delivery {
	s.mu.Lock()
	s.deliveries, _ = window.Append(s.deliveries, d, s.MaxKept)
	s.mu.Unlock()
	return d
}

// wait lets d pass on the harness clock: a fake clock is moved on (the
// harness owns time), a real one is waited on.
func (s *Sender) wait(ctx context.Context, d time.Duration) error {
	if f, ok := s.clock().(interface{ Advance(time.Duration) }); ok {
		f.Advance(d)
		return nil
	}
	select {
	case <-s.clock().After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MicrosoftAttempts is one delivery and the 500 retries Microsoft makes
// (https://learn.microsoft.com/partner-center/marketplace-offers/pc-saas-fulfillment-webhook:
// "500 retries over eight hours").
const MicrosoftAttempts = 501

// MicrosoftBackoff is a retry schedule with Microsoft's documented span:
// 500 retries over about eight hours. The interval itself is not
// documented; this one retries soon at first (1 s, 5 s, 30 s), as a
// transient failure deserves, then every 58 s, which fills the eight hours
// (36 s + 497 × 58 s ≈ 8 h 1 min). On a fake clock none of it is waited.
func MicrosoftBackoff(n int) time.Duration {
	switch {
	case n <= 1:
		return time.Second
	case n == 2:
		return 5 * time.Second
	case n == 3:
		return 30 * time.Second
	}
	return 58 * time.Second
}

func (s *Sender) backoff(n int) time.Duration {
	if s.Backoff != nil {
		return s.Backoff(n)
	}
	return time.Duration(1<<(n-1)) * time.Second
}

func (s *Sender) ackWindow() time.Duration {
	if s.AckWindow > 0 {
		return s.AckWindow
	}
	return 10 * time.Second
}

func (s *Sender) version() identity.TokenVersion {
	if s.Version == 0 {
		return identity.V2
	}
	return s.Version
}

func (s *Sender) clock() clock.Clock {
	if s.Clock == nil {
		return clock.Real{}
	}
	return s.Clock
}
