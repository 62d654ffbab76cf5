// Package microsoft stands up Microsoft's side of a run: a CA, the fake
// Entra ID, and the fake marketplace behind two-way validation and token
// checks, sharing one clock, one violation log and one transcript.
package microsoft

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/inprocess"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/proxy"
	"github.com/saasconform/saasconform/harness/statefile"
	"github.com/saasconform/saasconform/harness/tlsca"
	"github.com/saasconform/saasconform/harness/violation"
)

// PublisherID is the publisher the run's offers belong to.
const PublisherID = "contoso"

// Host names of the fakes on an in-process network.
const (
	IdentityHost    = "login.saasconform.test"
	MarketplaceHost = "marketplace.saasconform.test"
)

// Options shape a run. The zero value is a sensible default.
type Options struct {
	Clock           *clock.Fake // default: a fake clock at the wall clock's now
	Plain           bool        // serve HTTP instead of HTTPS
	MarketplaceAddr string      // default 127.0.0.1:0
	IdentityAddr    string      // default 127.0.0.1:0
	Dir             string      // where the CA file is written; default a new temporary folder
	// Network, when set, puts both fakes on an in-process network (no
	// ports) under the hosts IdentityHost and MarketplaceHost.
	Network *inprocess.Network

	// MaxExchanges bounds the transcript Exchanges keeps (the oldest go
	// first); 0 keeps every exchange, which a run of the suites needs and a
	// long-lived serve must not do.
	MaxExchanges int
	// MaxViolations bounds the violations Log keeps (violation.Log.Keep);
	// 0 keeps every one.
	MaxViolations int

	// State, when set, keeps the session across restarts: the publisher's
	// app registration, the CA and the signing keys are read from it (or
	// made and written to it), and the marketplace restores its state from
	// it and journals every change to it. Side.Notes says what was restored.
	State *statefile.File

	App identity.App // the publisher's app registration; missing ids and secret are generated
	// Proxy starts the intercepting proxy (harness/proxy) at ProxyAddr:
	// the fakes then call themselves by Microsoft's own names
	// (login.microsoftonline.com, marketplaceapi.microsoft.com) in
	// discovery documents, token issuers, Operation-Location and @nextLink,
	// and an app that hard-codes those names reaches them through the
	// proxy. Not with Network.
	Proxy       bool
	ProxyAddr   string   // default 127.0.0.1:0
	Passthrough []string // hosts the proxy lets through untouched

	// TokenClock is the clock access tokens are issued and checked on;
	// default the wall clock (not Clock: the publisher cannot see that one).
	TokenClock    clock.Clock
	TokenLifetime time.Duration // access token lifetime, default 1h
	Marketplace   []marketplace.Option
	Auth          []identity.AuthOption
	// Profile is how the fakes answer (harness/profile): Strict, the
	// default, or Production, which also answers 401 for an unusable
	// bearer token.
	Profile profile.Profile
}

// Side is Microsoft's side of a run, up and serving.
type Side struct {
	Clock       *clock.Fake
	Log         *violation.Log
	CA          *tlsca.CA
	CAFile      string
	Identity    *identity.Issuer
	Marketplace *marketplace.Marketplace
	API         *contract.Validator
	App         identity.App
	// Notes are what Start restored from Options.State, or why it could
	// not and started something afresh, one line each.
	Notes []string

	MarketplaceURL string // the Fulfillment API base, ending in /api
	AuthorityURL   string // the Entra authority host
	// With Options.Proxy: the proxy's URL (for HTTPS_PROXY), and where the
	// fakes really listen (MarketplaceURL and AuthorityURL are then
	// Microsoft's own names).
	ProxyURL         string
	Proxy            *proxy.Proxy
	NodePreload      string // the Node.js preload (proxy.NodePreload), written beside the CA file
	LocalMarketplace string
	LocalAuthority   string

	network *inprocess.Network
	maxExch int
	mu      sync.Mutex
	// exchanges is the transcript; with a bound, a ring of maxExch whose
	// oldest entry is at next once it is full.
	exchanges []contract.Exchange
	next      int
	servers   []*tlsca.Server
	tempDir   string
}

// Start brings Microsoft's side up. Close it when the run ends.
func Start(o Options) (s *Side, err error) {
	if o.Proxy && o.Network != nil {
		return nil, errors.New("microsoft: the proxy and the in-process network do not mix: an in-process publisher already reaches the fakes without one")
	}
	s = &Side{Clock: o.Clock, Log: &violation.Log{}, maxExch: o.MaxExchanges}
	s.Log.Keep(o.MaxViolations)
	started := s // the returns below set s to nil
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	if s.Clock == nil {
		s.Clock = clock.NewFake(time.Now())
	}
	var sess session
	var market []statefile.Record
	if o.State != nil {
		sess, market = splitSession(o.State.Loaded())
	}
	if s.CA, err = s.loadCA(sess); err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "saasconform-"); err != nil {
			return nil, fmt.Errorf("microsoft: temporary folder: %w", err)
		}
		s.tempDir = dir
	}
	if s.CAFile, err = s.CA.WriteFile(dir); err != nil {
		return nil, err
	}
	app := o.App
	if app == (identity.App{}) && sess.App != nil {
		app = *sess.App
	}
	s.App = completeApp(app)

	lifetime := o.TokenLifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	// Webhook tokens follow the wall clock: the publisher checks them
	// against its own time, whatever the harness clock says.
	// Access tokens follow the wall clock too (TokenClock): the app's token
	// cache runs on real time, so moving the harness clock must never make
	// a token it holds expire under it.
	tokenClock := o.TokenClock
	if tokenClock == nil {
		tokenClock = clock.Real{}
	}
	idOpts := []identity.Option{identity.WithClock(tokenClock), identity.WithWebhookClock(clock.Real{}),
		identity.WithTokenLifetime(lifetime), identity.WithApps(s.App),
		// Entra is part of the contract: its refusals of token requests go
		// to the run's log (AUTH-05), its exchanges to the same transcript
		// as the marketplace's, told apart by their "entra:" operations.
		identity.WithViolations(s.Log), identity.OnExchange(s.keepEntra)}
	if o.Proxy {
		// Tokens carry Entra's real issuers (https://sts.windows.net/{tid}/,
		// https://login.microsoftonline.com/{tid}/v2.0).
		idOpts = append(idOpts, identity.WithIssuerStyle(identity.IssuerMicrosoft))
	}
	if sess.Keys != nil {
		if s.Identity, err = identity.New(append(idOpts, identity.WithKeys(sess.Keys))...); err != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("new signing keys: the saved ones do not load (%v); tokens issued before the restart are refused", err))
		}
	}
	if s.Identity == nil {
		if s.Identity, err = identity.New(idOpts...); err != nil {
			return nil, err
		}
	}
	// The marketplace needs its own URL for Operation-Location and
	// @nextLink, so its listener comes first and the handler after.
	mux := &switchable{}
	if s.network = o.Network; s.network != nil {
		s.AuthorityURL = "https://" + IdentityHost
		s.MarketplaceURL = "https://" + MarketplaceHost + "/api"
		s.network.Handle(IdentityHost, s.Identity)
		s.network.Handle(MarketplaceHost, mux)
	} else {
		idSrv, err := s.CA.ServeAt(orDefault(o.IdentityAddr), s.Identity, o.Plain)
		if err != nil {
			return nil, err
		}
		s.servers = append(s.servers, idSrv)
		s.AuthorityURL = idSrv.URL
		mpSrv, err := s.CA.ServeAt(orDefault(o.MarketplaceAddr), mux, o.Plain)
		if err != nil {
			return nil, err
		}
		s.servers = append(s.servers, mpSrv)
		s.MarketplaceURL = mpSrv.URL + "/api"
		if o.Proxy {
			s.LocalAuthority, s.LocalMarketplace = idSrv.URL, mpSrv.URL
			s.AuthorityURL, s.MarketplaceURL = "https://"+identity.PublicCloudHosts[0], "https://"+PublicMarketplaceHost+"/api"
			if err = s.startProxy(o, mux); err != nil {
				return nil, err
			}
			if s.NodePreload, err = proxy.WriteNodePreload(filepath.Dir(s.CAFile)); err != nil {
				return nil, err
			}
		}
	}
	if err = s.Identity.SetURL(s.AuthorityURL); err != nil {
		return nil, err
	}
	prof := o.Profile.OrStrict()
	mopts := append([]marketplace.Option{marketplace.WithClock(s.Clock), marketplace.WithViolations(s.Log),
		marketplace.WithBaseURL(s.MarketplaceURL), marketplace.WithPublisherID(PublisherID), marketplace.WithProfile(prof)}, o.Marketplace...)
	if o.State != nil {
		mopts = append(mopts, marketplace.WithJournal(o.State))
	}
	if s.Marketplace, err = marketplace.New(mopts...); err != nil {
		return nil, err
	}
	if o.State != nil {
		if err = s.restore(o.State, market); err != nil {
			return nil, err
		}
	}
	authOpts := o.Auth
	if prof.IsProduction() {
		// The gateway answers 401 for a missing, malformed, expired or
		// wrong-audience token (spec/README.md, "The production
		// profile"); 403 stays for another publisher's subscription.
		authOpts = append([]identity.AuthOption{identity.WithFailureStatus(http.StatusUnauthorized)}, authOpts...)
	}
	auth, err := identity.NewMarketplaceAuth(s.Identity, authOpts...)
	if err != nil {
		return nil, err
	}
	s.API, err = contract.New(s.Marketplace, contract.WithAuthenticator(auth), contract.WithViolations(s.Log),
		contract.WithClock(s.Clock), contract.OnExchange(s.keep), contract.WithProfile(prof))
	if err != nil {
		return nil, err
	}
	mux.set(s.API)
	return s, nil
}

// completeApp fills a publisher app's missing ids and secret.
func completeApp(a identity.App) identity.App {
	if a.Name == "" {
		a.Name = "publisher under test"
	}
	if a.TenantID == "" {
		a.TenantID = uuid.NewString()
	}
	if a.ClientID == "" {
		a.ClientID = uuid.NewString()
	}
	if a.Secret == "" {
		a.Secret = "sc-" + uuid.NewString()
	}
	if a.PublisherID == "" {
		a.PublisherID = PublisherID
	}
	return a
}

func orDefault(addr string) string {
	if addr == "" {
		return "127.0.0.1:0"
	}
	return addr
}

func (s *Side) keep(e contract.Exchange) {
	s.mu.Lock()
	if s.maxExch > 0 && len(s.exchanges) == s.maxExch {
		// Full: the newest replaces the oldest, with no allocation.
		s.exchanges[s.next] = e
		s.next = (s.next + 1) % s.maxExch
	} else {
		s.exchanges = append(s.exchanges, e)
	}
	s.mu.Unlock()
}

// keepEntra keeps an exchange of the fake Entra ID with the run's clock
// as its harness time: Entra issues tokens on its own (TokenClock), and one
// transcript reads in one harness time. At stays the wall time, as the
// marketplace's.
func (s *Side) keepEntra(e contract.Exchange) {
	e.ClockAt = s.Clock.Now()
	s.keep(e)
}

// Exchanges returns the calls the publisher made to the marketplace and to
// Entra ID so far, in order: all of them, or the last MaxExchanges. Entra's
// have an Operation for which identity.IsOperation holds.
func (s *Side) Exchanges() []contract.Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]contract.Exchange, 0, len(s.exchanges))
	out = append(out, s.exchanges[s.next:]...)
	return append(out, s.exchanges[:s.next]...)
}

// HTTPClient is a client that reaches the fakes: on the in-process network
// when there is one, else over loopback trusting the run's CA.
func (s *Side) HTTPClient() *http.Client {
	if s.network != nil {
		return s.network.Client(30 * time.Second)
	}
	return s.CA.Client()
}

// Close stops both servers and removes the temporary folder.
func (s *Side) Close() error {
	var errs []error
	if s.Proxy != nil {
		errs = append(errs, s.Proxy.Close())
		s.Proxy = nil
	}
	for _, srv := range s.servers {
		errs = append(errs, srv.Close())
	}
	s.servers = nil
	if s.tempDir != "" {
		errs = append(errs, os.RemoveAll(s.tempDir))
		s.tempDir = ""
	}
	return errors.Join(errs...)
}

// switchable is a handler set after its server started.
type switchable struct {
	mu sync.RWMutex
	h  http.Handler
}

func (s *switchable) set(h http.Handler) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	h := s.h
	s.mu.RUnlock()
	if h == nil {
		http.Error(w, `{"error":{"code":"Unavailable","message":"starting"}}`, http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
