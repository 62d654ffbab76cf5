package marketplace

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/violation"
)

// Option configures a Marketplace. An option given an invalid value makes New
// fail with an error that names the option.
type Option func(*config) error

// config is every knob of the fake, validated once by New.
type config struct {
	clock                    clock.Clock
	catalog                  *Catalog
	pageSize                 int
	tokenLifetime            time.Duration
	ackWindow                time.Duration
	operationLatency         time.Duration
	violations               *violation.Log
	basePath                 string
	baseURL                  string
	publisherID              string
	maxBodyBytes             int64
	partnerNotifications     bool
	outstandingOnlyReinstate bool
	journal                  Journal
	maxEvents                int
	profile                  profile.Profile
	// transient faults (transient.go); transientSet says an option chose
	// them, so WithProfile's defaults do not override the choice.
	transientPercent int
	transientSeed    uint64
	transientSet     bool
}

func defaultConfig() config {
	return config{
		clock:                    clock.Real{},
		pageSize:                 100,            // spec/README.md: the service's page size
		outstandingOnlyReinstate: true,           // spec/README.md: the docs say only Reinstate is listed today
		tokenLifetime:            24 * time.Hour, // CONTRACT D1: the docs' 24 h, not the OpenAPI text's 1 h
		ackWindow:                10 * time.Second,
		basePath:                 "/api",
		publisherID:              "contoso",
		maxBodyBytes:             1 << 20,
		partnerNotifications:     true,
		profile:                  profile.Strict,
	}
}

func optErr(name, format string, args ...any) error {
	return fmt.Errorf("marketplace: %s: %s", name, fmt.Sprintf(format, args...))
}

// WithClock sets the clock every time-dependent rule reads. Default clock.Real{}.
func WithClock(c clock.Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return optErr("WithClock", "clock is nil")
		}
		cfg.clock = c
		return nil
	}
}

// WithCatalog sets the offers and plans for sale. Default: fixtures/offers.yaml.
func WithCatalog(c *Catalog) Option {
	return func(cfg *config) error {
		if c == nil {
			return optErr("WithCatalog", "catalog is nil")
		}
		cfg.catalog = c
		return nil
	}
}

// WithPageSize sets how many subscriptions one list page holds. Default 100.
func WithPageSize(n int) Option {
	return func(cfg *config) error {
		if n < 1 {
			return optErr("WithPageSize", "page size must be at least 1, got %d", n)
		}
		cfg.pageSize = n
		return nil
	}
}

// WithTokenLifetime sets how long a purchase token resolves. Default 24h
// (CONTRACT D1); shorten it to test expiry handling.
func WithTokenLifetime(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return optErr("WithTokenLifetime", "lifetime must be positive, got %v", d)
		}
		cfg.tokenLifetime = d
		return nil
	}
}

// WithAckWindow sets how long a customer-initiated ChangePlan, ChangeQuantity
// or Reinstate waits for the publisher's PATCH before it is auto-accepted.
// Default 10s, as documented.
func WithAckWindow(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return optErr("WithAckWindow", "window must not be negative, got %v", d)
		}
		cfg.ackWindow = d
		return nil
	}
}

// WithOperationLatency sets how long a publisher-initiated operation (PATCH or
// DELETE subscription) stays InProgress. Default 0: it completes on the next
// call after the 202, so a publisher must poll at least once.
func WithOperationLatency(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return optErr("WithOperationLatency", "latency must not be negative, got %v", d)
		}
		cfg.operationLatency = d
		return nil
	}
}

// WithViolations sets the log violations are recorded in. Default: a new Log.
func WithViolations(l *violation.Log) Option {
	return func(cfg *config) error {
		if l == nil {
			return optErr("WithViolations", "log is nil")
		}
		cfg.violations = l
		return nil
	}
}

// WithBasePath sets the path prefix the API is served under. Default "/api";
// "" serves at the root.
func WithBasePath(p string) Option {
	return func(cfg *config) error {
		p = strings.TrimSuffix(p, "/")
		if p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#{} ") || strings.Contains(p, "//")) {
			return optErr("WithBasePath", "base path must start with / and be a plain path, got %q", p)
		}
		cfg.basePath = p
		return nil
	}
}

// WithBaseURL sets the absolute URL of the API base (e.g.
// "https://127.0.0.1:8443/api") used in Operation-Location and @nextLink.
// Default: derived from each request (scheme from TLS, Host, base path).
func WithBaseURL(s string) Option {
	return func(cfg *config) error {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return optErr("WithBaseURL", "want an absolute http(s) URL without query, got %q", s)
		}
		cfg.baseURL = strings.TrimSuffix(s, "/")
		return nil
	}
}

// WithPublisherID sets the publisherId of every subscription. Default "contoso".
func WithPublisherID(id string) Option {
	return func(cfg *config) error {
		if strings.TrimSpace(id) == "" {
			return optErr("WithPublisherID", "publisher id is empty")
		}
		cfg.publisherID = id
		return nil
	}
}

// WithMaxBodyBytes sets the largest request body accepted; larger ones get
// 413 without being read. Default 1 MiB.
func WithMaxBodyBytes(n int64) Option {
	return func(cfg *config) error {
		if n < 1 {
			return optErr("WithMaxBodyBytes", "limit must be at least 1, got %d", n)
		}
		cfg.maxBodyBytes = n
		return nil
	}
}

// WithPartnerNotifications says whether publisher-initiated operations (PATCH,
// DELETE) also produce an Event (a webhook with operationRequestSource
// Partner). Default true.
func WithPartnerNotifications(on bool) Option {
	return func(cfg *config) error {
		cfg.partnerNotifications = on
		return nil
	}
}

// WithOutstandingOnlyReinstate says whether list operations returns only
// in-progress Reinstate operations, as Microsoft's docs say the service does
// today (default true; spec/README.md). With false, every in-progress
// operation waiting for the publisher is listed.
func WithOutstandingOnlyReinstate(on bool) Option {
	return func(cfg *config) error {
		cfg.outstandingOnlyReinstate = on
		return nil
	}
}

func (cfg *config) apply(opts []Option) error {
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("marketplace: nil Option"))
			continue
		}
		if err := o(cfg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// WithMaxEvents makes Events keep only the newest n events (n > 0); a
// long-lived fake (serve) bounds them, a run of the suites keeps all.
func WithMaxEvents(n int) Option {
	return func(cfg *config) error {
		if n < 1 {
			return optErr("WithMaxEvents", "%d: want 1 or more", n)
		}
		cfg.maxEvents = n
		return nil
	}
}

// WithProfile sets how the fake answers: profile.Strict (the default) as
// the documents say; profile.Production as the real service is reported to
// (spec/README.md, "The production profile"): error bodies in the real
// shapes (contract.EncodeError), 400 "locked" instead of 409 for a change
// while an operation is in progress, an always empty operations list, an
// Operation-Id header beside Operation-Location, and transient faults on
// GETs (WithTransientFaults; on by default in production).
func WithProfile(p profile.Profile) Option {
	return func(cfg *config) error {
		if _, err := profile.Parse(string(p)); err != nil {
			return optErr("WithProfile", "%v", err)
		}
		cfg.profile = p.OrStrict()
		return nil
	}
}

// Transient fault defaults of the production profile.
const (
	DefaultTransientPercent = 8
	DefaultTransientSeed    = 15
)

// WithTransientFaults answers about percent of the GET calls (0–50) with a
// transient fault — 500, 503, or 429 with Retry-After: 1 — chosen by a
// random source seeded with seed; the same call made again then succeeds.
// Never on resolve, activate, PATCH or DELETE. 0 turns them off. Default:
// off in profile.Strict, DefaultTransientPercent in profile.Production.
func WithTransientFaults(percent int, seed uint64) Option {
	return func(cfg *config) error {
		if percent < 0 || percent > 50 {
			return optErr("WithTransientFaults", "percent must be 0–50, got %d", percent)
		}
		cfg.transientPercent, cfg.transientSeed, cfg.transientSet = percent, seed, true
		return nil
	}
}
