package identity

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

// config is what Options set; New validates the whole of it once.
type config struct {
	clock    clock.Clock
	webhook  clock.Clock // nil: the same as clock
	apps     []App
	appsSet  bool
	lifetime time.Duration
	style    IssuerStyle
	url      string
	keyBits  int
	keys     []signingKey // WithKeys: current, previous
	log      *violation.Log
	onExch   []func(contract.Exchange)
}

func defaultConfig() config {
	return config{
		clock:    clock.Real{},
		lifetime: time.Hour,
		style:    IssuerLocal,
		keyBits:  2048,
	}
}

// Option configures an Issuer.
type Option func(*config) error

// Limits on WithKeyBits: below 2048 is weaker than anything Entra or a
// careful validator accepts; above 8192 only makes tests slow.
const (
	minKeyBits = 2048
	maxKeyBits = 8192
)

func optErr(opt, format string, args ...any) error {
	return fmt.Errorf("identity: %s: %s", opt, fmt.Sprintf(format, args...))
}

// WithWebhookClock sets the clock webhook tokens (and their forgeries) are
// issued against; default the Issuer's clock. A harness that moves its own
// clock far ahead passes the wall clock here, because the publisher checks
// webhook tokens against its wall clock.
func WithWebhookClock(c clock.Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return optErr("WithWebhookClock", "clock is nil")
		}
		cfg.webhook = c
		return nil
	}
}

// WithClock sets the clock tokens are issued and verified against.
// Default: the wall clock.
func WithClock(c clock.Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return optErr("WithClock", "clock is nil")
		}
		cfg.clock = c
		return nil
	}
}

// WithApps sets the registered apps, replacing the default ones from
// fixtures/apps.yaml. Each app is validated as LoadApps does.
func WithApps(apps ...App) Option {
	return func(cfg *config) error {
		if len(apps) == 0 {
			return optErr("WithApps", "no apps")
		}
		cfg.apps = append([]App(nil), apps...)
		cfg.appsSet = true
		return nil
	}
}

// WithTokenLifetime sets how long minted tokens live (exp - iat). Default 1h.
func WithTokenLifetime(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return optErr("WithTokenLifetime", "lifetime %v is not positive", d)
		}
		if d < time.Second {
			return optErr("WithTokenLifetime", "lifetime %v is below the one-second resolution of exp", d)
		}
		cfg.lifetime = d
		return nil
	}
}

// WithIssuerStyle chooses the iss value tokens carry. Default IssuerLocal.
func WithIssuerStyle(s IssuerStyle) Option {
	return func(cfg *config) error {
		if s != IssuerLocal && s != IssuerMicrosoft {
			return optErr("WithIssuerStyle", "unknown style %d", int(s))
		}
		cfg.style = s
		return nil
	}
}

// WithURL sets the authority base the Issuer is reachable at, such as
// https://127.0.0.1:1234. Without it (and until SetURL) the base is derived
// per request from the request's TLS state and Host.
func WithURL(u string) Option {
	return func(cfg *config) error {
		base, err := normalizeBase(u)
		if err != nil {
			return optErr("WithURL", "%v", err)
		}
		cfg.url = base
		return nil
	}
}

// WithKeyBits sets the RSA modulus size of signing keys. Default 2048, the
// size Entra uses; 2048 to 8192.
func WithKeyBits(bits int) Option {
	return func(cfg *config) error {
		if bits < minKeyBits || bits > maxKeyBits {
			return optErr("WithKeyBits", "%d bits is outside [%d, %d]", bits, minKeyBits, maxKeyBits)
		}
		cfg.keyBits = bits
		return nil
	}
}

// WithViolations makes the Issuer record every token request it refuses as
// an AUTH-05 violation in log (see transcript.go).
func WithViolations(log *violation.Log) Option {
	return func(cfg *config) error {
		if log == nil {
			return optErr("WithViolations", "log is nil")
		}
		cfg.log = log
		return nil
	}
}

// OnExchange calls fn with every request the Issuer serves — token,
// discovery and keys, answered or refused — and its answer, just before
// the answer is sent, so the client never sees an answer the transcript
// lacks. Its Operation is one of the Op* names of this package. fn may be
// called concurrently and must not change the exchange's maps.
func OnExchange(fn func(contract.Exchange)) Option {
	return func(cfg *config) error {
		if fn == nil {
			return optErr("OnExchange", "func is nil")
		}
		cfg.onExch = append(cfg.onExch, fn)
		return nil
	}
}

// normalizeBase checks an authority base (scheme and host, no path) and
// strips a trailing slash.
func normalizeBase(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("URL %q: %v", raw, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("URL %q: scheme must be https (or http), got %q", raw, u.Scheme)
	case u.Host == "":
		return "", fmt.Errorf("URL %q has no host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("URL %q: want scheme://host[:port] only", raw)
	case strings.Trim(u.Path, "/") != "":
		return "", fmt.Errorf("URL %q has a path: the tenant must be the first path segment", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
