package target

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// base is a minimal valid target; cases append to it from line 4 on.
const base = `publisher:
  landingPage: https://127.0.0.1:{{.PublisherPort}}/landing
  webhook: https://127.0.0.1:{{.PublisherPort}}/webhook
`

type wantErr struct {
	line    int
	field   string
	problem string // substring
	fix     string // substring
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []wantErr
	}{
		{"unknown key with suggestion", base + "  landng: {mode: http}\n",
			[]wantErr{{4, "publisher.landng", "unknown field", `did you mean "landing"?`}}},
		{"unknown key without a close one", base + "  zzzzzz: 1\n",
			[]wantErr{{4, "publisher.zzzzzz", "unknown field", "the fields here are landingPage, webhook, port,"}}},
		{"unknown nested key", base + "  start:\n    command: [x]\n    readyTimout: 5s\n",
			[]wantErr{{6, "publisher.start.readyTimout", "unknown field", `did you mean "readyTimeout"?`}}},
		{"unknown top-level key", base + "capabilites: [landing]\n",
			[]wantErr{{4, "capabilites", "unknown field", `did you mean "capabilities"?`}}},
		{"duration without unit", base + "timeouts: {flow: 30}\n",
			[]wantErr{{4, "timeouts.flow", "not a duration", "a unit is required"}}},
		{"duration in words", base + "  start:\n    command: [x]\n    stopTimeout: 5 seconds\n",
			[]wantErr{{6, "publisher.start.stopTimeout", "not a duration: text (5 seconds)", "Go duration"}}},
		{"negative duration", base + "identity: {tokenLifetime: -1h}\n",
			[]wantErr{{4, "identity.tokenLifetime", "not a positive duration", "leave it out for the default"}}},
		{"zero duration", base + "timeouts:\n  request: 0s\n",
			[]wantErr{{5, "timeouts.request", "not a positive duration", ""}}},
		{"relative URL", "publisher:\n  landingPage: /landing\n  webhook: https://x/webhook\n",
			[]wantErr{{2, "publisher.landingPage", `"/landing" is not an absolute http(s) URL`, "https://127.0.0.1:{{.PublisherPort}}/path"}}},
		{"wrong scheme", "publisher:\n  landingPage: https://x/l\n  webhook: ftp://x/webhook\n",
			[]wantErr{{3, "publisher.webhook", "not an absolute http(s) URL", ""}}},
		{"bad template syntax", "publisher:\n  landingPage: https://x:{{.PublisherPort/l\n  webhook: https://x/w\n",
			[]wantErr{{2, "publisher.landingPage", "bad template", "templates look like"}}},
		{"unknown template variable", "publisher:\n  landingPage: https://x:{{.PublisherPrt}}/l\n  webhook: https://x/w\n",
			[]wantErr{{2, "publisher.landingPage", "unknown template variable {{.PublisherPrt}}", `did you mean "PublisherPort"?`}}},
		{"unknown template variable far off", base + "  start:\n    command: [x]\n    env: {A: \"{{.Nonsense}}\"}\n",
			[]wantErr{{6, "publisher.start.env.A", "unknown template variable {{.Nonsense}}", "the variables are MarketplaceURL,"}}},
		{"per-subscription variable outside probe", "publisher:\n  landingPage: https://x/l/{{.SubscriptionID}}\n  webhook: https://x/w\n",
			[]wantErr{{2, "publisher.landingPage", "{{.SubscriptionID}} is only known per subscription", "publisher.probe.url"}}},
		{"unquoted template", base + "  start:\n    command: [x]\n    env:\n      URL: {{.MarketplaceURL}}\n",
			[]wantErr{{7, "publisher.start.env.URL", "expected text, got a mapping", `quote templates`}}},
		{"statusMap value", base + "  probe:\n    url: https://x/{{.SubscriptionID}}\n    fields: {status: $.s}\n    statusMap:\n      active: Active\n",
			[]wantErr{{8, "publisher.probe.statusMap.active", `"Active" is not a Microsoft subscription status`, `"PendingFulfillmentStart", "Subscribed", "Suspended" or "Unsubscribed"`}}},
		{"statusMap case", base + "  probe:\n    url: https://x/{{.SubscriptionID}}\n    fields: {status: $.s}\n    statusMap: {on: subscribed}\n",
			[]wantErr{{7, "publisher.probe.statusMap.on", "not a Microsoft subscription status", `did you mean "Subscribed"?`}}},
		{"probe without status", base + "  probe:\n    url: https://x/{{.SubscriptionID}}\n    fields: {planId: $.plan}\n",
			[]wantErr{{6, "publisher.probe.fields.status", "required", "$.state"}}},
		{"bad JSON path", base + "  probe:\n    url: https://x/{{.SubscriptionID}}\n    fields: {status: state}\n",
			[]wantErr{{6, "publisher.probe.fields.status", `"state" is not a JSON path`, "$.a.b"}}},
		{"bad GUID", base + "identity:\n  tenantId: contoso\n",
			[]wantErr{{5, "identity.tenantId", `"contoso" is not a GUID`, "leave it empty"}}},
		{"unknown capability", base + "capabilities: [landing, activte]\n",
			[]wantErr{{4, "capabilities[1]", `unknown capability "activte"`, `did you mean "activate"?`}}},
		{"capability twice", base + "capabilities:\n  - landing\n  - landing\n",
			[]wantErr{{6, "capabilities[1]", "listed twice", "list it once"}}},
		{"landing mode", base + "  landing: {mode: headless}\n",
			[]wantErr{{4, "publisher.landing.mode", `unknown mode "headless"`, `use "http" or "browser"`}}},
		{"token version", base + "identity: {tokenVersion: \"2\"}\n",
			[]wantErr{{4, "identity.tokenVersion", `unknown token version "2"`, `"v2"`}}},
		{"negative port", base + "  port: -1\n",
			[]wantErr{{4, "publisher.port", "-1 is not a TCP port", "0 to let the harness pick"}}},
		{"negative seats", base + "  rejects: {maxSeats: -5}\n",
			[]wantErr{{4, "publisher.rejects.maxSeats", "-5 is negative", "0 for no limit"}}},
		{"page size", base + "marketplace: {pageSize: 0}\n",
			[]wantErr{{4, "marketplace.pageSize", "0 is not a page size", ""}}},
		{"profile", base + "marketplace:\n  pageSize: 5\n  profile: prod\n",
			[]wantErr{{6, "marketplace.profile", `unknown profile "prod"`, `"strict" or "production"`}}},
		{"listen", base + "marketplace: {listen: localhost}\n",
			[]wantErr{{4, "marketplace.listen", `"localhost" is not host:port`, "127.0.0.1:0"}}},
		{"number that is text", base + "  port: eighty\n",
			[]wantErr{{4, "publisher.port", "not a whole number: text (eighty)", ""}}},
		{"missing landing page", "publisher:\n  webhook: https://x/w\n",
			[]wantErr{{1, "publisher.landingPage", "required", "?token="}}},
		{"missing publisher", "identity: {tokenVersion: v1}\n",
			[]wantErr{{0, "publisher", "required", "fixtures/targets/already-running.yaml"}}},
		{"empty command", base + "  start:\n    command: []\n",
			[]wantErr{{5, "publisher.start.command", "required", `["go", "run", "./examples/publisher"]`}}},
		{"missing command", base + "  start:\n    dir: app\n",
			[]wantErr{{4, "publisher.start.command", "required", ""}}},
		{"action method", base + "  actions:\n    cancel: {method: YANK, url: \"https://x/{{.SubscriptionID}}/cancel\"}\n",
			[]wantErr{{5, "publisher.actions.cancel.method", `unknown method "YANK"`, `"GET", "POST", "PUT", "PATCH" or "DELETE"`}}},
		{"action method case", base + "  actions:\n    cancel: {method: post, url: \"https://x/{{.SubscriptionID}}/cancel\"}\n",
			[]wantErr{{5, "publisher.actions.cancel.method", `unknown method "post"`, `did you mean "POST"?`}}},
		{"action without url", base + "  actions:\n    reconcile: {method: POST}\n",
			[]wantErr{{5, "publisher.actions.reconcile.url", "required", ""}}},
		{"empty rejected plan", base + "  rejects: {plans: [gold, \"\"]}\n",
			[]wantErr{{4, "publisher.rejects.plans[1]", "empty plan id", ""}}},
		{"key set twice", base + "  webhook: https://x/other\n",
			[]wantErr{{4, "publisher.webhook", "set twice (first at line 3)", "keep one"}}},
		{"list where text goes", base + "reports: {dir: [a, b]}\n",
			[]wantErr{{4, "reports.dir", "expected text, got a list", ""}}},
		{"mapping where a list goes", base + "capabilities: {landing: true}\n",
			[]wantErr{{4, "capabilities", "expected a list, got a mapping", ""}}},
		{"not YAML", base + "  start: [\n",
			[]wantErr{{4, "", "not valid YAML", "check indentation"}}},
		{"not a mapping", "just text\n",
			[]wantErr{{1, "", "expected a mapping, got text (just text)", "a target file is a mapping"}}},
		{"empty file", "# only a comment\n",
			[]wantErr{{0, "", "the file is empty", "fixtures/targets/"}}},
		// Issue 14, item 11: everything after a second "---" was ignored.
		{"second document", base + "---\npublisher:\n  landingPage: https://x/other\n",
			[]wantErr{{4, "", "a second YAML document", `remove this "---"`}}},
		{"second document, empty", base + "--- # the old one\n",
			[]wantErr{{4, "", "a second YAML document", `remove this "---"`}}},
		{"second and third documents", base + "---\na: 1\n---\nb: 2\n",
			[]wantErr{{4, "", "a second YAML document", ""}}},
		{"second document not YAML", base + "---\nstart: [\n",
			[]wantErr{{5, "", "not valid YAML", "check indentation"}}},
		{"second document and a problem in the first", base + "  port: -1\n---\ntimeouts: {flow: 1s}\n",
			[]wantErr{{4, "publisher.port", "not a TCP port", ""}, {5, "", "a second YAML document", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.doc), "target.yaml")
			if cfg != nil {
				t.Errorf("Parse returned a config with errors")
			}
			checkErrs(t, err, tt.want)
		})
	}
}

// checkErrs asserts err is Errors holding exactly want, in order.
func checkErrs(t *testing.T, err error, want []wantErr) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v (%T), want Errors", err, err)
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		e := errs[i]
		if e.Source != "target.yaml" || e.Line != w.line || e.Field != w.field ||
			!strings.Contains(e.Problem, w.problem) || !strings.Contains(e.Fix, w.fix) {
			t.Errorf("problem %d = %+v\nwant line %d field %q problem ~%q fix ~%q", i, *e, w.line, w.field, w.problem, w.fix)
		}
	}
}

// TestOneDocumentMarkers: the markers of a single document are not a
// second one.
func TestOneDocumentMarkers(t *testing.T) {
	for name, doc := range map[string]string{
		"leading ---":       "---\n" + base,
		"trailing ...":      base + "...\n",
		"both, and comment": "# target\n--- # start\n" + base + "... # end\n",
	} {
		if _, err := Parse([]byte(doc), "target.yaml"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	doc := `publisher:
  landingPage: https://127.0.0.1:8443/landing
  webhok: https://127.0.0.1:8443/webhook
  start:
    command: [./app]
    readyTimeout: soon
identity:
  clientId: not-a-guid
capabilities: [landing, teleport]
timeouts: {flow: -1s}
`
	_, err := Parse([]byte(doc), "target.yaml")
	checkErrs(t, err, []wantErr{
		{1, "publisher.webhook", "required", ""},
		{3, "publisher.webhok", "unknown field", `did you mean "webhook"?`},
		{6, "publisher.start.readyTimeout", "not a duration", ""},
		{8, "identity.clientId", "not a GUID", ""},
		{9, "capabilities[1]", "unknown capability", "the capabilities are"},
		{10, "timeouts.flow", "not a positive duration", ""},
	})
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("Error() has %d lines, want 6:\n%v", n, err)
	}
	// errors.As reaches the individual problems.
	var one *Error
	if !errors.As(err, &one) || one.Field != "publisher.webhook" {
		t.Errorf("errors.As(*Error) = %+v", one)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Source: "target.yaml", Line: 12, Field: "publisher.landng", Problem: "unknown field", Fix: `did you mean "landing"?`},
			`target.yaml:12: publisher.landng: unknown field — did you mean "landing"?`},
		{Error{Source: "t.yaml", Field: "publisher", Problem: "required"}, "t.yaml: publisher: required"},
		{Error{Line: 3, Problem: "not valid YAML"}, "line 3: not valid YAML"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"landingPage", "webhook", "landing", "start"}
	tests := []struct{ got, want string }{
		{"landng", `did you mean "landing"?`},
		{"LandingPage", `did you mean "landingPage"?`},
		{"webhok", `did you mean "webhook"?`},
		{"strat", `did you mean "start"?`},
		{"st", ""},
		{"completely", ""},
	}
	for _, tt := range tests {
		if got := didYouMean(tt.got, keys); got != tt.want {
			t.Errorf("didYouMean(%q) = %q, want %q", tt.got, got, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(base+"  start: {command: [x]}\n  actions:\n    cancel: {url: \"https://x/c\"}\n"), "dir/target.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"landing.mode": c.Publisher.Landing.Mode, "confirmForm": c.Publisher.Landing.ConfirmForm,
		"inheritEnv": c.Publisher.Start.InheritEnv, "readyTimeout": c.Publisher.Start.ReadyTimeout,
		"stopTimeout": c.Publisher.Start.StopTimeout, "action method": c.Publisher.Actions.Cancel.Method,
		"tokenLifetime": c.Identity.TokenLifetime, "tokenVersion": c.Identity.TokenVersion, "profile": c.Marketplace.Profile,
		"tls": c.Marketplace.TLS, "listen": c.Marketplace.Listen, "identityListen": c.Marketplace.IdentityListen,
		"pageSize": c.Marketplace.PageSize, "capabilities": len(c.Capabilities),
		"webhookAck": c.Timeouts.WebhookAck, "flow": c.Timeouts.Flow, "request": c.Timeouts.Request, "idle": c.Timeouts.Idle,
		"reports": c.ReportsDir(), "dir": c.Dir, "startDir": c.StartDir(), "offers": c.OffersPath(),
	}
	want := map[string]any{
		"landing.mode": "http", "confirmForm": true, "inheritEnv": true, "readyTimeout": 60 * time.Second,
		"stopTimeout": 5 * time.Second, "action method": "POST", "tokenLifetime": 2 * time.Second, "tokenVersion": "v2", "profile": "strict",
		"tls": true, "listen": "127.0.0.1:0", "identityListen": "127.0.0.1:0", "pageSize": 100, "capabilities": 14,
		"webhookAck": 10 * time.Second, "flow": 30 * time.Second, "request": 10 * time.Second, "idle": 2 * time.Second,
		"reports": filepath.Join("dir", "reports"), "dir": "dir", "startDir": "dir", "offers": "",
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s = %v, want %v", k, got[k], want[k])
			}
		}
	}

	d := Default()
	if d.Marketplace.PageSize != 100 || !d.Marketplace.TLS || len(d.Capabilities) != 14 || d.Timeouts.Flow != DefaultFlow {
		t.Errorf("Default() = %+v", d)
	}
}

// An explicit false or empty list is what the file says, not a default.
func TestExplicitValuesBeatDefaults(t *testing.T) {
	doc := base + `  landing: {confirmForm: false}
  start: {command: [x], inheritEnv: false, dir: app}
marketplace: {tls: false, pageSize: 7, offers: offers.yaml}
capabilities: [csp]
`
	c, err := Parse([]byte(doc), "/srv/t/target.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Publisher.Landing.ConfirmForm || c.Publisher.Start.InheritEnv || c.Marketplace.TLS || c.Marketplace.PageSize != 7 {
		t.Errorf("explicit values lost: %+v %+v %+v", c.Publisher.Landing, *c.Publisher.Start, c.Marketplace)
	}
	if len(c.Capabilities) != 1 || c.Has(CapLanding) {
		t.Errorf("capabilities = %v, want only csp", c.Capabilities)
	}
	// An empty list runs nothing: it is refused, naming the key.
	if _, err := Parse([]byte(base+"capabilities: []\n"), "t.yaml"); err == nil || !strings.Contains(err.Error(), "capabilities: the list is empty") {
		t.Errorf("capabilities: [] = %v, want a refusal naming the key", err)
	}
	if _, err := Parse([]byte(base+"  landing: {click: '#go'}\n"), "t.yaml"); err == nil || !strings.Contains(err.Error(), "needs a browser") {
		t.Errorf("click without browser mode = %v, want a refusal", err)
	}
	if c.StartDir() != "/srv/t/app" || c.OffersPath() != "/srv/t/offers.yaml" {
		t.Errorf("StartDir %q OffersPath %q", c.StartDir(), c.OffersPath())
	}
}

func TestHas(t *testing.T) {
	c, err := Parse([]byte(base+"capabilities: [landing, csp]\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range AllCapabilities() {
		want := k == CapLanding || k == CapCSP
		if c.Has(k) != want {
			t.Errorf("Has(%s) = %v, want %v", k, !want, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "target.yaml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "fixtures/targets/") {
		t.Errorf("Load(missing) = %v, want the path and a pointer to fixtures/targets/", err)
	}
}

func TestLoadChecksOffersFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "target.yaml")
	write := func(doc string) {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(base + "marketplace:\n  offers: my-offers.yaml\n")
	_, err := Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 5 || errs[0].Field != "marketplace.offers" {
		t.Fatalf("Load with missing offers = %v", err)
	}
	// Parse does not touch the file system.
	if _, err := Parse([]byte(base+"marketplace:\n  offers: my-offers.yaml\n"), path); err != nil {
		t.Errorf("Parse: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "my-offers.yaml"), []byte("offers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.OffersPath() != filepath.Join(dir, "my-offers.yaml") || c.Source != path {
		t.Errorf("OffersPath = %q, Source = %q", c.OffersPath(), c.Source)
	}
}

func TestFixturesLoad(t *testing.T) {
	files, err := filepath.Glob("../../fixtures/targets/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Render(sampleVars); err != nil {
				t.Errorf("Render: %v", err)
			}
		})
	}
}

// The reference target must tell the example publisher what it tells the
// suites: the refused plans and seat limit in its environment and in rejects.
func TestReferencePublisherFixture(t *testing.T) {
	c, err := Load("../../fixtures/targets/reference-publisher.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Publisher.Start
	if s == nil || strings.Join(s.Command, " ") != "go run ./examples/publisher" {
		t.Fatalf("start = %+v", s)
	}
	if _, err := os.Stat(filepath.Join(c.StartDir(), "go.mod")); err != nil {
		t.Errorf("start dir %s is not the module root: %v", c.StartDir(), err)
	}
	if got := s.Env["SAAS_REJECT_PLANS"]; got != strings.Join(c.Publisher.Rejects.Plans, ",") {
		t.Errorf("SAAS_REJECT_PLANS %q, rejects.plans %v", got, c.Publisher.Rejects.Plans)
	}
	if got := s.Env["SAAS_MAX_SEATS"]; got != strconv.FormatInt(c.Publisher.Rejects.MaxSeats, 10) {
		t.Errorf("SAAS_MAX_SEATS %q, rejects.maxSeats %d", got, c.Publisher.Rejects.MaxSeats)
	}
	for _, name := range []string{"SAAS_LISTEN", "SAAS_MARKETPLACE_URL", "SAAS_AUTHORITY_HOST", "SAAS_TENANT_ID",
		"SAAS_CLIENT_ID", "SAAS_CLIENT_SECRET", "SSL_CERT_FILE"} {
		if s.Env[name] == "" {
			t.Errorf("env %s missing", name)
		}
	}
	if c.Publisher.Probe == nil || c.Publisher.Actions == nil || len(c.Publisher.actions()) != 4 {
		t.Errorf("probe %+v actions %+v", c.Publisher.Probe, c.Publisher.Actions)
	}
	if !strings.HasPrefix(c.Publisher.Webhook, "http://") {
		t.Errorf("webhook %q: the example publisher serves plain HTTP", c.Publisher.Webhook)
	}
}

// The proxy's keys: read, defaulted, and refused where they make no sense.
func TestProxyKeys(t *testing.T) {
	c, err := Parse([]byte(base+`marketplace: {proxy: true, proxyPassthrough: [telemetry.example.com, "*.cdn.example"]}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Marketplace.Proxy || c.Marketplace.ProxyListen != DefaultListen || len(c.Marketplace.ProxyPassthrough) != 2 {
		t.Errorf("marketplace = %+v", c.Marketplace)
	}
	for doc, want := range map[string]string{
		base + "  start: {command: [x], env: {HTTPS_PROXY: \"{{.ProxyURL}}\"}}\n":               "{{.ProxyURL}} is set only with the proxy",
		base + "  start: {command: [x], env: {NODE_OPTIONS: \"--require {{.NodePreload}}\"}}\n": "{{.NodePreload}} is set only with the proxy",
		base + "marketplace: {proxy: true, proxyPassthrough: [\"https://x.example\"]}\n":        "is not a host name",
		base + "marketplace: {proxyPassthrough: [x.example]}\n":                                 "set without marketplace.proxy",
	} {
		if _, err := Parse([]byte(doc), "t.yaml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want …%s…", doc, err, want)
		}
	}
	c, err = Parse([]byte(base+`  start: {command: [x], env: {HTTPS_PROXY: "{{.ProxyURL}}", API: "{{.MarketplaceOrigin}}/api"}}
marketplace: {proxy: true}
`), "t.yaml")
	if err != nil {
		t.Fatalf("the proxy's variables with the proxy on: %v", err)
	}
	r, err := c.Render(Vars{MarketplaceURL: "https://m.example/api", MarketplaceOrigin: "https://m.example", ProxyURL: "http://127.0.0.1:9", PublisherPort: 8443})
	if err != nil {
		t.Fatal(err)
	}
	if r.Publisher.Start.Env["HTTPS_PROXY"] != "http://127.0.0.1:9" || r.Publisher.Start.Env["API"] != "https://m.example/api" {
		t.Errorf("rendered %v, %v", r.Publisher.Start.Env, err)
	}
}

// TestTemplatesCannotLoop: templates in a target file fill in values. A
// loop or a recursive template kept Parse (and every render) busy for as
// long as the file asked — {{range 100000000000}} is hours — and printf
// widths multiplied into gigabytes; each is refused, promptly, at its line.
func TestTemplatesCannotLoop(t *testing.T) {
	tests := []struct {
		name, value, problem string
	}{
		{"range over a number", `https://x/{{range 100000000000}}{{end}}`, "{{range}} is not allowed"},
		{"range with break", `https://x/{{range 100000000000}}{{break}}{{end}}`, "{{range}} is not allowed"},
		{"recursive define", `https://x/{{define "a"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}`, "{{define}}, {{block}}"},
		{"block", `https://x/{{block "b" .}}{{template "b" .}}{{end}}`, "{{block}} and {{template}} are not allowed"},
		{"wide printf", `https://x/` + strings.Repeat(`{{printf "%0999999d" 0}}`, 2000), "renders to more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "publisher:\n  landingPage: " + strconv.Quote(tt.value) + "\n  webhook: https://x/w\n"
			done := make(chan error, 1)
			go func() {
				_, err := Parse([]byte(doc), "target.yaml")
				done <- err
			}()
			select {
			case err := <-done:
				checkErrs(t, err, []wantErr{{2, "publisher.landingPage", tt.problem, "templates here only fill in values"}})
			case <-time.After(5 * time.Second):
				t.Fatal("Parse still running after 5 s")
			}
		})
	}
	// A run renders probe and action URLs again, per subscription.
	if _, err := RenderURL(`https://x/{{range 100000000000}}{{end}}`, sampleVars, sampleSub); err == nil ||
		!strings.Contains(err.Error(), "{{range}} is not allowed") {
		t.Errorf("RenderURL with a loop: %v", err)
	}
	// What templates are for still works: values, pipes, if/with/else.
	ok := "publisher:\n  landingPage: \"https://x:{{.PublisherPort}}/{{if .ClientID}}p{{else}}d{{end}}/{{.TenantID | urlquery}}\"\n  webhook: https://x/w\n"
	if _, err := Parse([]byte(ok), "target.yaml"); err != nil {
		t.Errorf("plain templates refused: %v", err)
	}
}
