package marketplace

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/saasconform/saasconform/harness/violation"
)

// The subscription handlers. Each one takes the lock through c.lock (which
// settles due work), decides, and answers through c; violations noted with
// c.violate are recorded with the status the call answered.

// broke builds a violation of rule; the call fills in the exchange.
func broke(rule, summary, field, got, want, fix string) violation.Violation {
	return violation.Violation{Rule: rule, Summary: summary, Field: field, Got: got, Want: want, Fix: fix}
}

func fmtQty(q *int64) string {
	if q == nil {
		return ""
	}
	return strconv.FormatInt(*q, 10)
}

func (m *Marketplace) resolve(c *call) {
	tok := c.r.Header.Get(hdrToken)
	c.lock()
	if tok == "" {
		c.fail(http.StatusBadRequest, "BadArgument", hdrToken, "the x-ms-marketplace-token header is missing")
		return
	}
	rec, ok := m.st.tokens.lookup(tok)
	if !ok {
		if ref, rec, ok := m.st.tokens.lookupMangled(tok); ok {
			c.subID = rec.subID
			summary, fix := "purchase token was URL-decoded twice", "URL-decode the token query parameter exactly once ('+' must stay '+')"
			if ref.how == notDecoded {
				summary, fix = "purchase token was not URL-decoded", "URL-decode the token query parameter once before resolving"
			}
			c.violate(broke("FUL-RESOLVE-01", summary, "header."+hdrToken, tok, ref.token, fix))
		}
		c.fail(http.StatusBadRequest, "BadArgument", hdrToken, "the marketplace token is malformed or unknown")
		return
	}
	c.subID = rec.subID
	if !c.now.Before(rec.issued.Add(m.cfg.tokenLifetime)) {
		c.fail(http.StatusBadRequest, "BadArgument", hdrToken, "the marketplace token has expired")
		return
	}
	r := m.st.sub(rec.subID)
	if r == nil {
		c.fail(http.StatusBadRequest, "BadArgument", hdrToken, "the marketplace token is unknown")
		return
	}
	if !c.owns(r) {
		c.refuseForeign(r)
		return
	}
	if !r.resolved {
		r.resolved = true
		m.touchSub(r)
	}
	s := cloneSubscription(r.sub)
	c.respond(http.StatusOK, ResolvedSubscription{
		ID: s.ID, SubscriptionName: s.Name, OfferID: s.OfferID, PlanID: s.PlanID,
		Quantity: clonePtr(s.Quantity), Subscription: s,
	})
}

func (m *Marketplace) activate(c *call) {
	c.lock()
	r := m.st.sub(c.subID)
	if r == nil {
		c.notFound("subscription")
		return
	}
	s := &r.sub
	switch s.SaasSubscriptionStatus {
	case Unsubscribed:
		c.violate(broke("STATE-01", "activate called on an Unsubscribed subscription", "saasSubscriptionStatus",
			string(Unsubscribed), string(PendingFulfillmentStart), "never activate a cancelled subscription; show the customer it has ended"))
		c.notFound("subscription")
		return
	case Suspended:
		c.violate(broke("FUL-ACTIVATE-02", "activate called on a Suspended subscription", "saasSubscriptionStatus",
			string(Suspended), string(PendingFulfillmentStart), "activate only from PendingFulfillmentStart; a Suspended subscription waits for Reinstate"))
		c.fail(http.StatusBadRequest, "BadArgument", "saasSubscriptionStatus", "the subscription is Suspended")
		return
	}
	// Absent fields are told apart from wrong ones: the current docs need
	// only the subscription id, so a missing planId or quantity warns, while
	// a value other than the purchased one is an error (spec/README.md).
	var req struct {
		PlanID   *string `json:"planId"`
		Quantity *int64  `json:"quantity"`
	}
	if err := c.decode(&req); err != nil {
		c.fail(http.StatusBadRequest, "BadArgument", "body", "the body is not valid JSON: "+err.Error())
		return
	}
	perSeat := false
	if p := m.cfg.catalog.plan(s.OfferID, s.PlanID); p != nil {
		perSeat = p.IsPricePerSeat
	}
	bad := false
	if req.PlanID != nil && *req.PlanID != s.PlanID {
		c.violate(broke("FUL-ACTIVATE-01", "activate with a planId other than the purchased one", "body.planId", *req.PlanID, s.PlanID,
			"send the planId that resolve returned"))
		bad = true
	}
	switch {
	case perSeat && req.Quantity != nil && (s.Quantity == nil || *req.Quantity != *s.Quantity):
		c.violate(broke("FUL-ACTIVATE-01", "activate with a quantity other than the purchased one", "body.quantity",
			fmtQty(req.Quantity), fmtQty(s.Quantity), "send the quantity that resolve returned"))
		bad = true
	case !perSeat && req.Quantity != nil:
		v := broke("FUL-ACTIVATE-01", "activate with a quantity for a flat-rate plan", "body.quantity", fmtQty(req.Quantity), "",
			"omit quantity for flat-rate plans, as resolve does")
		v.Severity = violation.Warning
		c.violate(v)
	}
	if v, ok := activateOmits(c.body, req.PlanID == nil, perSeat && req.Quantity == nil, s); ok {
		c.violate(v)
	}
	switch {
	case s.SaasSubscriptionStatus == Subscribed && r.autoActivated():
		// The real service refuses it and publishers must shrug it off
		// (spec/README.md, "activate after automatic activation"): a
		// warning, so an app that survives the race is not failed for it.
		v := broke("FUL-ACTIVATE-05", "activate called on a subscription Microsoft activated itself (automatic activation)",
			"saasSubscriptionStatus", string(Subscribed), string(PendingFulfillmentStart),
			"don't call activate when resolve or the Subscribe notification shows Subscribed; if you do, treat the 400 as harmless and re-read the subscription")
		v.Severity = violation.Warning
		c.violate(v)
	case s.SaasSubscriptionStatus == Subscribed:
		c.violate(broke("FUL-ACTIVATE-02", "subscription activated again", "saasSubscriptionStatus", string(Subscribed),
			string(PendingFulfillmentStart), "activate once; on a revisit (Manage account) check the status resolve returned first"))
	case !r.resolved:
		c.violate(broke("FUL-ACTIVATE-02", "activate before resolve", "", "activate without a resolve", "resolve, then activate",
			"resolve the landing-page token first and activate the subscription it returns"))
	}
	if bad {
		c.fail(http.StatusBadRequest, "BadArgument", "body", "planId and quantity must be the purchased ones")
		return
	}
	if s.SaasSubscriptionStatus == Subscribed {
		// The 2022 docs list 400 for activating a subscription that is not
		// pending (spec/README.md, "activate on an active subscription").
		c.fail(http.StatusBadRequest, "BadArgument", "saasSubscriptionStatus", "the subscription is already Subscribed")
		return
	}
	if s.SaasSubscriptionStatus == PendingFulfillmentStart {
		start := c.now
		end := termEnd(start, s.Term.TermUnit)
		s.SaasSubscriptionStatus = Subscribed
		s.Term.StartDate, s.Term.EndDate = &start, &end
		s.LastModified = c.now
		m.touchSub(r)
	}
	c.empty(http.StatusOK)
}

// activateOmits is the warning for an activate body that leaves out the
// plan (noPlan) or a per-seat plan's seats (noSeats). Microsoft's current
// activate section needs only the subscription id and its OpenAPI requires
// no field, and {} is reported to work on the real service; older pages and
// Microsoft's generated clients send both, so sending them stays the advice.
func activateOmits(body []byte, noPlan, noSeats bool, s *Subscription) (violation.Violation, bool) {
	if !noPlan && !noSeats {
		return violation.Violation{}, false
	}
	want := `{"planId":"` + s.PlanID + `"`
	if noSeats {
		want += `,"quantity":` + fmtQty(s.Quantity)
	}
	want += "}"
	got := strings.TrimSpace(string(body))
	var summary, field string
	switch {
	case got == "":
		summary, field, got = "activate with an empty body", "body", "no body"
	case noPlan && noSeats:
		summary, field = "activate without planId and quantity", "body"
	case noPlan:
		summary, field = "activate without planId", "body.planId"
	default:
		summary, field = "activate without quantity for a per-seat plan", "body.quantity"
	}
	v := broke("FUL-ACTIVATE-01", summary+" (accepted: the current docs need only the subscription id)", field,
		truncateBody(got), want,
		"sending the planId (and for per-seat plans the quantity) that resolve returned is still recommended: older docs and Microsoft's clients send them")
	v.Severity = violation.Warning
	return v, true
}

// truncateBody keeps a request body short enough for one line.
func truncateBody(s string) string {
	if len(s) <= 80 {
		return s
	}
	n := 80
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (m *Marketplace) listSubscriptions(c *call) {
	var after uint64
	query, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		c.fail(http.StatusBadRequest, "BadArgument", "query", "the query string is malformed")
		return
	}
	if tok := query.Get("continuationToken"); tok != "" {
		seq, ok := decodeContinuation(tok)
		if !ok {
			c.fail(http.StatusBadRequest, "BadArgument", "continuationToken", "the continuation token is not one this service issued")
			return
		}
		after = seq
	}
	c.lock()
	var rest []*subRecord
	for _, r := range m.st.after(after) {
		if c.owns(r) {
			rest = append(rest, r)
			if len(rest) > m.cfg.pageSize {
				break // one more than a page says whether a next page exists
			}
		}
	}
	n := min(len(rest), m.cfg.pageSize)
	page := SubscriptionPage{Subscriptions: make([]Subscription, n)}
	for i, r := range rest[:n] {
		page.Subscriptions[i] = cloneSubscription(r.sub)
	}
	if len(rest) > n {
		page.NextLink = c.baseURL() + "/saas/subscriptions?api-version=" + apiVersion +
			"&continuationToken=" + encodeContinuation(rest[n-1].seq)
	}
	c.respond(http.StatusOK, page)
}

func (m *Marketplace) getSubscription(c *call) {
	c.lock()
	r := m.st.sub(c.subID)
	if r == nil {
		c.notFound("subscription")
		return
	}
	c.respondEncoded(http.StatusOK, r.encoded())
}

func (m *Marketplace) listAvailablePlans(c *call) {
	only := c.r.URL.Query().Get("planId")
	c.lock()
	r := m.st.sub(c.subID)
	if r == nil {
		c.notFound("subscription")
		return
	}
	// Every plan of the offer is offered, private ones included: the fake's
	// customers are always in the private audience.
	if only == "" {
		if b, ok := m.cfg.catalog.planList(r.sub.OfferID); ok {
			c.respondEncoded(http.StatusOK, b)
			return
		}
	}
	out := PlanList{Plans: []Plan{}}
	if i, ok := m.cfg.catalog.index[r.sub.OfferID]; ok {
		for _, p := range m.cfg.catalog.offers[i].Plans {
			if only == "" || p.PlanID == only {
				out.Plans = append(out.Plans, clonePlan(p))
			}
		}
	}
	c.respond(http.StatusOK, out)
}

func (m *Marketplace) updateSubscription(c *call) {
	c.lock()
	r := m.st.sub(c.subID)
	if r == nil {
		c.notFound("subscription")
		return
	}
	var req UpdateRequest
	if err := c.decode(&req); err != nil {
		c.fail(http.StatusBadRequest, "BadArgument", "body", "the body is not valid JSON: "+err.Error())
		return
	}
	hasPlan, hasQty := req.PlanID != "", req.Quantity != nil
	if hasPlan == hasQty {
		c.violate(broke("FUL-UPDATE-01", "PATCH subscription must carry planId or quantity, not both and not neither", "body",
			string(c.body), `{"planId":…} or {"quantity":…}`, "send one change per PATCH: planId or quantity"))
		c.fail(http.StatusBadRequest, "BadArgument", "body", "send planId or quantity, not both")
		return
	}
	if !m.subscribedForChange(c, r, "Update", "PATCH") {
		return
	}
	action, planID, qty := ActionChangePlan, req.PlanID, req.Quantity
	var verr *Error
	if hasPlan {
		qty, verr = m.checkPlanChange(r, req.PlanID)
	} else {
		action, planID = ActionChangeQuantity, r.sub.PlanID
		verr = m.checkQuantityChange(r, *req.Quantity)
	}
	if verr != nil {
		field, got := "body.planId", req.PlanID
		want := "a different plan from listAvailablePlans"
		if !hasPlan {
			field, got, want = "body.quantity", fmtQty(req.Quantity), "a new quantity within the plan's minQuantity–maxQuantity"
		}
		c.violate(broke("FUL-UPDATE-03", "PATCH subscription with an invalid change: "+verr.Msg, field, got, want,
			"offer only plans from listAvailablePlans and quantities within the plan's limits"))
		c.failErr(http.StatusBadRequest, "BadArgument", verr)
		return
	}
	o := m.newOpLocked(r, action, SourcePartner, planID, qty, OpInProgress, c.now, m.cfg.operationLatency)
	o.outcome = m.takeOutcomeLocked(r.sub.ID)
	if m.cfg.partnerNotifications {
		c.events = append(c.events, m.eventLocked(r, o, c.now))
	}
	c.accepted(cloneOperation(o.op))
}

func (m *Marketplace) deleteSubscription(c *call) {
	c.lock()
	r := m.st.sub(c.subID)
	if r == nil {
		c.notFound("subscription")
		return
	}
	if r.sub.SaasSubscriptionStatus == Unsubscribed {
		c.violate(broke("STATE-01", "DELETE on an Unsubscribed subscription", "saasSubscriptionStatus", string(Unsubscribed), "",
			"a cancelled subscription is final; check its status before cancelling"))
		c.fail(http.StatusBadRequest, "BadArgument", "saasSubscriptionStatus", "the subscription is already Unsubscribed")
		return
	}
	// DELETE is accepted while a plan or quantity change is pending (no
	// revision of the docs lists 409 for it: spec/README.md); that change
	// fails when the cancellation completes. A second DELETE while the first
	// is still running is refused like any overlapping change.
	if !m.allowed(c, r, "Delete", "DELETE") {
		return
	}
	if o := r.inProgress(); o != nil && o.op.Action == ActionUnsubscribe {
		m.busy(c, o, "DELETE")
		return
	}
	o := m.newOpLocked(r, ActionUnsubscribe, SourcePartner, r.sub.PlanID, r.sub.Quantity, OpInProgress, c.now, m.cfg.operationLatency)
	o.outcome = m.takeOutcomeLocked(r.sub.ID)
	if m.cfg.partnerNotifications {
		c.events = append(c.events, m.eventLocked(r, o, c.now))
	}
	c.accepted(cloneOperation(o.op))
}

// subscribedForChange checks what a PATCH needs of the subscription's state
// (STATE-01, STATE-02) and then allowedAndIdle; it answers and returns false
// when the call must stop.
func (m *Marketplace) subscribedForChange(c *call, r *subRecord, allowed, verb string) bool {
	switch st := r.sub.SaasSubscriptionStatus; st {
	case Subscribed:
	case Unsubscribed:
		c.violate(broke("STATE-01", verb+" subscription on an Unsubscribed subscription", "saasSubscriptionStatus", string(st),
			string(Subscribed), "a cancelled subscription is final; change only Subscribed ones"))
		c.fail(http.StatusBadRequest, "BadArgument", "saasSubscriptionStatus", "the subscription is Unsubscribed")
		return false
	default:
		c.violate(broke("STATE-02", verb+" subscription while "+string(st), "saasSubscriptionStatus", string(st),
			string(Subscribed), "change plan or quantity only while the subscription is Subscribed"))
		c.fail(http.StatusBadRequest, "BadArgument", "saasSubscriptionStatus", "the subscription is "+string(st)+", not Subscribed")
		return false
	}
	return m.allowedAndIdle(c, r, allowed, verb)
}

// allowedAndIdle checks allowedCustomerOperations (FUL-UPDATE-03) and that
// no operation is in flight (FUL-UPDATE-02).
func (m *Marketplace) allowedAndIdle(c *call, r *subRecord, allowed, verb string) bool {
	if !m.allowed(c, r, allowed, verb) {
		return false
	}
	if o := r.inProgress(); o != nil {
		m.busy(c, o, verb)
		return false
	}
	return true
}

// allowed checks allowedCustomerOperations (FUL-UPDATE-03).
func (m *Marketplace) allowed(c *call, r *subRecord, allowed, verb string) bool {
	if r.allows(allowed) {
		return true
	}
	c.violate(broke("FUL-UPDATE-03", verb+" subscription although "+allowed+" is not in allowedCustomerOperations",
		"allowedCustomerOperations", "", allowed, "check allowedCustomerOperations before offering the change"))
	c.fail(http.StatusBadRequest, "BadArgument", "allowedCustomerOperations", allowed+" is not allowed on this subscription")
	return false
}

// busy refuses a change that overlaps operation o (FUL-UPDATE-02).
func (m *Marketplace) busy(c *call, o *opRecord, verb string) {
	c.violate(broke("FUL-UPDATE-02", verb+" subscription while operation "+o.op.ID+" ("+string(o.op.Action)+") is in progress",
		"operationId", string(o.op.Status), "no operation in progress",
		"follow Operation-Location until the previous operation is final before the next change"))
	status, code, msg := m.busyAnswer()
	c.fail(status, code, "", msg)
}

// busyAnswer is how the fake refuses a change that overlaps a pending
// operation: 409 as the 2019 docs say, or, in the production profile, the
// 400 "locked" the real service answers (Microsoft's emulator, after trying
// the service: spec/README.md, "The production profile").
func (m *Marketplace) busyAnswer() (status int, code, message string) {
	if m.cfg.profile.IsProduction() {
		return http.StatusBadRequest, "Failed", "the subscription is locked because operations are pending; wait for them to finish"
	}
	return http.StatusConflict, "Conflict", "another operation is in progress on this subscription"
}
