package contract

import (
	"fmt"
	"strings"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/violation"
)

// Option configures a Validator.
type Option func(*config) error

type config struct {
	basePath      string
	auth          Authenticator
	log           *violation.Log
	clock         clock.Clock
	maxBody       int64
	onExchange    []func(Exchange)
	onHarnessBug  func(error)
	skipResponses bool
	profile       profile.Profile
	// noVerdictCache validates every response body in full, even one that
	// passed before (verdict.go).
	noVerdictCache bool
}

// WithBasePath sets the path prefix the API lives under (default "/api").
func WithBasePath(p string) Option {
	return func(c *config) error {
		if p != "" && (!strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/")) {
			return fmt.Errorf("contract: base path %q must start with / and not end with /", p)
		}
		c.basePath = p
		return nil
	}
}

// WithAuthenticator replaces the default check (a bearer token is present).
func WithAuthenticator(a Authenticator) Option {
	return func(c *config) error {
		if a == nil {
			return fmt.Errorf("contract: nil Authenticator")
		}
		c.auth = a
		return nil
	}
}

// WithViolations records into log (share it with the fake marketplace).
func WithViolations(log *violation.Log) Option {
	return func(c *config) error {
		if log == nil {
			return fmt.Errorf("contract: nil violation log")
		}
		c.log = log
		return nil
	}
}

// WithClock stamps violations and exchanges with clk.
func WithClock(clk clock.Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return fmt.Errorf("contract: nil clock")
		}
		c.clock = clk
		return nil
	}
}

// WithMaxBodyBytes bounds request bodies (default 1 MiB); larger ones get 413.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("contract: max body bytes must be positive, got %d", n)
		}
		c.maxBody = n
		return nil
	}
}

// WithoutResponseCache validates every response body in full. By default a
// body that passed validation before (the same bytes, for the same
// operation, status and Content-Type) is not checked against the schema
// again; its status and headers still are. The verdict is the same either
// way; this option is for measuring and for tests that prove it.
func WithoutResponseCache() Option {
	return func(c *config) error {
		c.noVerdictCache = true
		return nil
	}
}

// OnExchange calls fn with every finished exchange (for transcripts).
func OnExchange(fn func(Exchange)) Option {
	return func(c *config) error {
		c.onExchange = append(c.onExchange, fn)
		return nil
	}
}

// OnHarnessBug calls fn when the fake answers something our own spec forbids.
// The default prints nothing: bugs are kept in HarnessBugs and the publisher
// gets a 500 that names the bug.
func OnHarnessBug(fn func(error)) Option {
	return func(c *config) error {
		c.onHarnessBug = fn
		return nil
	}
}

// WithProfile sets how errors look (EncodeError) and which error shapes a
// response of the fake may have: in profile.Production an error answer's
// body is checked against spec's ProductionError (a bare string, or a flat
// code and message) instead of ErrorResponse. Default profile.Strict.
func WithProfile(p profile.Profile) Option {
	return func(c *config) error {
		if _, err := profile.Parse(string(p)); err != nil {
			return fmt.Errorf("contract: %w", err)
		}
		c.profile = p.OrStrict()
		return nil
	}
}
