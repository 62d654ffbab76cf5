package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/tlsca"
	"github.com/saasconform/saasconform/harness/violation"
)

// env is the harness side of a test: a run CA, the fake Entra ID and the
// fake marketplace behind the contract validator, all over HTTPS.
type env struct {
	t      *testing.T
	ca     *tlsca.CA
	client *http.Client
	idp    *identity.Issuer
	idURL  string
	app    identity.App // the publisher's app registration
	log    *violation.Log
	m      *marketplace.Marketplace
	api    *contract.Validator
	apiURL string // marketplace base incl. /api

	events chan marketplace.Event

	mu        sync.Mutex
	exchanges []contract.Exchange
}

// newEnv starts the fakes; mopts are extra marketplace options.
func newEnv(t *testing.T, mopts ...marketplace.Option) *env {
	t.Helper()
	return newEnvWith(t, nil, mopts...)
}

// newEnvWith also takes options for the fake Entra ID.
func newEnvWith(t *testing.T, idopts []identity.Option, mopts ...marketplace.Option) *env {
	t.Helper()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ca: ca, client: ca.Client(), log: &violation.Log{}, events: make(chan marketplace.Event, 256)}
	// Don't follow redirects: the tests look at what the publisher answers.
	e.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	e.app = identity.App{Name: "example-publisher", TenantID: uuid.NewString(), ClientID: uuid.NewString(),
		Secret: "example~publisher.secret-" + uuid.NewString(), PublisherID: "contoso"}
	e.idp, err = identity.New(append([]identity.Option{identity.WithApps(e.app)}, idopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	idSrv, err := ca.Serve(e.idp, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idSrv.Close() })
	e.idURL = idSrv.URL
	if err := e.idp.SetURL(idSrv.URL); err != nil {
		t.Fatal(err)
	}

	// The marketplace must know its own absolute URL (Operation-Location,
	// @nextLink), so the server starts before the handler is built.
	var h atomic.Value
	mSrv, err := ca.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Load().(http.Handler).ServeHTTP(w, r)
	}), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mSrv.Close() })
	e.apiURL = mSrv.URL + "/api"
	opts := append([]marketplace.Option{marketplace.WithViolations(e.log), marketplace.WithBaseURL(e.apiURL)}, mopts...)
	e.m, err = marketplace.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.m.OnEvent(func(ev marketplace.Event) { e.events <- ev })
	auth, err := identity.NewMarketplaceAuth(e.idp)
	if err != nil {
		t.Fatal(err)
	}
	// The validator checks error bodies in the fake's profile.
	e.api, err = contract.New(e.m, contract.WithViolations(e.log), contract.WithAuthenticator(auth), contract.WithProfile(e.m.Profile()),
		contract.OnExchange(func(x contract.Exchange) {
			e.mu.Lock()
			e.exchanges = append(e.exchanges, x)
			e.mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	h.Store(http.Handler(e.api))
	return e
}

// Exchanges returns every marketplace call seen so far.
func (e *env) Exchanges() []contract.Exchange {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]contract.Exchange(nil), e.exchanges...)
}

// config is a publisher configuration pointing at the fakes.
func (e *env) config() app.Config {
	return app.Config{
		MarketplaceURL: e.apiURL,
		AuthorityHost:  e.idURL,
		TenantID:       e.app.TenantID,
		ClientID:       e.app.ClientID,
		ClientSecret:   e.app.Secret,
		PollInterval:   10 * time.Millisecond,
		PollTimeout:    10 * time.Second,
		HTTPClient:     e.ca.Client(),
		Logger:         testLogger(),
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("PUBLISHER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// pub is a running publisher.
type pub struct {
	e   *env
	a   *app.App
	url string
}

// publisher starts the example publisher over HTTPS; edit adjusts its config.
func (e *env) publisher(edit func(*app.Config)) *pub {
	e.t.Helper()
	cfg := e.config()
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	srv, err := e.ca.Serve(a.Handler(), false)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &pub{e: e, a: a, url: srv.URL}
}

// get and post talk to the publisher like a browser or the harness would.
func (p *pub) get(path string) (int, string) {
	p.e.t.Helper()
	resp, err := p.e.client.Get(p.url + path)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return readAll(p.e.t, resp)
}

func (p *pub) postForm(path string, form url.Values) (int, string) {
	p.e.t.Helper()
	resp, err := p.e.client.PostForm(p.url+path, form)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return readAll(p.e.t, resp)
}

func (p *pub) post(path string) (int, string) {
	p.e.t.Helper()
	resp, err := p.e.client.Post(p.url+path, "application/json", nil)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return readAll(p.e.t, resp)
}

// webhook delivers a notification with the given Authorization header
// value ("" sends none).
func (p *pub) webhook(payload any, authz string) (int, string) {
	p.e.t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		p.e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, p.url+"/webhook", strings.NewReader(string(body)))
	if err != nil {
		p.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := p.e.client.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return readAll(p.e.t, resp)
}

// genuine is the Authorization header Microsoft would send.
func (e *env) genuine(v identity.TokenVersion) string {
	e.t.Helper()
	tok, err := e.idp.WebhookToken(e.app, v)
	if err != nil {
		e.t.Fatal(err)
	}
	return "Bearer " + tok
}

func readAll(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// probe is the publisher's own view of a subscription.
type probe struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	Plan           string `json:"plan"`
	Seats          *int64 `json:"seats"`
	CustomerTenant string `json:"customerTenant"`
	Renewals       int    `json:"renewals"`
}

func (p *pub) probe(id string) (probe, bool) {
	p.e.t.Helper()
	status, body := p.get("/admin/subscriptions/" + id)
	if status == http.StatusNotFound {
		return probe{}, false
	}
	if status != http.StatusOK {
		p.e.t.Fatalf("probe %s: %d %s", id, status, body)
	}
	var out probe
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		p.e.t.Fatalf("probe %s: %v in %s", id, err, body)
	}
	return out, true
}

// eventFor waits for the marketplace event of an operation.
func (e *env) eventFor(opID string) marketplace.Event {
	e.t.Helper()
	deadline := time.After(5 * time.Second)
	var skipped []marketplace.Event
	defer func() {
		for _, ev := range skipped {
			e.events <- ev
		}
	}()
	for {
		select {
		case ev := <-e.events:
			if ev.Payload.ID == opID {
				return ev
			}
			skipped = append(skipped, ev)
		case <-deadline:
			e.t.Fatalf("no event for operation %s", opID)
		}
	}
}

// eventually polls cond until it holds or the deadline passes; cond
// returns what it saw, for the failure message.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 10s; saw %s", what, saw)
		}
		<-tick.C
	}
}

// activate runs the customer's landing-page flow for a purchase.
func (p *pub) activate(buy marketplace.Purchase) {
	t := p.e.t
	t.Helper()
	status, body := p.get("/landing?token=" + url.QueryEscape(buy.Token))
	if status != http.StatusOK || !strings.Contains(body, `action="/landing/activate"`) {
		t.Fatalf("landing: %d %s", status, body)
	}
	status, body = p.postForm("/landing/activate", url.Values{"subscriptionId": {buy.SubscriptionID}})
	if status != http.StatusOK || !strings.Contains(body, "all set") {
		t.Fatalf("confirm: %d %s", status, body)
	}
}

func (e *env) purchase(req marketplace.PurchaseRequest) marketplace.Purchase {
	e.t.Helper()
	if req.OfferID == "" {
		req.OfferID = "contoso-notes"
	}
	buy, err := e.m.Purchase(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return buy
}

// noErrors fails on any Error-severity violation or harness bug.
func (e *env) noErrors() {
	e.t.Helper()
	for _, v := range e.log.All() {
		if v.Severity == violation.Error {
			e.t.Errorf("violation: %s", v)
		} else {
			e.t.Logf("warning: %s", v)
		}
	}
	for _, b := range e.api.HarnessBugs() {
		e.t.Errorf("harness bug: %v", b)
	}
}

func fmtState(p probe, ok bool) string {
	if !ok {
		return "no account"
	}
	seats := "null"
	if p.Seats != nil {
		seats = fmt.Sprint(*p.Seats)
	}
	return fmt.Sprintf("state=%s plan=%s seats=%s renewals=%d tenant=%s", p.State, p.Plan, seats, p.Renewals, p.CustomerTenant)
}

func ptr[T any](v T) *T { return &v }
