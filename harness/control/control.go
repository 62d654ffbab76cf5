// Package control is the hand-testing front of a running fake: a small JSON
// API and one server-rendered page to buy plans, act as the customer
// (change plan or seats, suspend, reinstate, renew, unsubscribe), hand out
// landing links, and watch the violations and the webhook transcript.
//
// It drives a *microsoft.Side; with a webhook sender, every customer action
// is delivered to the publisher before the call returns, and the
// publisher's own changes (operationRequestSource Partner) are delivered in
// the background, as Microsoft notifies them too. Without a sender the
// actions still change Microsoft's state and record the event, but nothing
// is delivered.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/microsoft"
	"github.com/saasconform/saasconform/harness/violation"
)

// MaxBody is the largest request body the control API reads.
const MaxBody = 64 << 10

// Config is what the control server drives.
type Config struct {
	Side *microsoft.Side // required
	// Sender delivers webhooks to the publisher; nil delivers nothing.
	Sender *driver.Sender
	// LandingURL is the publisher's landing page; when set, purchases and
	// tokens come with a link to it carrying ?token=.
	LandingURL string
}

// Server is the control API and page. It is an http.Handler.
type Server struct {
	side    *microsoft.Side
	market  *marketplace.Marketplace
	sender  *driver.Sender
	landing *url.URL
	mux     *http.ServeMux

	mu      sync.Mutex
	notice  notice // the page's banner: the last UI action's result
	bgWG    sync.WaitGroup
	closing bool
}

type notice struct {
	Text  string
	Link  string
	Error bool
}

// New returns a control server over cfg.Side. With a sender it also
// delivers the publisher's own changes to its webhook.
func New(cfg Config) (*Server, error) {
	if cfg.Side == nil || cfg.Side.Marketplace == nil {
		return nil, errors.New("control: Config.Side is required")
	}
	s := &Server{side: cfg.Side, market: cfg.Side.Marketplace, sender: cfg.Sender}
	if cfg.LandingURL != "" {
		u, err := url.Parse(cfg.LandingURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("control: landing URL %q: want an absolute http or https URL", cfg.LandingURL)
		}
		s.landing = u
	}
	if s.sender != nil {
		s.market.OnEvent(func(ev marketplace.Event) {
			// Customer actions are delivered by the action call; the
			// Subscribe of a plan with automatic activation comes from the
			// purchase, which has no delivery of its own.
			if ev.Payload.OperationRequestSource != marketplace.SourcePartner && ev.Payload.Action != marketplace.ActionSubscribe {
				return
			}
			s.mu.Lock()
			if s.closing {
				s.mu.Unlock()
				return
			}
			s.bgWG.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.bgWG.Done()
				_, _ = s.sender.Deliver(context.Background(), ev.Payload)
			}()
		})
	}
	s.routes()
	return s, nil
}

// Close waits for background webhook deliveries to end and stops new ones.
func (s *Server) Close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.bgWG.Wait()
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/offers", s.apiOffers)
	m.HandleFunc("GET /api/subscriptions", s.apiSubscriptions)
	m.HandleFunc("POST /api/purchases", s.apiPurchase)
	m.HandleFunc("POST /api/subscriptions/{id}/token", s.apiToken)
	m.HandleFunc("POST /api/subscriptions/{id}/actions/{action}", s.apiAction)
	m.HandleFunc("GET /api/violations", s.apiViolations)
	m.HandleFunc("GET /api/deliveries", s.apiDeliveries)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (see GET /api/offers, /api/subscriptions, ...)", r.Method, r.URL.Path))
	})
	m.HandleFunc("GET /{$}", s.page)
	m.HandleFunc("POST /ui/purchase", s.uiPurchase)
	m.HandleFunc("POST /ui/subscriptions/{id}/token", s.uiToken)
	m.HandleFunc("POST /ui/subscriptions/{id}/actions/{action}", s.uiAction)
	s.mux = m
}

// ServeHTTP serves the API under /api/, the page at / and its forms under /ui/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && !sameOrigin(r) {
		// A page on another site must not drive the fake through the
		// user's browser.
		writeErr(w, http.StatusForbidden, "origin "+r.Header.Get("Origin")+" is not this server")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// ---- the operations behind both the API and the page ----

// reqError is a bad request: the HTTP status and a message naming the field.
type reqError struct {
	status int
	msg    string
}

func (e *reqError) Error() string { return e.msg }

func badField(field, format string, args ...any) *reqError {
	return &reqError{http.StatusBadRequest, field + ": " + fmt.Sprintf(format, args...)}
}

// fromMarket turns a marketplace error into a request error with the JSON
// name of the field at fault.
func fromMarket(err error) *reqError {
	var me *marketplace.Error
	if !errors.As(err, &me) {
		return &reqError{http.StatusBadRequest, err.Error()}
	}
	status := http.StatusBadRequest
	if errors.Is(err, marketplace.ErrNotFound) {
		status = http.StatusNotFound
	}
	field := jsonName(me.Field)
	msg := me.Kind.Error()
	if me.Msg != "" {
		msg += ": " + me.Msg
	}
	if field == "" {
		return &reqError{status, msg}
	}
	if me.Value != "" {
		return &reqError{status, fmt.Sprintf("%s %q: %s", field, me.Value, msg)}
	}
	return &reqError{status, field + ": " + msg}
}

func jsonName(f string) string {
	switch f {
	case "PlanID":
		return "planId"
	case "OfferID":
		return "offerId"
	case "Quantity":
		return "quantity"
	case "Kind":
		return "kind"
	}
	return f
}

// PurchaseRequest is the body of POST /api/purchases.
type PurchaseRequest struct {
	OfferID  string `json:"offerId,omitempty"` // default: the offer that has PlanID
	PlanID   string `json:"planId"`
	Quantity *int64 `json:"quantity,omitempty"`
	Kind     string `json:"kind,omitempty"` // direct (default), csp, freeTrial, test
}

// PurchaseResult is the answer to a purchase or a token request.
type PurchaseResult struct {
	SubscriptionID string `json:"subscriptionId,omitempty"`
	Token          string `json:"token"`
	LandingURL     string `json:"landingUrl,omitempty"`
}

var kinds = map[string]marketplace.PurchaseKind{
	"direct": marketplace.Direct, "csp": marketplace.CSP, "freetrial": marketplace.FreeTrial, "test": marketplace.Test,
}

func (s *Server) purchase(req PurchaseRequest) (PurchaseResult, *reqError) {
	if req.PlanID == "" {
		return PurchaseResult{}, badField("planId", "required (GET /api/offers lists the plans)")
	}
	kind := marketplace.Direct
	if req.Kind != "" {
		k, ok := kinds[strings.ToLower(req.Kind)]
		if !ok {
			return PurchaseResult{}, badField("kind", "%q is not one of direct, csp, freeTrial, test", req.Kind)
		}
		kind = k
	}
	var qty int64
	if req.Quantity != nil {
		if *req.Quantity <= 0 {
			return PurchaseResult{}, badField("quantity", "%d: must be 1 or more", *req.Quantity)
		}
		qty = *req.Quantity
	}
	offer := req.OfferID
	cat := s.market.Catalog()
	if offer == "" {
		for _, o := range cat.Offers() {
			if _, ok := cat.Plan(o.ID, req.PlanID); ok {
				offer = o.ID
				break
			}
		}
		if offer == "" {
			return PurchaseResult{}, badField("planId", "%q is not a plan of any offer (GET /api/offers lists them)", req.PlanID)
		}
	}
	p, err := s.market.Purchase(marketplace.PurchaseRequest{OfferID: offer, PlanID: req.PlanID, Quantity: qty, Kind: kind})
	if err != nil {
		return PurchaseResult{}, fromMarket(err)
	}
	return PurchaseResult{SubscriptionID: p.SubscriptionID, Token: p.Token, LandingURL: s.landingLink(p.Token)}, nil
}

func (s *Server) token(id string) (PurchaseResult, *reqError) {
	tok, err := s.market.IssueToken(id)
	if err != nil {
		return PurchaseResult{}, fromMarket(err)
	}
	return PurchaseResult{Token: tok, LandingURL: s.landingLink(tok)}, nil
}

// landingLink is the landing page with ?token= added, encoded once.
func (s *Server) landingLink(token string) string {
	if s.landing == nil {
		return ""
	}
	u := *s.landing
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// ActionRequest is the body of POST /api/subscriptions/{id}/actions/{action}.
type ActionRequest struct {
	PlanID   *string `json:"planId,omitempty"`   // changePlan
	Quantity *int64  `json:"quantity,omitempty"` // changeQuantity
}

// ActionResult is the operation the action made and, with a sender, its
// webhook delivery.
type ActionResult struct {
	Operation marketplace.Operation `json:"operation"`
	Delivery  *DeliveryView         `json:"delivery"`
}

// Actions are the action names of the API, in the page's order.
var Actions = []string{"changePlan", "changeQuantity", "suspend", "reinstate", "renew", "unsubscribe"}

func (s *Server) act(ctx context.Context, id, action string, req ActionRequest) (ActionResult, *reqError) {
	known := false
	for _, a := range Actions {
		known = known || a == action
	}
	if !known {
		return ActionResult{}, &reqError{http.StatusNotFound, fmt.Sprintf("action: %q is not one of %s", action, strings.Join(Actions, ", "))}
	}
	if _, ok := s.market.Subscription(id); !ok {
		return ActionResult{}, &reqError{http.StatusNotFound, fmt.Sprintf("subscriptionId %q: no such subscription", id)}
	}
	if req.PlanID != nil && action != "changePlan" {
		return ActionResult{}, badField("planId", "only changePlan takes a plan")
	}
	if req.Quantity != nil && action != "changeQuantity" {
		return ActionResult{}, badField("quantity", "only changeQuantity takes a quantity")
	}
	var op marketplace.Operation
	var err error
	switch action {
	case "changePlan":
		if req.PlanID == nil || *req.PlanID == "" {
			return ActionResult{}, badField("planId", "required for changePlan")
		}
		op, err = s.market.ChangePlan(id, *req.PlanID)
	case "changeQuantity":
		if req.Quantity == nil {
			return ActionResult{}, badField("quantity", "required for changeQuantity")
		}
		if *req.Quantity <= 0 {
			return ActionResult{}, badField("quantity", "%d: must be 1 or more", *req.Quantity)
		}
		op, err = s.market.ChangeQuantity(id, *req.Quantity)
	case "suspend":
		op, err = s.market.Suspend(id)
	case "reinstate":
		op, err = s.market.Reinstate(id)
	case "renew":
		op, err = s.market.Renew(id)
	case "unsubscribe":
		op, err = s.market.Unsubscribe(id)
	}
	if err != nil {
		return ActionResult{}, fromMarket(err)
	}
	res := ActionResult{Operation: op}
	if s.sender == nil {
		return res, nil
	}
	ev, ok := s.eventFor(op.ID)
	if !ok {
		return res, nil
	}
	// Deliver even if the caller goes away: the notification is Microsoft's.
	d, _ := s.sender.Deliver(context.WithoutCancel(ctx), ev.Payload)
	v := viewOf(d)
	res.Delivery = &v
	if now, ok := s.market.Operation(id, op.ID); ok {
		res.Operation = now // a 4xx rejection may have ended it
	}
	return res, nil
}

// eventFor finds the notification of operation opID.
func (s *Server) eventFor(opID string) (marketplace.Event, bool) {
	evs := s.market.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Payload.ID == opID {
			return evs[i], true
		}
	}
	return marketplace.Event{}, false
}

// subscriptions returns Microsoft's view of every subscription (bought here,
// or restored from a state file), newest first.
func (s *Server) subscriptions() []marketplace.Subscription {
	out := s.market.Subscriptions()
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// OfferView is an offer as GET /api/offers shows it.
type OfferView struct {
	ID          string             `json:"id"`
	DisplayName string             `json:"displayName"`
	Plans       []marketplace.Plan `json:"plans"`
}

func (s *Server) offers() []OfferView {
	var out []OfferView
	for _, o := range s.market.Catalog().Offers() {
		out = append(out, OfferView{ID: o.ID, DisplayName: o.DisplayName, Plans: o.Plans})
	}
	return out
}

// DeliveryView is one webhook delivery as the API shows it.
type DeliveryView struct {
	OperationID    string                      `json:"operationId"`
	SubscriptionID string                      `json:"subscriptionId"`
	Action         marketplace.Action          `json:"action"`
	Status         marketplace.OperationStatus `json:"status"` // the notification's status
	Acked          bool                        `json:"acked"`
	Attempts       []AttemptView               `json:"attempts"`
}

// AttemptView is one POST of a webhook.
type AttemptView struct {
	At        time.Time `json:"at"`
	Status    int       `json:"status"` // 0: no answer
	LatencyMs float64   `json:"latencyMs"`
	Error     string    `json:"error,omitempty"`
	TimedOut  bool      `json:"timedOut,omitempty"`
}

func viewOf(d driver.Delivery) DeliveryView {
	v := DeliveryView{OperationID: d.Payload.ID, SubscriptionID: d.Payload.SubscriptionID, Action: d.Payload.Action,
		Status: d.Payload.Status, Acked: d.Acked(), Attempts: []AttemptView{}}
	for _, a := range d.Attempts {
		v.Attempts = append(v.Attempts, AttemptView{At: a.At, Status: a.Status,
			LatencyMs: float64(a.Latency.Microseconds()) / 1000, Error: a.Err, TimedOut: a.TimedOut})
	}
	return v
}

func (s *Server) deliveries() []DeliveryView {
	out := []DeliveryView{}
	if s.sender == nil {
		return out
	}
	for _, d := range s.sender.Deliveries() {
		if d.Forgery == "" {
			out = append(out, viewOf(d))
		}
	}
	return out
}

func (s *Server) violations() []violation.Violation {
	v := s.side.Log.All()
	if v == nil {
		v = []violation.Violation{}
	}
	return v
}

// ---- the JSON API ----

func (s *Server) apiOffers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.offers())
}

func (s *Server) apiSubscriptions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.subscriptions())
}

func (s *Server) apiViolations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.violations())
}

func (s *Server) apiDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.deliveries())
}

func (s *Server) apiPurchase(w http.ResponseWriter, r *http.Request) {
	var req PurchaseRequest
	if err := decode(w, r, &req, true); err != nil {
		writeErr(w, err.status, err.msg)
		return
	}
	res, err := s.purchase(req)
	if err != nil {
		writeErr(w, err.status, err.msg)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) apiToken(w http.ResponseWriter, r *http.Request) {
	var none struct{}
	if err := decode(w, r, &none, false); err != nil {
		writeErr(w, err.status, err.msg)
		return
	}
	res, err := s.token(r.PathValue("id"))
	if err != nil {
		writeErr(w, err.status, err.msg)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiAction(w http.ResponseWriter, r *http.Request) {
	var req ActionRequest
	if err := decode(w, r, &req, false); err != nil {
		writeErr(w, err.status, err.msg)
		return
	}
	res, err := s.act(r.Context(), r.PathValue("id"), r.PathValue("action"), req)
	if err != nil {
		writeErr(w, err.status, err.msg)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// decode reads a JSON object of at most MaxBody bytes into v, refusing
// unknown fields and trailing data. An empty body is allowed unless required.
func decode(w http.ResponseWriter, r *http.Request, v any, required bool) *reqError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &reqError{http.StatusBadRequest, fmt.Sprintf("body: larger than %d bytes", MaxBody)}
		}
		return &reqError{http.StatusBadRequest, "body: " + err.Error()}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if required {
			return &reqError{http.StatusBadRequest, "body: a JSON object is required"}
		}
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &reqError{http.StatusBadRequest, "body: " + jsonMessage(err)}
	}
	if dec.More() {
		return &reqError{http.StatusBadRequest, "body: more than one JSON value"}
	}
	return nil
}

// jsonMessage names the field a JSON error is about.
func jsonMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %s: want a %s, got a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not valid JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON: it ends early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return err.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ---- the page's forms: POST, then 303 back to the page ----

func (s *Server) setNotice(n notice) {
	s.mu.Lock()
	s.notice = n
	s.mu.Unlock()
}

func (s *Server) back(w http.ResponseWriter, r *http.Request, n notice) {
	s.setNotice(n)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		s.back(w, r, notice{Text: "form: " + err.Error(), Error: true})
		return false
	}
	return true
}

func (s *Server) uiPurchase(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	// The plan select's values are "offer/plan".
	offer, plan, _ := strings.Cut(r.PostForm.Get("plan"), "/")
	req := PurchaseRequest{OfferID: offer, PlanID: plan, Kind: r.PostForm.Get("kind")}
	if q := strings.TrimSpace(r.PostForm.Get("quantity")); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil {
			s.back(w, r, notice{Text: fmt.Sprintf("quantity: %q is not a whole number", q), Error: true})
			return
		}
		req.Quantity = &n
	}
	res, err := s.purchase(req)
	if err != nil {
		s.back(w, r, notice{Text: err.msg, Error: true})
		return
	}
	s.back(w, r, s.tokenNotice("bought "+plan+": subscription "+res.SubscriptionID, res))
}

func (s *Server) tokenNotice(text string, res PurchaseResult) notice {
	if res.LandingURL != "" {
		return notice{Text: text + " — open the landing page:", Link: res.LandingURL}
	}
	return notice{Text: text + " — token (no -landing URL configured): " + res.Token}
}

func (s *Server) uiToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	res, err := s.token(id)
	if err != nil {
		s.back(w, r, notice{Text: err.msg, Error: true})
		return
	}
	s.back(w, r, s.tokenNotice("manage-account token for "+id, res))
}

func (s *Server) uiAction(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	var req ActionRequest
	if v := r.PostForm.Get("planId"); v != "" {
		req.PlanID = &v
	}
	if v := strings.TrimSpace(r.PostForm.Get("quantity")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.back(w, r, notice{Text: fmt.Sprintf("quantity: %q is not a whole number", v), Error: true})
			return
		}
		req.Quantity = &n
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	res, err := s.act(r.Context(), id, action, req)
	if err != nil {
		s.back(w, r, notice{Text: err.msg, Error: true})
		return
	}
	text := fmt.Sprintf("%s on %s: operation %s %s", res.Operation.Action, id, res.Operation.ID, res.Operation.Status)
	if d := res.Delivery; d != nil && len(d.Attempts) > 0 {
		a := d.Attempts[len(d.Attempts)-1]
		text += fmt.Sprintf("; webhook answered %d in %.0f ms", a.Status, a.LatencyMs)
	} else if s.sender == nil {
		text += "; no webhook configured, nothing delivered"
	}
	s.back(w, r, notice{Text: text})
}

// planChoices lists every plan as offer/plan, for the page's selects.
func (s *Server) planChoices() []planChoice {
	var out []planChoice
	for _, o := range s.market.Catalog().Offers() {
		for _, p := range o.Plans {
			label := o.DisplayName + " — " + p.DisplayName + " (" + p.PlanID
			if p.IsPricePerSeat {
				label += ", per seat"
			}
			if p.HasFreeTrials {
				label += ", free trial"
			}
			if p.IsStopSell {
				label += ", stop-sell"
			}
			out = append(out, planChoice{Offer: o.ID, Plan: p.PlanID, Label: label + ")"})
		}
	}
	return out
}

type planChoice struct{ Offer, Plan, Label string }
