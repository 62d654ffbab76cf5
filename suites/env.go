package suites

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/inprocess"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/microsoft"
	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/report"
	"github.com/saasconform/saasconform/harness/target"
)

// Config says what to test and how.
type Config struct {
	// Target is the loaded target config (target.Load); relative paths in
	// it resolve against its Dir.
	Target *target.Config
	// Logs receives the publisher's output as it runs (it is also kept for
	// the report); nil discards it.
	Logs io.Writer
	// Visitor replaces the landing-page visitor the config asks for.
	Visitor driver.Visitor
	// Env adds variables to the publisher's environment (KEY=VALUE), after
	// the config's own (a mutant run sets SAAS_MISTAKE this way).
	Env []string
	// InProcess runs a Go publisher inside the test process instead of
	// over sockets; publisher.start in the target config is then ignored.
	InProcess *InProcess
}

// Env is one run: Microsoft's side, the publisher, and the actors facing it.
type Env struct {
	Target  *target.Config // rendered for this run
	MS      *microsoft.Side
	Proc    *target.Process // nil when the publisher was already running
	Visitor driver.Visitor
	Sender  *driver.Sender
	Probe   *driver.Probe // nil without a probe in the config
	Client  *http.Client  // reaches the publisher (trusts the run's CA)
	Vars    target.Vars

	logs          *target.Output
	logOut        io.Writer      // the publisher's output goes here: logs and Config.Logs
	redOut        io.WriteCloser // Config.Logs behind the redaction of the run's secrets
	stopOnce      sync.Once
	warnings      []string // what outlived the publisher
	exitedEarly   bool     // the publisher exited before the harness stopped it
	network       *inprocess.Network
	stopInProcess func()
	closeMu       sync.Mutex
	closed        bool

	redMu sync.Mutex
	red   *report.Redactor
	redN  int // secrets red knows

	stateMu sync.Mutex
	state   report.StateChecks // the comparisons of the app's view with Microsoft's
}

// noteView counts one comparison of the app's view with Microsoft's, and
// whether it ended in a difference.
func (e *Env) noteView(differed bool) {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	e.state.Compared++
	if differed {
		e.state.Differed++
	}
}

// StateChecks says whether the target has a probe and how many
// comparisons of the app's view with Microsoft's were made.
func (e *Env) StateChecks() report.StateChecks {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	s := e.state
	s.Probe = e.Probe != nil
	return s
}

// Prepare brings up Microsoft's side, starts the publisher when the config
// says how, and waits until it is ready. Close the Env when done, on every
// path. An error after the publisher was started says so (PublisherStarted).
func Prepare(ctx context.Context, cfg Config) (*Env, error) {
	e, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// startedError is a setup failure after the publisher was started.
type startedError struct{ error }

func (e startedError) Unwrap() error { return e.error }

// PublisherStarted reports whether err, from Prepare or Execute, came after
// the publisher was started (so its log may say why).
func PublisherStarted(err error) bool {
	var s startedError
	return errors.As(err, &s)
}

// prepare is Prepare; on failure it also returns the Env, closed, for what
// it recorded (the publisher's output, what outlived it).
func prepare(ctx context.Context, cfg Config) (e *Env, err error) {
	if cfg.Target == nil {
		return nil, errors.New("suites: no target config")
	}
	e = &Env{logs: newPublisherOutput()}
	built := e // a `return nil, err` below has set e to nil by the time the deferred call runs
	defer func() {
		if err != nil {
			built.Close()
			if built.Proc != nil {
				err = startedError{err}
			}
			e = built
		}
	}()
	t := cfg.Target
	var mopts []marketplace.Option
	if t.Marketplace.PageSize > 0 {
		mopts = append(mopts, marketplace.WithPageSize(t.Marketplace.PageSize))
	}
	mopts = append(mopts, marketplace.WithAckWindow(t.Timeouts.WebhookAck))
	if p := t.OffersPath(); p != "" {
		cat, err := marketplace.LoadCatalogFile(p)
		if err != nil {
			return nil, err
		}
		if err := catalogServes(cat, t); err != nil {
			return nil, fmt.Errorf("suites: %s: %w", p, err)
		}
		mopts = append(mopts, marketplace.WithCatalog(cat))
	}
	app := identity.App{TenantID: t.Identity.TenantID, ClientID: t.Identity.ClientID, Secret: t.Identity.ClientSecret}
	if cfg.InProcess != nil {
		e.network = inprocess.New()
	}
	proxyOn := t.Marketplace.Proxy && cfg.InProcess == nil
	e.MS, err = microsoft.Start(microsoft.Options{Plain: !t.Marketplace.TLS, MarketplaceAddr: t.Marketplace.Listen,
		IdentityAddr: t.Marketplace.IdentityListen, App: app, TokenLifetime: t.Identity.TokenLifetime, Marketplace: mopts,
		Network: e.network, Proxy: proxyOn, ProxyAddr: t.Marketplace.ProxyListen, Passthrough: t.Marketplace.ProxyPassthrough,
		Profile: profile.Profile(t.Marketplace.Profile)})
	if err != nil {
		return nil, fmt.Errorf("suites: starting the fake marketplace and Entra ID: %w", err)
	}
	port := 0
	if t.UsesPublisherPort() && cfg.InProcess == nil {
		if port, err = t.ResolvePort(); err != nil {
			return nil, err
		}
	}
	e.Vars = target.Vars{MarketplaceURL: e.MS.MarketplaceURL, AuthorityURL: e.MS.AuthorityURL,
		MarketplaceOrigin: strings.TrimSuffix(e.MS.MarketplaceURL, "/api"), ProxyURL: e.MS.ProxyURL, NodePreload: e.MS.NodePreload,
		TenantID: e.MS.App.TenantID, ClientID: e.MS.App.ClientID, ClientSecret: e.MS.App.Secret,
		CAFile: e.MS.CAFile, PublisherPort: port}
	if e.Target, err = t.Render(e.Vars); err != nil {
		return nil, err
	}
	e.Client = e.MS.HTTPClient()
	e.Client.Timeout = e.Target.Timeouts.Request

	if cfg.InProcess != nil {
		if err = cfg.InProcess.start(e); err != nil {
			return nil, err
		}
	} else if s := e.Target.Publisher.Start; s != nil {
		e.logOut = e.logs
		if cfg.Logs != nil {
			// publisher.log is written as the app prints: the run's
			// secrets are hidden on the way (the in-memory copy is
			// redacted when the reports are built).
			e.redOut = report.NewRedactingWriter(cfg.Logs, e.Redactor)
			e.logOut = io.MultiWriter(e.logs, e.redOut)
		}
		e.Proc, err = target.Start(ctx, s, e.Target.StartDir(), cfg.Env, e.logOut)
		if err != nil {
			return nil, err
		}
		if s.Ready != "" {
			if err = target.WaitReady(ctx, s.Ready, e.Client, s.ReadyTimeout, e.Proc); err != nil {
				return nil, err
			}
		}
	}

	e.Visitor = cfg.Visitor
	if e.Visitor == nil {
		e.Visitor, err = visitorFor(e.Target, e.Client)
		if err != nil {
			return nil, err
		}
	}
	version := identity.V2
	if e.Target.Identity.TokenVersion == "v1" {
		version = identity.V1
	}
	e.Sender = &driver.Sender{URL: e.Target.Publisher.Webhook, Client: e.Client, Issuer: e.MS.Identity, App: e.MS.App,
		Version: version, Clock: e.MS.Clock, Log: e.MS.Log, Market: e.MS.Marketplace, AckWindow: e.Target.Timeouts.WebhookAck}
	if productionWebhooks(e.Target) {
		// Microsoft's own schedule, moved through on the harness clock; the
		// wall-time bound keeps an app that fails slowly from holding the run.
		e.Sender.Attempts, e.Sender.Backoff = driver.MicrosoftAttempts, driver.MicrosoftBackoff
		e.Sender.GiveUpAfter = e.Target.Timeouts.WebhookAck
	}
	// The publisher's own changes come back to its webhook, as Microsoft
	// notifies them too (operationRequestSource Partner).
	e.MS.Marketplace.OnEvent(func(ev marketplace.Event) {
		if ev.Payload.OperationRequestSource == marketplace.SourcePartner {
			go e.Sender.Deliver(context.Background(), ev.Payload)
		}
	})
	if p := e.Target.Publisher.Probe; p != nil {
		e.Probe = &driver.Probe{Fields: p.Fields.Map(), StatusMap: p.StatusMap, Client: e.Client,
			URL: func(id string) (string, error) {
				return target.RenderURL(p.URL, e.Vars, target.SubVars{SubscriptionID: id})
			}}
	}
	return e, nil
}

// catalogServes checks that an offers file has every kind of plan the
// target's capabilities need, so a run never starts only to fail most specs
// with "unknown plan". The specs use the first offer.
func catalogServes(cat *marketplace.Catalog, t *target.Config) error {
	offers := cat.Offers()
	if len(offers) == 0 {
		return errors.New("the offers file has no offer")
	}
	pl := plansOf(offers[0], t.Publisher.Rejects)
	var missing []string
	need := func(ok bool, what string, caps ...target.Capability) {
		for _, c := range caps {
			if t.Has(c) && !ok {
				missing = append(missing, fmt.Sprintf("%s (for capability %s)", what, c))
				return
			}
		}
	}
	need(pl.Flat != "", "a public flat-rate plan the app does not refuse (isPricePerSeat: false, not in publisher.rejects.plans)",
		target.CapLanding, target.CapActivate)
	need(pl.Seat != "", "a public per-seat plan (isPricePerSeat: true)", target.CapChangeQuantity)
	need(pl.Trial != "", "a public plan with a free trial (hasFreeTrials: true)", target.CapFreeTrial)
	need(pl.OtherFlat != "" || pl.Seat != "" || pl.Trial != "", "a second public plan to change to", target.CapChangePlan)
	if len(missing) > 0 {
		return fmt.Errorf("offer %s lacks %s; add the plan or remove the capability", pl.Offer, strings.Join(missing, "; "))
	}
	return nil
}

// visitorFor builds the landing visitor the config asks for.
func visitorFor(t *target.Config, c *http.Client) (driver.Visitor, error) {
	confirm := t.Publisher.Landing.ConfirmForm
	switch t.Publisher.Landing.Mode {
	case "", "http":
		return &driver.HTTPVisitor{Client: c, ConfirmForm: confirm}, nil
	case "browser":
		return newBrowserVisitor(c, confirm, t.Publisher.Landing.Click)
	}
	return nil, fmt.Errorf("suites: unknown landing mode %q", t.Publisher.Landing.Mode)
}

// Secrets returns the run's secrets known so far: the client secret of
// every app the fake Entra ID knows and every purchase token the
// marketplace issued.
func (e *Env) Secrets() []report.Secret {
	if e.MS == nil {
		return nil
	}
	return e.MS.Secrets()
}

// Redactor hides the run's secrets known so far (Secrets) and secrets by
// their shape. It is rebuilt only when a secret was added.
func (e *Env) Redactor() *report.Redactor {
	secrets := e.Secrets()
	e.redMu.Lock()
	defer e.redMu.Unlock()
	if e.red == nil || len(secrets) != e.redN {
		e.red, e.redN = report.NewRedactor(secrets...), len(secrets)
	}
	return e.red
}

// PublisherLogs returns what the publisher printed so far.
func (e *Env) PublisherLogs() []byte { return e.logs.Bytes() }

// Close stops the publisher and Microsoft's side. Safe to call twice.
func (e *Env) Close() error {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	if e.stopInProcess != nil {
		e.stopInProcess()
	}
	errs = append(errs, e.stopPublisher())
	if e.redOut != nil {
		errs = append(errs, e.redOut.Close())
	}
	if e.MS != nil {
		errs = append(errs, e.MS.Close())
	}
	return errors.Join(errs...)
}

// stopPublisher stops the publisher the run started, once, and looks for
// what outlived it: processes it started outside its process group, and
// anything still listening on its port. Each finding is a warning, added to
// the publisher's log as a line of saasconform's own.
func (e *Env) stopPublisher() (err error) {
	e.stopOnce.Do(func() {
		if e.Proc == nil {
			return
		}
		select {
		case <-e.Proc.Exited():
			e.exitedEarly = true
		default:
		}
		timeout := target.DefaultStopTimeout
		if e.Target != nil && e.Target.Publisher.Start != nil {
			timeout = e.Target.Publisher.Start.StopTimeout
		}
		err = e.Proc.Stop(timeout)
		ours := map[int]bool{}
		for _, l := range e.Proc.Leftovers() {
			e.warnings = append(e.warnings, l.String())
			ours[l.Pid] = true
		}
		for _, port := range e.publisherPorts() {
			for _, h := range target.PortHolders(port) {
				if !ours[h.Pid] {
					e.warnings = append(e.warnings, fmt.Sprintf("port %d is still held by process %d (%s) after the publisher stopped; "+
						"saasconform did not see the publisher start it, so left it running", port, h.Pid, h.Command))
				}
			}
		}
		for _, w := range e.warnings {
			_, _ = io.WriteString(e.logOut, "\n[saasconform: "+w+"]\n")
		}
	})
	return err
}

// publisherPorts are the loopback ports the started publisher surely
// serves on: {{.PublisherPort}} and the ready URL's.
func (e *Env) publisherPorts() []int {
	seen := map[int]bool{}
	var ports []int
	add := func(p int) {
		if p > 0 && !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	add(e.Vars.PublisherPort)
	if e.Target == nil {
		return ports
	}
	// Only the ready URL: the landing page may be served by a proxy the
	// user runs in front of the app, which is not the app's to stop.
	if s := e.Target.Publisher.Start; s != nil && s.Ready != "" {
		if u, err := url.Parse(s.Ready); err == nil {
			if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
				p, _ := strconv.Atoi(u.Port())
				add(p)
			}
		}
	}
	return ports
}

// newPublisherOutput keeps what a report can show of the publisher's
// output: its start and its end, within report.MaxPublisherLog.
func newPublisherOutput() *target.Output {
	const head = 64 << 10
	return target.NewOutput(head, report.MaxPublisherLog-head-256) // 256: the line about the gap
}
