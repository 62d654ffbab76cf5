package app

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func required() map[string]string {
	return map[string]string{
		"SAAS_TENANT_ID":     "e8728853-f85e-47e5-9e8e-55b5e37c3b94",
		"SAAS_CLIENT_ID":     "7cf2c6dc-2190-468e-9dab-771cd7511a35",
		"SAAS_CLIENT_SECRET": "s3cret",
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := ConfigFromEnv(env(required()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen || cfg.MarketplaceURL != DefaultMarketplaceURL || cfg.AuthorityHost != DefaultAuthorityHost ||
		cfg.SlowWebhook != DefaultSlowWebhook || cfg.PollInterval != DefaultPollInterval || cfg.PollTimeout != DefaultPollTimeout ||
		cfg.Mistake != NoMistake || cfg.MaxSeats != 0 || len(cfg.RejectPlans) != 0 {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestConfigValues(t *testing.T) {
	m := required()
	m["SAAS_MARKETPLACE_URL"] = "https://127.0.0.1:9443/api/"
	m["SAAS_REJECT_PLANS"] = " gold , ,silver"
	m["SAAS_MAX_SEATS"] = "25"
	m["SAAS_POLL_INTERVAL"] = "5ms"
	m["SAAS_MISTAKE"] = "v1-api"
	m["SAAS_TLS_CERT"], m["SAAS_TLS_KEY"] = "c.pem", "k.pem"
	cfg, err := ConfigFromEnv(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MarketplaceURL != "https://127.0.0.1:9443/api" || strings.Join(cfg.RejectPlans, "|") != "gold|silver" ||
		cfg.MaxSeats != 25 || cfg.PollInterval != 5*time.Millisecond || cfg.Mistake != V1API {
		t.Fatalf("%+v", cfg)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for _, c := range []struct {
		set  map[string]string
		drop string
		want string
	}{
		{drop: "SAAS_TENANT_ID", want: "SAAS_TENANT_ID"},
		{drop: "SAAS_CLIENT_ID", want: "SAAS_CLIENT_ID"},
		{drop: "SAAS_CLIENT_SECRET", want: "SAAS_CLIENT_SECRET"},
		{set: map[string]string{"SAAS_TLS_CERT": "c.pem"}, want: "SAAS_TLS_KEY"},
		{set: map[string]string{"SAAS_MAX_SEATS": "lots"}, want: "SAAS_MAX_SEATS"},
		{set: map[string]string{"SAAS_MAX_SEATS": "-1"}, want: "SAAS_MAX_SEATS"},
		{set: map[string]string{"SAAS_POLL_TIMEOUT": "soon"}, want: "SAAS_POLL_TIMEOUT"},
		{set: map[string]string{"SAAS_SLOW_WEBHOOK": "-1s"}, want: "SAAS_SLOW_WEBHOOK"},
		{set: map[string]string{"SAAS_MARKETPLACE_URL": "marketplace.local"}, want: "SAAS_MARKETPLACE_URL"},
		{set: map[string]string{"SAAS_AUTHORITY_HOST": "ftp://x"}, want: "SAAS_AUTHORITY_HOST"},
		{set: map[string]string{"SAAS_MISTAKE": "be-sloppy"}, want: "SAAS_MISTAKE"},
	} {
		m := required()
		delete(m, c.drop)
		for k, v := range c.set {
			m[k] = v
		}
		_, err := ConfigFromEnv(env(m))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want one naming %s", c, err, c.want)
		}
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "SAAS_CLIENT_SECRET") {
		t.Errorf("New(Config{}) = %v", err)
	}
}

func TestMistakeTable(t *testing.T) {
	seen := map[Mistake]bool{}
	for _, m := range Mistakes {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		got, err := ParseMistake(string(m.Name))
		if err != nil || got != m.Name {
			t.Errorf("ParseMistake(%s) = %q, %v", m.Name, got, err)
		}
		// The contract's mistakes carry their MISTAKE id; extra switches "—".
		if !(strings.HasPrefix(m.ID, "MISTAKE-") || m.ID == "—") || m.Rules == "" || m.Description == "" || m.Seen == "" {
			t.Errorf("%s: incomplete entry %+v", m.Name, m)
		}
	}
	if len(Mistakes) != 38 {
		t.Errorf("%d mistakes, want 38", len(Mistakes))
	}
	for _, m := range Mistakes {
		if p := m.Name.Profile(); p != "" && p != "production" {
			t.Errorf("%s: profile %q is not a marketplace profile", m.Name, p)
		}
	}
	if NoRetryOnTransient.Profile() != "production" || DecodeTokenTwice.Profile() != "" {
		t.Error("only the production-only mistakes name a profile")
	}
	if m, err := ParseMistake(""); err != nil || m != NoMistake {
		t.Errorf("empty: %q %v", m, err)
	}
	_, err := ParseMistake("decode-token-thrice")
	if err == nil || !strings.Contains(err.Error(), "decode-token-twice") || !strings.Contains(err.Error(), "resolve-from-browser") {
		t.Errorf("unknown name error %v does not list the valid names", err)
	}
	// The README's table is written from this one: every switch is there.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Mistakes {
		if !strings.Contains(string(readme), "`"+string(m.Name)+"`") {
			t.Errorf("README.md does not list %s", m.Name)
		}
	}
}

func TestMemoryStore(t *testing.T) {
	s := NewMemoryStore()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	seats := int64(3)
	s.SaveAccount(Account{SubscriptionID: "a", CustomerTenant: "t", Seats: &seats, State: StatePending})
	seats = 99 // the store keeps its own copy
	got, ok := s.Account("a")
	if !ok || *got.Seats != 3 || got.Updated != now {
		t.Fatalf("%+v %v", got, ok)
	}
	*got.Seats = 50
	if again, _ := s.Account("a"); *again.Seats != 3 {
		t.Fatal("Account returned shared memory")
	}
	if upd, ok := s.UpdateAccount("a", func(a *Account) { a.State = StateActive }); !ok || upd.State != StateActive {
		t.Fatalf("update: %+v", upd)
	}
	if _, ok := s.UpdateAccount("nope", func(*Account) { t.Fatal("called for unknown") }); ok {
		t.Fatal("update of unknown account")
	}

	s.SaveResolution(Resolution{SubscriptionID: "r", PlanID: "gold", Expires: now.Add(time.Minute)})
	if r, ok := s.Resolution("r"); !ok || r.PlanID != "gold" {
		t.Fatalf("%+v", r)
	}
	now = now.Add(2 * time.Minute)
	if _, ok := s.Resolution("r"); ok {
		t.Fatal("expired resolution returned")
	}
	s.SaveResolution(Resolution{SubscriptionID: "r2", Expires: now.Add(time.Minute)})
	s.DeleteResolution("r2")
	if _, ok := s.Resolution("r2"); ok {
		t.Fatal("deleted resolution returned")
	}
}

func TestIdempotency(t *testing.T) {
	s := NewMemoryStore()
	if !s.BeginOperation("sub", "op") {
		t.Fatal("first delivery refused")
	}
	if s.BeginOperation("sub", "op") {
		t.Fatal("duplicate accepted")
	}
	if !s.BeginOperation("other-sub", "op") {
		t.Fatal("ids are per subscription")
	}
	s.ForgetOperation("sub", "op")
	if !s.BeginOperation("sub", "op") {
		t.Fatal("a failed operation cannot be retried")
	}
}

func TestRejectionPolicy(t *testing.T) {
	p := newPolicy(Config{RejectPlans: []string{"Gold"}, MaxSeats: 10})
	q := func(n int64) *int64 { return &n }
	for _, c := range []struct {
		op     operation
		reject bool
	}{
		{operation{Action: actionChangePlan, PlanID: "gold"}, true},
		{operation{Action: actionChangePlan, PlanID: "silver"}, false},
		{operation{Action: actionChangePlan, PlanID: "silver", Quantity: q(11)}, true},
		{operation{Action: actionChangeQuantity, Quantity: q(10)}, false},
		{operation{Action: actionChangeQuantity, Quantity: q(11)}, true},
		{operation{Action: actionSuspend, PlanID: "gold"}, false}, // cannot be refused
		{operation{Action: actionReinstate, Quantity: q(1000)}, false},
	} {
		if got := p.check(c.op) != ""; got != c.reject {
			t.Errorf("%+v: reject = %v, want %v", c.op, got, c.reject)
		}
	}
	if none := newPolicy(Config{}); none.check(operation{Action: actionChangeQuantity, Quantity: q(1 << 40)}) != "" {
		t.Error("MaxSeats 0 must mean no limit")
	}
}

func TestStateMapping(t *testing.T) {
	for in, want := range map[string]State{
		statusPending: StatePending, statusSubscribed: StateActive, statusSuspended: StateSuspended,
		statusUnsubscribed: StateCancelled, "NotStarted": StatePending,
	} {
		if got := stateFor(in); got != want {
			t.Errorf("stateFor(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestUnverifiedClaimsPicksVersion(t *testing.T) {
	for _, c := range []struct {
		claims jwtClaims
		want   tokenVersion
	}{
		{jwtClaims{Ver: "2.0"}, tokenV2},
		{jwtClaims{Ver: "1.0"}, tokenV1},
		{jwtClaims{Iss: "https://login.microsoftonline.com/t/v2.0"}, tokenV2},
		{jwtClaims{Iss: "https://sts.windows.net/t/"}, tokenV1},
	} {
		if got := c.claims.version(); got != c.want {
			t.Errorf("%+v: %d, want %d", c.claims, got, c.want)
		}
	}
	if _, err := unverifiedClaims("a.b"); err == nil {
		t.Error("two-part token accepted")
	}
	w := &webhookAuth{authority: DefaultAuthorityHost}
	if got := w.issuerFor("t", tokenV1); got != "https://sts.windows.net/t/" {
		t.Errorf("Azure v1 issuer %s", got)
	}
	if got := w.issuerFor("t", tokenV2); got != "https://login.microsoftonline.com/t/v2.0" {
		t.Errorf("Azure v2 issuer %s", got)
	}
}
