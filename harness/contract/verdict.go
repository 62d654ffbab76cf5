package contract

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Response validation in two parts, so the costly one can be remembered.
//
// kin-openapi's ValidateResponse checks, in order: that the status is
// documented, the documented headers (every time here: the echoed request
// ids differ on every call), then the Content-Type and the body against the
// schema, returning the first error. The body part is a pure function of
// the operation (the route), the status, the Content-Type header and the
// body bytes: the schema and the format checks (registered once when the
// spec loads) read nothing else. So a body that passed once with the same
// four inputs passes again, and only that verdict is remembered; a body
// that failed, or was never seen, is validated in full every time.
//
// On a hit, ValidateResponse runs with ExcludeResponseBody: it still checks
// the status and every header and returns exactly what the full check
// would (the full check returns the first header error before looking at
// the body, and the body is known to pass).

// responseHeadersOnly is responseOptions without the body part.
var responseHeadersOnly = func() *openapi3filter.Options {
	o := *responseOptions
	o.ExcludeResponseBody = true
	return &o
}()

// maxVerdicts bounds the remembered bodies (about 100 bytes each); past it
// the cache starts over. 32,768 covers the GET mix of 10,000 subscriptions.
const maxVerdicts = 1 << 15

// verdictKey names one response body the schema accepted. sum is SHA-256 of
// the body bytes: a different body with the same sum would need a SHA-256
// collision.
type verdictKey struct {
	route  *routers.Route // one operation of this Validator's document
	status int
	ctype  string // the Content-Type header, verbatim
	sum    [sha256.Size]byte
}

// verdicts remembers accepted response bodies. The zero value is off.
type verdicts struct {
	on   bool
	mu   sync.Mutex
	good map[verdictKey]struct{}
	hits atomic.Int64 // responses whose body check was skipped
}

func newVerdicts(on bool) *verdicts {
	return &verdicts{on: on, good: map[verdictKey]struct{}{}}
}

func (vs *verdicts) key(route *routers.Route, status int, ctype string, body []byte) verdictKey {
	return verdictKey{route: route, status: status, ctype: ctype, sum: sha256.Sum256(body)}
}

func (vs *verdicts) known(k verdictKey) bool {
	vs.mu.Lock()
	_, ok := vs.good[k]
	vs.mu.Unlock()
	return ok
}

func (vs *verdicts) remember(k verdictKey) {
	vs.mu.Lock()
	if len(vs.good) >= maxVerdicts {
		clear(vs.good)
	}
	vs.good[k] = struct{}{}
	vs.mu.Unlock()
}
