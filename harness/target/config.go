package target

import (
	"path/filepath"
	"slices"
	"time"
)

// Config is one target file, decoded, defaulted and validated.
type Config struct {
	Publisher    Publisher    `yaml:"publisher"`
	Identity     Identity     `yaml:"identity"`
	Marketplace  Marketplace  `yaml:"marketplace"`
	Capabilities []Capability `yaml:"capabilities"`
	Timeouts     Timeouts     `yaml:"timeouts"`
	Reports      Reports      `yaml:"reports"`

	// Source is the file the config came from ("" when parsed from memory);
	// Dir is the folder relative paths in it are resolved against.
	Source string `yaml:"-"`
	Dir    string `yaml:"-"`
}

// Publisher is the app under test.
type Publisher struct {
	// LandingPage is where the customer lands after buying; the harness
	// appends ?token=….
	LandingPage string `yaml:"landingPage"`
	// Webhook receives the marketplace's notifications.
	Webhook string `yaml:"webhook"`
	// Port is the publisher's port. Zero, with {{.PublisherPort}} used
	// anywhere, lets the harness pick a free loopback port (see ResolvePort).
	Port    int        `yaml:"port"`
	Landing Landing    `yaml:"landing"`
	Start   *StartSpec `yaml:"start"`   // nil: the app is already running
	Probe   *Probe     `yaml:"probe"`   // nil: no publisher-side state checks
	Actions *Actions   `yaml:"actions"` // nil: publisher-initiated flows skip
	Rejects Rejects    `yaml:"rejects"`
}

// Landing modes.
const (
	LandingHTTP    = "http"    // plain GET (and form submit) from the harness
	LandingBrowser = "browser" // a real browser, for pages that need script
)

// Landing says how the harness visits the landing page.
type Landing struct {
	Mode string `yaml:"mode"` // LandingHTTP (default) or LandingBrowser
	// ConfirmForm submits the first <form> on the page after the GET, the
	// way a customer presses "Activate". Default true.
	ConfirmForm bool `yaml:"confirmForm"`
	// Click is a CSS selector the browser presses after the page loads
	// (browser mode only), for pages whose action is a button outside any
	// form. It replaces the form submission.
	Click string `yaml:"click"`
}

// StartSpec says how to launch the publisher.
type StartSpec struct {
	Command []string          `yaml:"command"` // argv; elements may be templates over Vars
	Dir     string            `yaml:"dir"`     // relative to the target file's folder
	Env     map[string]string `yaml:"env"`     // values are templates over Vars
	// InheritEnv passes the harness's own environment as well (default
	// true); Env wins where both set a name.
	InheritEnv   bool          `yaml:"inheritEnv"`
	Ready        string        `yaml:"ready"`        // GET until 2xx; "" means do not wait
	ReadyTimeout time.Duration `yaml:"readyTimeout"` // default 60s
	StopTimeout  time.Duration `yaml:"stopTimeout"`  // SIGTERM → wait this → SIGKILL; default 5s
}

// Probe asks the publisher for its own view of one subscription.
type Probe struct {
	URL    string      `yaml:"url"` // template over Vars and SubVars
	Fields ProbeFields `yaml:"fields"`
	// StatusMap translates the publisher's words into Microsoft's
	// statuses (PendingFulfillmentStart, Subscribed, Suspended,
	// Unsubscribed).
	StatusMap map[string]string `yaml:"statusMap"`
}

// ProbeFields are JSON paths ($.a.b or $.a[0].b) into the probe's answer.
type ProbeFields struct {
	Status              string `yaml:"status"` // required
	PlanID              string `yaml:"planId"`
	Quantity            string `yaml:"quantity"`
	BeneficiaryTenantID string `yaml:"beneficiaryTenantId"`
	// TermEnd is the end of the current term as the publisher recorded it
	// at the last renewal (compared only after a Renew).
	TermEnd string `yaml:"termEnd"`
}

// Map returns the paths keyed by the marketplace field names (status,
// planId, quantity, beneficiaryTenantId, termEnd), leaving out unset ones.
func (f ProbeFields) Map() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		"status": f.Status, "planId": f.PlanID, "quantity": f.Quantity, "beneficiaryTenantId": f.BeneficiaryTenantID,
		"termEnd": f.TermEnd,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// Actions are the publisher's own endpoints that make it call the
// marketplace: change a plan, change seats, cancel, reconcile.
type Actions struct {
	// Activate makes an app that activates from a back office (an
	// operator approves the sign-up) do so for one subscription; the
	// harness calls it after the customer's landing-page visit.
	Activate       *Action `yaml:"activate"`
	ChangePlan     *Action `yaml:"changePlan"`
	ChangeQuantity *Action `yaml:"changeQuantity"`
	Cancel         *Action `yaml:"cancel"`
	Reconcile      *Action `yaml:"reconcile"`
}

// Action is one HTTP call that makes the publisher act.
type Action struct {
	Method string `yaml:"method"` // GET, POST (default), PUT, PATCH or DELETE
	URL    string `yaml:"url"`    // template over Vars and SubVars
}

// Rejects is what the publisher is configured to refuse, so suites can check
// that it refuses properly.
type Rejects struct {
	Plans    []string `yaml:"plans"`    // plan ids it will not sell
	MaxSeats int64    `yaml:"maxSeats"` // 0: no limit
}

// Token versions for webhook tokens.
const (
	TokenV1 = "v1"
	TokenV2 = "v2"
)

// Identity is the Entra app registration the fake identity provider plays.
type Identity struct {
	TenantID      string        `yaml:"tenantId"`      // GUID; "" = generated per run
	ClientID      string        `yaml:"clientId"`      // GUID; "" = generated
	ClientSecret  string        `yaml:"clientSecret"`  // "" = generated
	TokenLifetime time.Duration `yaml:"tokenLifetime"` // default 4m (see DefaultTokenLifetime)
	TokenVersion  string        `yaml:"tokenVersion"`  // TokenV1 or TokenV2 (default)
}

// Marketplace is how the fake marketplace serves.
type Marketplace struct {
	TLS            bool   `yaml:"tls"`            // default true
	Listen         string `yaml:"listen"`         // default 127.0.0.1:0
	IdentityListen string `yaml:"identityListen"` // default 127.0.0.1:0
	PageSize       int    `yaml:"pageSize"`       // default 100
	Offers         string `yaml:"offers"`         // "" = built-in fixtures; relative to the target file
	// Proxy starts the intercepting proxy: the app keeps Microsoft's real
	// host names (login.microsoftonline.com, marketplaceapi.microsoft.com)
	// and reaches the fakes through {{.ProxyURL}}.
	Proxy            bool     `yaml:"proxy"`
	ProxyListen      string   `yaml:"proxyListen"`      // default 127.0.0.1:0
	ProxyPassthrough []string `yaml:"proxyPassthrough"` // hosts the proxy lets through untouched
	// Profile is how the fakes answer: ProfileStrict (the documents, the
	// default) or ProfileProduction (what the real service is reported to
	// do; spec/README.md, "The production profile").
	Profile string `yaml:"profile"`
}

// Marketplace profiles (harness/profile).
const (
	ProfileStrict     = "strict"
	ProfileProduction = "production"
)

// Timeouts bound the harness's waits.
type Timeouts struct {
	WebhookAck time.Duration `yaml:"webhookAck"` // default 10s
	Flow       time.Duration `yaml:"flow"`       // default 30s
	Request    time.Duration `yaml:"request"`    // default 10s
	// Idle is how long the app may make no call to the fakes, with no
	// notification in flight, before a spec waiting on it concludes that
	// it has stopped and says where the flow stopped. Default 2s.
	Idle time.Duration `yaml:"idle"`
}

// Reports is where run reports go.
type Reports struct {
	Dir string `yaml:"dir"` // default "reports", relative to the target file
}

// Capability names a feature of the publisher; specs for a capability the
// target does not list are skipped.
type Capability string

// The capabilities a target can claim.
const (
	CapLanding          Capability = "landing"
	CapActivate         Capability = "activate"
	CapChangePlan       Capability = "changePlan"
	CapChangeQuantity   Capability = "changeQuantity"
	CapSuspend          Capability = "suspend"
	CapReinstate        Capability = "reinstate"
	CapUnsubscribe      Capability = "unsubscribe"
	CapRenew            Capability = "renew"
	CapCSP              Capability = "csp"
	CapFreeTrial        Capability = "freeTrial"
	CapWebhookAuth      Capability = "webhookAuth"
	CapPublisherActions Capability = "publisherActions"
	CapReconcile        Capability = "reconcile"
	// CapAutoActivation: the app takes purchases of plans with automatic
	// activation (a Subscribe notification, no activate call).
	CapAutoActivation Capability = "autoActivation"
)

// AllCapabilities returns every capability, in the order of the docs.
func AllCapabilities() []Capability {
	return []Capability{CapLanding, CapActivate, CapChangePlan, CapChangeQuantity, CapSuspend, CapReinstate,
		CapUnsubscribe, CapRenew, CapCSP, CapFreeTrial, CapWebhookAuth, CapPublisherActions, CapReconcile, CapAutoActivation}
}

// Defaults.
const (
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopTimeout  = 5 * time.Second
	// DefaultTokenLifetime is short on purpose, in real time: a correct
	// cache (MSAL, azidentity, x/oauth2 or a hand-written one with any
	// renewal margin) then fetches a new token whenever its token is about
	// to lapse, and the token-reuse check (AUTH-04) can wait, in real time,
	// until every token the app holds has expired. Tokens are checked on
	// the wall clock, never on the harness's own clock, which the app
	// cannot see.
	DefaultTokenLifetime = 2 * time.Second
	DefaultWebhookAck    = 10 * time.Second
	DefaultFlow          = 30 * time.Second
	DefaultRequest       = 10 * time.Second
	DefaultIdle          = 2 * time.Second
	DefaultListen        = "127.0.0.1:0"
	DefaultPageSize      = 100
	DefaultReportsDir    = "reports"
)

// Default returns a config with every default filled in and no publisher;
// it does not validate (a publisher's landing page and webhook are required).
func Default() *Config {
	c := &Config{Dir: "."}
	applyDefaults(c, func(string) bool { return false })
	return c
}

// applyDefaults fills what the file left out. present says whether a dotted
// path was written in the file, so an explicit false or empty list is kept.
func applyDefaults(c *Config, present func(path string) bool) {
	p := &c.Publisher
	if !present("publisher.landing.mode") {
		p.Landing.Mode = LandingHTTP
	}
	if !present("publisher.landing.confirmForm") {
		p.Landing.ConfirmForm = true
	}
	if s := p.Start; s != nil {
		if !present("publisher.start.inheritEnv") {
			s.InheritEnv = true
		}
		if !present("publisher.start.readyTimeout") {
			s.ReadyTimeout = DefaultReadyTimeout
		}
		if !present("publisher.start.stopTimeout") {
			s.StopTimeout = DefaultStopTimeout
		}
	}
	if a := p.Actions; a != nil {
		for _, act := range []*Action{a.Activate, a.ChangePlan, a.ChangeQuantity, a.Cancel, a.Reconcile} {
			if act != nil && act.Method == "" {
				act.Method = "POST"
			}
		}
	}
	id := &c.Identity
	if !present("identity.tokenLifetime") {
		id.TokenLifetime = DefaultTokenLifetime
	}
	if !present("identity.tokenVersion") {
		id.TokenVersion = TokenV2
	}
	m := &c.Marketplace
	if !present("marketplace.tls") {
		m.TLS = true
	}
	if !present("marketplace.listen") {
		m.Listen = DefaultListen
	}
	if !present("marketplace.identityListen") {
		m.IdentityListen = DefaultListen
	}
	if !present("marketplace.pageSize") {
		m.PageSize = DefaultPageSize
	}
	if !present("marketplace.profile") {
		m.Profile = ProfileStrict
	}
	if !present("marketplace.proxyListen") {
		m.ProxyListen = DefaultListen
	}
	if !present("capabilities") {
		c.Capabilities = AllCapabilities()
	}
	t := &c.Timeouts
	if !present("timeouts.webhookAck") {
		t.WebhookAck = DefaultWebhookAck
	}
	if !present("timeouts.flow") {
		t.Flow = DefaultFlow
	}
	if !present("timeouts.request") {
		t.Request = DefaultRequest
	}
	if !present("timeouts.idle") {
		t.Idle = DefaultIdle
	}
	if !present("reports.dir") {
		c.Reports.Dir = DefaultReportsDir
	}
}

// Has reports whether the target claims capability k.
func (c *Config) Has(k Capability) bool { return slices.Contains(c.Capabilities, k) }

// StartDir is the folder to start the publisher in: start.dir resolved
// against the target file's folder.
func (c *Config) StartDir() string {
	if c.Publisher.Start == nil {
		return c.path("")
	}
	return c.path(c.Publisher.Start.Dir)
}

// OffersPath is the offers file resolved against the target file's folder,
// or "" for the built-in fixtures.
func (c *Config) OffersPath() string {
	if c.Marketplace.Offers == "" {
		return ""
	}
	return c.path(c.Marketplace.Offers)
}

// ReportsDir is reports.dir resolved against the target file's folder.
func (c *Config) ReportsDir() string { return c.path(c.Reports.Dir) }

func (c *Config) path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	dir := c.Dir
	if dir == "" {
		dir = "."
	}
	return filepath.Join(dir, rel)
}
