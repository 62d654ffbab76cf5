package marketplace

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/saasconform/saasconform/harness/violation"
)

// Transient faults: a resilience probe of the production profile. The
// OpenAPI document lists 500 on every operation, and clients of any HTTP
// service meet 503 and 429 from the gateways in front of it; no source
// gives a frequency, or any 429 behaviour, for this API (spec/README.md,
// "The production profile"). So a seeded share of GET calls is answered
// 500, 503, or 429 with Retry-After: 1, and the same call made again then
// succeeds: an app that retries idempotent reads loses nothing, one that
// treats the first answer as final breaks its flow. Calls that change
// something (resolve, activate, PATCH, DELETE) are never faulted: a client
// could not know whether its change took effect.

// transientRetryAfter is the Retry-After of a 429.
const transientRetryAfter = time.Second

// transientOps are the calls that may be faulted: the reads.
var transientOps = map[OpName]bool{
	OpListSubscriptions: true, OpGetSubscription: true, OpListAvailablePlans: true,
	OpListOperations: true, OpGetOperation: true,
}

// transient picks the faulted calls. The zero percent is off.
type transient struct {
	percent int
	mu      sync.Mutex
	rnd     *rand.Rand
	// owed are the calls (method and URL) that were faulted and whose next
	// attempt succeeds, with the earliest time a 429's Retry-After allows
	// it (zero after a 5xx).
	owed map[string]time.Time
}

func newTransient(percent int, seed uint64) *transient {
	return &transient{percent: percent, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), owed: map[string]time.Time{}}
}

// pick returns the fault for a call at now, or 0. A call faulted before is
// let through once, whatever the draw; early says it came before the
// Retry-After of the 429 that refused it had passed.
func (t *transient) pick(op OpName, key string, now time.Time) (status int, early time.Duration) {
	if t == nil || t.percent == 0 || !transientOps[op] {
		return 0, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if notBefore, ok := t.owed[key]; ok {
		delete(t.owed, key)
		if now.Before(notBefore) {
			return 0, notBefore.Sub(now)
		}
		return 0, 0
	}
	draw := t.rnd.IntN(100 * 3)
	if draw >= t.percent*3 {
		return 0, 0
	}
	if len(t.owed) >= 10000 { // an app that never retries must not grow this for ever
		clear(t.owed)
	}
	status = []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests}[draw%3]
	var notBefore time.Time
	if status == http.StatusTooManyRequests {
		notBefore = now.Add(transientRetryAfter)
	}
	t.owed[key] = notBefore
	return status, 0
}

// transientFault answers c with a transient fault when one is drawn and
// reports whether the handler should still run.
func (m *Marketplace) transientFault(c *call) bool {
	// Retry-After is about real time: the app waits on its own clock.
	// A call is "the same" when its method, URL and the caller's own
	// correlation id match: another flow of the app reading the same
	// operation at that moment is not the retry (and no warning for it).
	// An app that sends no correlation id is told apart by URL alone.
	key := c.r.Method + " " + c.r.URL.RequestURI() + " " + c.r.Header.Get(hdrCorrelationID)
	status, early := m.transient.pick(c.op, key, time.Now())
	switch status {
	case 0:
		if early > 0 {
			v := broke("FUL-RETRY-02", "retried a call refused with 429 before its Retry-After had passed", "header.Retry-After",
				"retried "+early.Round(time.Millisecond).String()+" too early", "wait at least Retry-After (1 s)",
				"on 429 (and 503) wait the Retry-After the answer names before retrying, then back off")
			v.Severity = violation.Warning
			c.violate(v)
		}
		return true
	case http.StatusTooManyRequests:
		c.w.Header().Set("Retry-After", "1")
		c.fail(status, codeFor(status), "", "too many requests; retry after the time in Retry-After")
	default:
		c.fail(status, codeFor(status), "", "the service had a transient failure; retry the call")
	}
	return false
}
