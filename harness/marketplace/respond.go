package marketplace

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

// call is one request on its way through a handler: the request, what the
// handler found wrong with it, and the events to deliver once answered.
type call struct {
	m      *Marketplace
	w      http.ResponseWriter
	r      *http.Request
	op     OpName
	reqID  string
	corrID string
	subID  string // the subscription the call is about, once known
	// publisher is the caller's publisherId from its bearer token, "" when
	// no authenticator vouched for one (then every subscription is visible).
	publisher string
	body      []byte
	now       time.Time

	pending []violation.Violation
	events  []Event
	locked  bool
}

// lock takes the store lock and settles due work at the call's "now", so a
// request sees exactly the state a Settle at that instant would leave.
func (c *call) lock() {
	c.m.mu.Lock()
	c.locked = true
	c.now = c.m.cfg.clock.Now()
	c.m.settleLocked(c.now)
}

func (c *call) unlock() {
	if c.locked {
		c.locked = false
		c.m.unlock()
	}
}

// violate notes a broken rule; it is recorded, with the response status,
// when the call answers.
func (c *call) violate(v violation.Violation) { c.pending = append(c.pending, v) }

// finish releases the lock, records the violations (before the response, so
// a client that got its answer can already see them) and returns the status.
func (c *call) finish(status int) {
	c.unlock()
	at := c.now
	if at.IsZero() {
		at = c.m.cfg.clock.Now()
	}
	for _, v := range c.pending {
		v.Method = c.r.Method
		v.Path = c.r.URL.RequestURI()
		v.Status = status
		if v.SubscriptionID == "" {
			v.SubscriptionID = c.subID
		}
		// The caller's ids, or the ones the fake made up and echoed.
		v.CorrelationID = c.corrID
		v.RequestID = c.reqID
		v.At, v.ClockAt = time.Now(), at
		c.m.cfg.violations.Record(v)
	}
	c.pending = nil
}

// afterResponse delivers the call's events; the webhook sender may then call
// the publisher, who has its answer already.
func (c *call) afterResponse() { c.m.deliver(c.events...) }

func (c *call) respond(status int, body any) {
	c.finish(status)
	writeJSON(c.w, status, body)
	c.afterResponse()
}

// respondEncoded answers with body already encoded as JSON.
func (c *call) respondEncoded(status int, body []byte) {
	c.finish(status)
	writeEncoded(c.w, status, body)
	c.afterResponse()
}

// empty answers with no body (activate 200, PATCH operation 200).
func (c *call) empty(status int) {
	c.finish(status)
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(status)
	c.afterResponse()
}

// accepted answers 202 with the operation to poll.
func (c *call) accepted(o Operation) {
	c.finish(http.StatusAccepted)
	c.w.Header().Set("Operation-Location", c.baseURL()+"/saas/subscriptions/"+o.SubscriptionID+
		"/operations/"+o.ID+"?api-version="+apiVersion)
	if c.m.cfg.profile.IsProduction() {
		// Microsoft's emulator sends the operation's id on its own too
		// (spec/README.md, "The production profile").
		c.w.Header().Set("Operation-Id", o.ID)
	}
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusAccepted)
	c.afterResponse()
}

// fail answers an error in the profile's shape (contract.EncodeError).
func (c *call) fail(status int, code, target, msg string) {
	if c.m.cfg.profile.IsProduction() {
		c.respondEncoded(status, contract.EncodeError(c.m.cfg.profile, status, code, target, msg))
		return
	}
	c.respond(status, ErrorResponse{Error: ErrorBody{Code: code, Message: msg, Target: target}})
}

// failErr answers a validation *Error of the fake's own methods.
func (c *call) failErr(status int, code string, err *Error) {
	msg := err.Kind.Error()
	if err.Msg != "" {
		msg += ": " + err.Msg
	}
	c.fail(status, code, err.Field, msg)
}

func (c *call) notFound(what string) {
	c.fail(http.StatusNotFound, "NotFound", "", what+" not found")
}

// baseURL is where the API lives as the caller sees it.
func (c *call) baseURL() string {
	if c.m.cfg.baseURL != "" {
		return c.m.cfg.baseURL
	}
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.r.Host + c.m.cfg.basePath
}

// decode parses a JSON body; an empty body is an empty object.
func (c *call) decode(v any) error {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	return json.Unmarshal(c.body, v)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil { // only our own types are encoded; this is a harness bug
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"InternalServerError","message":"fake marketplace could not encode its response"}}`)
	}
	writeEncoded(w, status, data)
}

// writeEncoded sends data, JSON already, with its length.
func writeEncoded(w http.ResponseWriter, status int, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// owns reports whether the caller may see subscription r.
func (c *call) owns(r *subRecord) bool {
	return c.publisher == "" || strings.EqualFold(r.sub.PublisherID, c.publisher)
}

// refuseForeign answers 403 for another publisher's subscription (AUTH-02).
func (c *call) refuseForeign(r *subRecord) {
	c.violate(broke("AUTH-02", "subscription belongs to another publisher", "subscriptionId", c.publisher, r.sub.PublisherID,
		"use the app registered in Partner Center for the offer's publisher; each publisher sees only its own purchases"))
	c.fail(http.StatusForbidden, "Forbidden", "subscriptionId", "the subscription does not belong to the caller's publisher")
}
