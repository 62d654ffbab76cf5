package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults for the optional settings.
const (
	DefaultListen         = "127.0.0.1:8443"
	DefaultMarketplaceURL = "https://marketplaceapi.microsoft.com/api"
	DefaultAuthorityHost  = "https://login.microsoftonline.com"
	DefaultSlowWebhook    = 12 * time.Second
	DefaultPollInterval   = 100 * time.Millisecond
	DefaultPollTimeout    = 30 * time.Second
)

// Config is everything the publisher needs to know. ConfigFromEnv fills it
// from the environment; tests and in-process users may build it directly.
type Config struct {
	// Listen is the host:port the server binds (SAAS_LISTEN).
	Listen string
	// TLSCert and TLSKey are PEM files; both or neither (plain HTTP).
	TLSCert, TLSKey string

	// MarketplaceURL is the Fulfillment API base including /api
	// (SAAS_MARKETPLACE_URL), without a trailing slash.
	MarketplaceURL string
	// AuthorityHost is Entra ID's authority host (SAAS_AUTHORITY_HOST),
	// without a trailing slash.
	AuthorityHost string

	// TenantID, ClientID and ClientSecret are the app registration named in
	// Partner Center's technical configuration. The client id is also the
	// audience of the tokens Microsoft sends to the webhook.
	TenantID, ClientID, ClientSecret string

	// Mistake turns on one deliberate integration mistake (see mistakes.go);
	// empty for the correct publisher.
	Mistake Mistake

	// RejectPlans lists the planIds a customer may not switch to: the
	// publisher answers such a ChangePlan with PATCH Failure.
	RejectPlans []string
	// MaxSeats refuses ChangeQuantity above this many seats; 0 = no limit.
	MaxSeats int64

	// SlowWebhook is how long the webhook-slow mistake waits.
	SlowWebhook time.Duration
	// PollInterval and PollTimeout govern following Operation-Location.
	PollInterval, PollTimeout time.Duration

	// HTTPClient, when set, is used for every outgoing call (Entra ID and
	// the marketplace). nil means a client with sensible timeouts over the
	// default transport, which trusts the system roots (and SSL_CERT_FILE).
	HTTPClient *http.Client
	// Logger, when set, receives the publisher's logs; nil logs to stderr.
	Logger *slog.Logger
}

// ConfigFromEnv reads the configuration from environment variables through
// getenv (os.Getenv in main). Errors name the variable at fault.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{
		Listen:         orDefault(get("SAAS_LISTEN"), DefaultListen),
		TLSCert:        get("SAAS_TLS_CERT"),
		TLSKey:         get("SAAS_TLS_KEY"),
		MarketplaceURL: strings.TrimSuffix(orDefault(get("SAAS_MARKETPLACE_URL"), DefaultMarketplaceURL), "/"),
		AuthorityHost:  strings.TrimSuffix(orDefault(get("SAAS_AUTHORITY_HOST"), DefaultAuthorityHost), "/"),
		TenantID:       get("SAAS_TENANT_ID"),
		ClientID:       get("SAAS_CLIENT_ID"),
		ClientSecret:   getenv("SAAS_CLIENT_SECRET"), // secrets are taken verbatim
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	m, err := ParseMistake(get("SAAS_MISTAKE"))
	if err != nil {
		bad("SAAS_MISTAKE", "%v", err)
	}
	cfg.Mistake = m

	for _, p := range strings.Split(get("SAAS_REJECT_PLANS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.RejectPlans = append(cfg.RejectPlans, p)
		}
	}
	if s := get("SAAS_MAX_SEATS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			bad("SAAS_MAX_SEATS", "want a whole number of seats (0 = no limit), got %q", s)
		}
		cfg.MaxSeats = n
	}
	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"SAAS_SLOW_WEBHOOK", &cfg.SlowWebhook, DefaultSlowWebhook},
		{"SAAS_POLL_INTERVAL", &cfg.PollInterval, DefaultPollInterval},
		{"SAAS_POLL_TIMEOUT", &cfg.PollTimeout, DefaultPollTimeout},
	}
	for _, d := range durations {
		*d.dst = d.def
		s := get(d.name)
		if s == "" {
			continue
		}
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			bad(d.name, "want a positive duration such as 100ms or 30s, got %q", s)
			continue
		}
		*d.dst = v
	}
	if err := cfg.validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// validate checks what New needs; ConfigFromEnv calls it too so every error
// names the environment variable.
func (c Config) validate() error {
	var errs []error
	for _, req := range []struct{ name, val string }{
		{"SAAS_TENANT_ID", c.TenantID},
		{"SAAS_CLIENT_ID", c.ClientID},
		{"SAAS_CLIENT_SECRET", c.ClientSecret},
	} {
		if req.val == "" {
			errs = append(errs, fmt.Errorf("%s: required (the app registration from Partner Center's technical configuration)", req.name))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("SAAS_TLS_CERT, SAAS_TLS_KEY: set both (HTTPS) or neither (plain HTTP)"))
	}
	for _, u := range []struct{ name, val string }{
		{"SAAS_MARKETPLACE_URL", c.MarketplaceURL},
		{"SAAS_AUTHORITY_HOST", c.AuthorityHost},
	} {
		if !strings.HasPrefix(u.val, "https://") && !strings.HasPrefix(u.val, "http://") {
			errs = append(errs, fmt.Errorf("%s: want an absolute http(s) URL, got %q", u.name, u.val))
		}
	}
	if _, err := ParseMistake(string(c.Mistake)); err != nil {
		errs = append(errs, fmt.Errorf("SAAS_MISTAKE: %w", err))
	}
	if c.MaxSeats < 0 {
		errs = append(errs, fmt.Errorf("SAAS_MAX_SEATS: must not be negative, got %d", c.MaxSeats))
	}
	return errors.Join(errs...)
}

// withDefaults fills in what a hand-built Config left empty.
func (c Config) withDefaults() Config {
	c.Listen = orDefault(c.Listen, DefaultListen)
	c.MarketplaceURL = strings.TrimSuffix(orDefault(c.MarketplaceURL, DefaultMarketplaceURL), "/")
	c.AuthorityHost = strings.TrimSuffix(orDefault(c.AuthorityHost, DefaultAuthorityHost), "/")
	// Entra ids are GUIDs; tokens carry them in lower case.
	c.TenantID = strings.ToLower(c.TenantID)
	c.ClientID = strings.ToLower(c.ClientID)
	if c.SlowWebhook <= 0 {
		c.SlowWebhook = DefaultSlowWebhook
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	return c
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
