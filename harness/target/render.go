package target

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"sort"
	"strings"
)

// Vars are the values known once per run that templates in a target file
// may use: {{.MarketplaceURL}}, {{.PublisherPort}} and so on.
type Vars struct {
	MarketplaceURL string // the fake marketplace's base URL, e.g. https://127.0.0.1:PORT/api
	AuthorityURL   string // the fake Entra ID's authority host
	TenantID       string
	ClientID       string
	ClientSecret   string
	CAFile         string // PEM file of the run's CA
	PublisherPort  int
	// MarketplaceOrigin is MarketplaceURL without its /api path, for apps
	// that append /api/saas/… themselves.
	MarketplaceOrigin string
	// ProxyURL is the intercepting proxy (marketplace.proxy), "" without it.
	ProxyURL string
	// NodePreload is a file Node.js loads with --require so its https
	// module and fetch go through ProxyURL (marketplace.proxy).
	NodePreload string
}

// SubVars are the per-subscription values probe and action URLs may use:
// {{.SubscriptionID}}, {{.PlanID}}, {{.Quantity}}.
type SubVars struct {
	SubscriptionID string
	PlanID         string
	Quantity       int64
}

// urlData is what probe and action URLs are executed with.
type urlData struct {
	Vars
	SubVars
}

// varNames are the template variables a target file may use.
var varNames = []string{"MarketplaceURL", "MarketplaceOrigin", "AuthorityURL", "ProxyURL", "NodePreload", "TenantID", "ClientID",
	"ClientSecret", "CAFile", "PublisherPort", "SubscriptionID", "PlanID", "Quantity"}

// subVarRE spots per-subscription variables in template text (or in a parse
// node's String(), which prints fields as .Name).
var subVarRE = regexp.MustCompile(`\.(SubscriptionID|PlanID|Quantity)\b`)

var portRE = regexp.MustCompile(`\.PublisherPort\b`)

// templated is one config string that is a template.
type templated struct {
	path string
	get  func() string
	set  func(string)
	sub  bool // may use SubVars (probe and action URLs)
	url  bool // must render to an absolute http(s) URL
}

// templates lists every templated string in c, in file order.
func (c *Config) templates() []templated {
	str := func(path string, p *string, sub, url bool) templated {
		return templated{path: path, get: func() string { return *p }, set: func(s string) { *p = s }, sub: sub, url: url}
	}
	p := &c.Publisher
	out := []templated{
		str("publisher.landingPage", &p.LandingPage, false, true),
		str("publisher.webhook", &p.Webhook, false, true),
	}
	if s := p.Start; s != nil {
		for i := range s.Command {
			out = append(out, str(fmt.Sprintf("publisher.start.command[%d]", i), &s.Command[i], false, false))
		}
		for _, name := range sortedKeys(s.Env) {
			out = append(out, templated{path: "publisher.start.env." + name,
				get: func() string { return s.Env[name] }, set: func(v string) { s.Env[name] = v }})
		}
		if s.Ready != "" {
			out = append(out, str("publisher.start.ready", &s.Ready, false, true))
		}
	}
	if p.Probe != nil && p.Probe.URL != "" {
		out = append(out, str("publisher.probe.url", &p.Probe.URL, true, true))
	}
	for _, a := range p.actions() {
		if a.action.URL != "" {
			out = append(out, str("publisher.actions."+a.name+".url", &a.action.URL, true, true))
		}
	}
	return out
}

type namedAction struct {
	name   string
	action *Action
}

// actions lists the configured actions by their YAML names.
func (p *Publisher) actions() []namedAction {
	if p.Actions == nil {
		return nil
	}
	var out []namedAction
	for _, a := range []namedAction{{"activate", p.Actions.Activate}, {"changePlan", p.Actions.ChangePlan}, {"changeQuantity", p.Actions.ChangeQuantity},
		{"cancel", p.Actions.Cancel}, {"reconcile", p.Actions.Reconcile}} {
		if a.action != nil {
			out = append(out, a)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// UsesPublisherPort reports whether any template uses {{.PublisherPort}}.
func (c *Config) UsesPublisherPort() bool {
	for _, t := range c.templates() {
		if portRE.MatchString(t.get()) {
			return true
		}
	}
	return false
}

// ResolvePort returns the port to render with: publisher.port when set, a
// free loopback port when templates use {{.PublisherPort}}, otherwise 0.
func (c *Config) ResolvePort() (int, error) {
	if c.Publisher.Port != 0 || !c.UsesPublisherPort() {
		return c.Publisher.Port, nil
	}
	return FreePort()
}

// Render returns a copy of c with the run's values filled in: the landing
// page, webhook, start command, environment and ready URL completely, and
// probe and action URLs as far as Vars go — they stay templates over SubVars,
// for RenderURL. A zero v.PublisherPort takes publisher.port.
func (c *Config) Render(v Vars) (*Config, error) {
	if v.PublisherPort == 0 {
		v.PublisherPort = c.Publisher.Port
	}
	if v.PublisherPort == 0 && c.UsesPublisherPort() {
		return nil, errors.New("target: render: the target uses {{.PublisherPort}} but no port was given (set publisher.port, or pass the port from ResolvePort)")
	}
	r := c.clone()
	r.Publisher.Port = v.PublisherPort
	var errs []error
	for _, t := range r.templates() {
		var out string
		var err error
		if t.sub {
			out, err = renderPartial(t.get(), v)
		} else {
			out, err = execute(t.path, t.get(), v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("target: render %s: %w", t.path, err))
			continue
		}
		t.set(out)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// RenderURL fills a probe or action URL (rendered or not) for one
// subscription.
func RenderURL(tmpl string, v Vars, s SubVars) (string, error) {
	return execute("url", tmpl, urlData{v, s})
}

func execute(name, text string, data any) (string, error) {
	t, err := parseTemplate(name, text, true)
	if err != nil {
		return "", err
	}
	return render(t, data)
}

// renderPartial executes the parts of a template that use only Vars and
// keeps the parts that use SubVars as template text.
func renderPartial(text string, v Vars) (string, error) {
	if !subVarRE.MatchString(text) {
		return execute("url", text, v)
	}
	t, err := parseTemplate("url", text, false)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range t.Root.Nodes {
		src := n.String()
		if subVarRE.MatchString(src) {
			b.WriteString(src)
			continue
		}
		out, err := execute("url", src, v)
		if err != nil {
			return "", err
		}
		// The result is parsed again by RenderURL: a value that happens to
		// contain "{{" must stay text.
		b.WriteString(strings.ReplaceAll(out, "{{", `{{"{{"}}`))
	}
	return b.String(), nil
}

// FreePort returns a loopback TCP port that was free a moment ago. Another
// process can take it before the publisher binds it; on a test machine that
// is rare enough.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("target: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// clone copies c deeply enough that rendering the copy leaves c alone.
func (c *Config) clone() *Config {
	r := *c
	r.Capabilities = append([]Capability(nil), c.Capabilities...)
	p := &r.Publisher
	if s := c.Publisher.Start; s != nil {
		cp := *s
		cp.Command = append([]string(nil), s.Command...)
		cp.Env = maps.Clone(s.Env)
		p.Start = &cp
	}
	if pr := c.Publisher.Probe; pr != nil {
		cp := *pr
		cp.StatusMap = maps.Clone(pr.StatusMap)
		p.Probe = &cp
	}
	if a := c.Publisher.Actions; a != nil {
		cp := Actions{}
		for _, f := range []struct{ dst, src **Action }{{&cp.Activate, &a.Activate}, {&cp.ChangePlan, &a.ChangePlan}, {&cp.ChangeQuantity, &a.ChangeQuantity},
			{&cp.Cancel, &a.Cancel}, {&cp.Reconcile, &a.Reconcile}} {
			if *f.src != nil {
				v := **f.src
				*f.dst = &v
			}
		}
		p.Actions = &cp
	}
	p.Rejects.Plans = append([]string(nil), c.Publisher.Rejects.Plans...)
	return &r
}
