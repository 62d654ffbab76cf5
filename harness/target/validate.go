package target

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// statuses are Microsoft's subscription statuses, the only values a probe's
// statusMap may translate to.
var statuses = []string{"PendingFulfillmentStart", "Subscribed", "Suspended", "Unsubscribed"}

// methods are the HTTP methods an action may use.
var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// checker collects every problem with one file.
type checker struct {
	source string
	ix     *index
	errs   Errors
	failed map[string]bool // paths that already have a problem
}

// add records a problem at path unless path (or a parent of it) already has
// one: a value that did not decode should not also be "missing".
func (k *checker) add(path, problem, fix string) {
	for p := path; ; p = parent(p) {
		if k.failed[p] {
			return
		}
		if p == "" {
			break
		}
	}
	k.failed[path] = true
	k.errs = append(k.errs, &Error{Source: k.source, Line: k.ix.line(path), Field: path, Problem: problem, Fix: fix})
}

var (
	guidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	jsonPathRE = regexp.MustCompile(`^\$(\.[^.\[\]]+|\[[0-9]+\])+$`)
	envNameRE  = regexp.MustCompile(`^[^=\x00]+$`)
	fieldRE    = regexp.MustCompile(`can't evaluate field (\w+)`)
)

func (k *checker) validate(c *Config) {
	p := &c.Publisher
	if !k.ix.has("publisher") {
		k.add("publisher", "required", "say where the app's landing page and webhook are (see fixtures/targets/already-running.yaml)")
	}
	k.required("publisher.landingPage", p.LandingPage, "e.g. https://127.0.0.1:8443/landing — the harness appends ?token=")
	k.required("publisher.webhook", p.Webhook, "e.g. https://127.0.0.1:8443/webhook")
	if p.Port < 0 || p.Port > 65535 {
		k.add("publisher.port", fmt.Sprintf("%d is not a TCP port", p.Port), "use 1–65535, or 0 to let the harness pick one for {{.PublisherPort}}")
	}
	if !slices.Contains([]string{LandingHTTP, LandingBrowser}, p.Landing.Mode) {
		k.add("publisher.landing.mode", fmt.Sprintf("unknown mode %q", p.Landing.Mode), k.choose(p.Landing.Mode, []string{LandingHTTP, LandingBrowser}))
	}

	if s := p.Start; s != nil {
		if len(s.Command) == 0 || strings.TrimSpace(s.Command[0]) == "" {
			k.add("publisher.start.command", "required: the program to run and its arguments",
				`e.g. command: ["go", "run", "./examples/publisher"]`)
		}
		for name := range s.Env {
			if !envNameRE.MatchString(name) {
				k.add("publisher.start.env."+name, "not an environment variable name", "names cannot contain = or be empty")
			}
		}
		k.positive("publisher.start.readyTimeout", s.ReadyTimeout)
		k.positive("publisher.start.stopTimeout", s.StopTimeout)
	}

	if pr := p.Probe; pr != nil {
		k.required("publisher.probe.url", pr.URL, "e.g. https://127.0.0.1:8443/admin/subscriptions/{{.SubscriptionID}}")
		k.required("publisher.probe.fields.status", pr.Fields.Status, `the JSON path of the publisher's status, e.g. "$.state"`)
		for name, path := range pr.Fields.Map() {
			if !jsonPathRE.MatchString(path) {
				k.add("publisher.probe.fields."+name, fmt.Sprintf("%q is not a JSON path this harness reads", path),
					`write $.name, $.a.b or $.items[0].b`)
			}
		}
		for _, word := range sortedKeys(pr.StatusMap) {
			if st := pr.StatusMap[word]; !slices.Contains(statuses, st) {
				k.add("publisher.probe.statusMap."+word, fmt.Sprintf("%q is not a Microsoft subscription status", st), k.choose(st, statuses))
			}
		}
	}

	for _, a := range p.actions() {
		path := "publisher.actions." + a.name
		k.required(path+".url", a.action.URL, "the publisher endpoint that makes it act")
		if !slices.Contains(methods, a.action.Method) {
			k.add(path+".method", fmt.Sprintf("unknown method %q", a.action.Method), k.choose(a.action.Method, methods))
		}
	}

	for i, plan := range p.Rejects.Plans {
		if strings.TrimSpace(plan) == "" {
			k.add(fmt.Sprintf("publisher.rejects.plans[%d]", i), "empty plan id", "write the plan id the publisher refuses")
		}
	}
	if p.Rejects.MaxSeats < 0 {
		k.add("publisher.rejects.maxSeats", fmt.Sprintf("%d is negative", p.Rejects.MaxSeats), "write the largest quantity the publisher sells, or 0 for no limit")
	}

	id := c.Identity
	k.guid("identity.tenantId", id.TenantID)
	k.guid("identity.clientId", id.ClientID)
	k.positive("identity.tokenLifetime", id.TokenLifetime)
	if id.TokenVersion != TokenV1 && id.TokenVersion != TokenV2 {
		k.add("identity.tokenVersion", fmt.Sprintf("unknown token version %q", id.TokenVersion), k.choose(id.TokenVersion, []string{TokenV1, TokenV2}))
	}

	m := c.Marketplace
	k.listen("marketplace.listen", m.Listen)
	k.listen("marketplace.identityListen", m.IdentityListen)
	k.listen("marketplace.proxyListen", m.ProxyListen)
	for i, h := range m.ProxyPassthrough {
		if h == "" || strings.ContainsAny(h, "/: ") {
			k.add(fmt.Sprintf("marketplace.proxyPassthrough[%d]", i), fmt.Sprintf("%q is not a host name", h),
				"write a bare host name such as api.example.com, or *.example.com for its subdomains")
		}
	}
	if len(m.ProxyPassthrough) > 0 && !m.Proxy {
		k.add("marketplace.proxyPassthrough", "set without marketplace.proxy", "set marketplace.proxy: true, or remove the list")
	}
	if profiles := []string{ProfileStrict, ProfileProduction}; !slices.Contains(profiles, m.Profile) {
		k.add("marketplace.profile", fmt.Sprintf("unknown profile %q", m.Profile), k.choose(m.Profile, profiles))
	}
	if m.PageSize <= 0 {
		k.add("marketplace.pageSize", fmt.Sprintf("%d is not a page size", m.PageSize), "write a positive number (Microsoft pages by 100)")
	}

	valid := make([]string, 0, len(AllCapabilities()))
	for _, c := range AllCapabilities() {
		valid = append(valid, string(c))
	}
	seen := map[Capability]int{}
	for i, cp := range c.Capabilities {
		path := fmt.Sprintf("capabilities[%d]", i)
		first, dup := seen[cp]
		switch {
		case !slices.Contains(valid, string(cp)):
			fix := didYouMean(string(cp), valid)
			if fix == "" {
				fix = "the capabilities are " + strings.Join(valid, ", ")
			}
			k.add(path, fmt.Sprintf("unknown capability %q", cp), fix)
		case dup:
			k.add(path, fmt.Sprintf("%q listed twice (first as item %d)", cp, first+1), "list it once")
		default:
			seen[cp] = i
		}
	}

	if len(c.Capabilities) == 0 {
		k.add("capabilities", "the list is empty: no spec can run", "list what the app supports, or leave the key out for all of them")
	}
	if c.Publisher.Landing.Click != "" && c.Publisher.Landing.Mode != LandingBrowser {
		k.add("publisher.landing.click", "a selector to press needs a browser", "set publisher.landing.mode: browser, or remove click")
	}

	k.positive("timeouts.webhookAck", c.Timeouts.WebhookAck)
	k.positive("timeouts.flow", c.Timeouts.Flow)
	k.positive("timeouts.request", c.Timeouts.Request)
	k.positive("timeouts.idle", c.Timeouts.Idle)
	if strings.TrimSpace(c.Reports.Dir) == "" {
		k.add("reports.dir", "empty", `write a folder, e.g. "reports"`)
	}

	for _, t := range c.templates() {
		k.template(t)
		if m := proxyVarRE.FindString(t.get()); m != "" && !c.Marketplace.Proxy {
			k.add(t.path, fmt.Sprintf("{{%s}} is set only with the proxy", m), "set marketplace.proxy: true")
		}
	}
}

// proxyVarRE spots the variables that have a value only with the proxy.
var proxyVarRE = regexp.MustCompile(`\.(ProxyURL|NodePreload)\b`)

func (k *checker) required(path, value, fix string) {
	if strings.TrimSpace(value) == "" {
		k.add(path, "required", fix)
	}
}

func (k *checker) positive(path string, d time.Duration) {
	if d <= 0 {
		k.add(path, fmt.Sprintf("%s is not a positive duration", d), "write a Go duration such as 500ms, 10s or 1m, or leave it out for the default")
	}
}

func (k *checker) guid(path, v string) {
	if v != "" && !guidRE.MatchString(v) {
		k.add(path, fmt.Sprintf("%q is not a GUID", v), "write xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, or leave it empty to generate one per run")
	}
}

func (k *checker) listen(path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = fmt.Errorf("port %d out of range", n)
		}
	}
	if err != nil {
		k.add(path, fmt.Sprintf("%q is not host:port", addr), "write e.g. 127.0.0.1:0 (0 picks a free port)")
	}
}

// choose is the fix for a value outside a closed set.
func (k *checker) choose(got string, choices []string) string {
	if s := didYouMean(got, choices); s != "" {
		return s
	}
	return "use " + oneOf(choices)
}

// sample values stand in for the run's values when checking templates.
var (
	sampleVars = Vars{MarketplaceURL: "https://127.0.0.1:1/api", MarketplaceOrigin: "https://127.0.0.1:1", AuthorityURL: "https://127.0.0.1:2",
		ProxyURL: "http://127.0.0.1:3", NodePreload: "/tmp/saasconform-node-preload.cjs",
		TenantID: "00000000-0000-0000-0000-000000000001", ClientID: "00000000-0000-0000-0000-000000000002",
		ClientSecret: "secret", CAFile: "/tmp/ca.pem", PublisherPort: 8443}
	sampleSub = SubVars{SubscriptionID: "00000000-0000-0000-0000-000000000003", PlanID: "plan", Quantity: 5}
)

// template checks one templated value by executing it with sample values:
// that finds syntax errors and unknown variables the way a run would.
func (k *checker) template(t templated) {
	text := t.get()
	var data any = sampleVars
	if t.sub {
		data = urlData{sampleVars, sampleSub}
	}
	tmpl, err := parseTemplate(t.path, text, true)
	var limit *limitError
	switch {
	case errors.As(err, &limit):
		k.add(t.path, limit.problem, templateFix)
		return
	case err != nil:
		k.add(t.path, "bad template: "+trimTemplateErr(err, t.path), "templates look like {{.PublisherPort}}")
		return
	}
	rendered, err := render(tmpl, data)
	if err != nil {
		m := fieldRE.FindStringSubmatch(err.Error())
		switch {
		case errors.Is(err, errTooLong):
			k.add(t.path, errTooLong.Error(), templateFix)
		case m != nil && slices.Contains(varNames, m[1]):
			k.add(t.path, fmt.Sprintf("{{.%s}} is only known per subscription", m[1]), "use it in publisher.probe.url and publisher.actions.*.url only")
		case m != nil:
			fix := didYouMean(m[1], varNames)
			if fix == "" {
				fix = "the variables are " + strings.Join(varNames, ", ")
			}
			k.add(t.path, fmt.Sprintf("unknown template variable {{.%s}}", m[1]), fix)
		default:
			k.add(t.path, "template fails: "+trimTemplateErr(err, t.path), "")
		}
		return
	}
	if t.url {
		k.url(t.path, text, rendered)
	}
}

// trimTemplateErr drops text/template's "template: NAME:" prefix; the field
// is already named.
func trimTemplateErr(err error, name string) string {
	return strings.TrimPrefix(err.Error(), "template: "+name+":")
}

func (k *checker) url(path, text, rendered string) {
	u, err := url.Parse(rendered)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return
	}
	k.add(path, fmt.Sprintf("%q is not an absolute http(s) URL", text), "write it like https://127.0.0.1:{{.PublisherPort}}/path")
}
