package target

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

const renderDoc = `publisher:
  landingPage: https://127.0.0.1:{{.PublisherPort}}/landing
  webhook: https://127.0.0.1:{{.PublisherPort}}/webhook?tenant={{.TenantID}}
  start:
    command: [./app, --port, "{{.PublisherPort}}"]
    env:
      API: "{{.MarketplaceURL}}"
      AUTH: "{{.AuthorityURL}}/{{.TenantID}}"
      CLIENT: "{{.ClientID}}:{{.ClientSecret}}"
      CA: "{{.CAFile}}"
      PLAIN: fixed
    ready: https://127.0.0.1:{{.PublisherPort}}/healthz
  probe:
    url: https://127.0.0.1:{{.PublisherPort}}/admin/subscriptions/{{.SubscriptionID}}
    fields: {status: $.state}
  actions:
    changePlan: {url: "https://127.0.0.1:{{.PublisherPort}}/s/{{.SubscriptionID}}/plan?to={{.PlanID | urlquery}}"}
    changeQuantity: {url: "https://127.0.0.1:{{.PublisherPort}}/s/{{.SubscriptionID}}/seats?to={{.Quantity}}&c={{.ClientSecret}}"}
    reconcile: {url: "{{.MarketplaceURL}}/reconcile"}
`

var runVars = Vars{MarketplaceURL: "https://127.0.0.1:9001/api", AuthorityURL: "https://127.0.0.1:9002",
	TenantID: "tid", ClientID: "cid", ClientSecret: "s{{e}}cret", CAFile: "/run/ca.pem", PublisherPort: 8443}

func TestRender(t *testing.T) {
	c, err := Parse([]byte(renderDoc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Render(runVars)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"landingPage": r.Publisher.LandingPage,
		"webhook":     r.Publisher.Webhook,
		"command":     strings.Join(r.Publisher.Start.Command, " "),
		"API":         r.Publisher.Start.Env["API"],
		"AUTH":        r.Publisher.Start.Env["AUTH"],
		"CLIENT":      r.Publisher.Start.Env["CLIENT"],
		"CA":          r.Publisher.Start.Env["CA"],
		"PLAIN":       r.Publisher.Start.Env["PLAIN"],
		"ready":       r.Publisher.Start.Ready,
		"probe":       r.Publisher.Probe.URL,
		"reconcile":   r.Publisher.Actions.Reconcile.URL,
		"port":        strconv.Itoa(r.Publisher.Port),
	}
	want := map[string]string{
		"landingPage": "https://127.0.0.1:8443/landing",
		"webhook":     "https://127.0.0.1:8443/webhook?tenant=tid",
		"command":     "./app --port 8443",
		"API":         "https://127.0.0.1:9001/api",
		"AUTH":        "https://127.0.0.1:9002/tid",
		"CLIENT":      "cid:s{{e}}cret",
		"CA":          "/run/ca.pem",
		"PLAIN":       "fixed",
		"ready":       "https://127.0.0.1:8443/healthz",
		"probe":       "https://127.0.0.1:8443/admin/subscriptions/{{.SubscriptionID}}",
		"reconcile":   "https://127.0.0.1:9001/api/reconcile",
		"port":        "8443",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	// The original stays a template.
	if c.Publisher.Start.Env["API"] != "{{.MarketplaceURL}}" || c.Publisher.Start.Command[2] != "{{.PublisherPort}}" {
		t.Errorf("Render changed the original: %+v", *c.Publisher.Start)
	}

	// Per-subscription parts are filled later, from the rendered config
	// or the original alike.
	sub := SubVars{SubscriptionID: "sub-1", PlanID: "gold plan", Quantity: 12}
	urls := []struct{ name, tmpl, want string }{
		{"probe", r.Publisher.Probe.URL, "https://127.0.0.1:8443/admin/subscriptions/sub-1"},
		{"changePlan", r.Publisher.Actions.ChangePlan.URL, "https://127.0.0.1:8443/s/sub-1/plan?to=gold+plan"},
		{"changeQuantity", r.Publisher.Actions.ChangeQuantity.URL, "https://127.0.0.1:8443/s/sub-1/seats?to=12&c=s{{e}}cret"},
		{"changeQuantity from the original", c.Publisher.Actions.ChangeQuantity.URL, "https://127.0.0.1:8443/s/sub-1/seats?to=12&c=s{{e}}cret"},
	}
	for _, u := range urls {
		got, err := RenderURL(u.tmpl, runVars, sub)
		if err != nil || got != u.want {
			t.Errorf("RenderURL(%s) = %q, %v; want %q", u.name, got, err, u.want)
		}
	}
}

func TestRenderPort(t *testing.T) {
	fixed, err := Parse([]byte(base+"  port: 9443\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := fixed.Render(Vars{})
	if err != nil || r.Publisher.LandingPage != "https://127.0.0.1:9443/landing" {
		t.Errorf("Render with publisher.port: %v %v", r, err)
	}
	if p, err := fixed.ResolvePort(); p != 9443 || err != nil {
		t.Errorf("ResolvePort = %d, %v; want the configured 9443", p, err)
	}

	free, err := Parse([]byte(base), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := free.Render(Vars{}); err == nil || !strings.Contains(err.Error(), "ResolvePort") {
		t.Errorf("Render without a port = %v, want an error pointing at ResolvePort", err)
	}
	p, err := free.ResolvePort()
	if err != nil || p == 0 {
		t.Fatalf("ResolvePort = %d, %v; want a free port", p, err)
	}

	none, err := Parse([]byte("publisher: {landingPage: https://x/l, webhook: https://x/w}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if none.UsesPublisherPort() {
		t.Error("UsesPublisherPort = true for a target without the variable")
	}
	if p, err := none.ResolvePort(); p != 0 || err != nil {
		t.Errorf("ResolvePort = %d, %v; want 0 when nothing uses it", p, err)
	}
	if _, err := none.Render(Vars{}); err != nil {
		t.Errorf("Render: %v", err)
	}
}

func TestRenderURLErrors(t *testing.T) {
	for _, tmpl := range []string{"https://x/{{.Nope}}", "https://x/{{.SubscriptionID"} {
		if got, err := RenderURL(tmpl, runVars, SubVars{}); err == nil {
			t.Errorf("RenderURL(%q) = %q, want an error", tmpl, got)
		}
	}
}

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	if err != nil || p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d, %v", p, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	l.Close()
}
