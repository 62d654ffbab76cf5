package marketplace

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes the next Count calls of one operation misbehave: each waits
// Delay, then answers Status with an ErrorResponse, or, when Status is 0,
// proceeds normally (a slow but correct answer).
type Fault struct {
	Op             OpName
	SubscriptionID string // optional: only calls about this subscription
	Count          int
	Status         int           // 0, or an HTTP status 400–599
	Delay          time.Duration // real time: the publisher's HTTP client timeout is what is tested
	Code, Message  string        // the ErrorResponse; defaults from Status
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// at least 1), as with a 429 or 503.
	RetryAfter time.Duration
}

type faultRecord struct {
	f    Fault
	left int
}

// InjectFault arms f. Faults are matched in the order injected.
func (m *Marketplace) InjectFault(f Fault) error {
	switch {
	case !knownOps[f.Op]:
		return fmt.Errorf("marketplace: InjectFault: Op: unknown operation %q", f.Op)
	case f.Count <= 0:
		return fmt.Errorf("marketplace: InjectFault: Count: must be positive, got %d", f.Count)
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("marketplace: InjectFault: Status: want 0 or 400–599, got %d", f.Status)
	case f.RetryAfter < 0:
		return fmt.Errorf("marketplace: InjectFault: RetryAfter: must not be negative, got %v", f.RetryAfter)
	case f.Delay < 0:
		return fmt.Errorf("marketplace: InjectFault: Delay: must not be negative, got %v", f.Delay)
	}
	m.mu.Lock()
	m.st.faults = append(m.st.faults, &faultRecord{f: f, left: f.Count})
	m.unlock()
	return nil
}

// LockedFault is a fault that refuses the next count PATCHes of
// subscription subID exactly as the fake refuses a change overlapping a
// pending operation in its profile (409, or 400 "locked" in production),
// but without recording FUL-UPDATE-02: a spec arms it when the app could
// not have known of the pending operation and is judged on how it takes
// the refusal, not on having asked.
func (m *Marketplace) LockedFault(subID string, count int) Fault {
	status, code, msg := m.busyAnswer()
	return Fault{Op: OpUpdateSubscription, SubscriptionID: subID, Count: count, Status: status, Code: code, Message: msg}
}

// ClearFaults disarms every fault.
func (m *Marketplace) ClearFaults() {
	m.mu.Lock()
	m.st.faults = nil
	m.unlock()
}

// injectFaults applies the first matching fault to c and reports whether the
// handler should still run.
func (m *Marketplace) injectFaults(c *call) bool {
	m.mu.Lock()
	var hit *Fault
	for i, fr := range m.st.faults {
		if fr.f.Op != c.op || !m.faultMatchesLocked(fr.f, c) {
			continue
		}
		f := fr.f
		hit = &f
		if fr.left--; fr.left == 0 {
			m.st.faults = append(m.st.faults[:i:i], m.st.faults[i+1:]...)
		}
		break
	}
	m.unlock()
	if hit == nil {
		return true
	}
	if hit.Delay > 0 {
		t := time.NewTimer(hit.Delay)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			// The client gave up; nobody is left to answer.
			t.Stop()
			return false
		}
	}
	if hit.Status == 0 {
		return true
	}
	code, msg := hit.Code, hit.Message
	if code == "" {
		code = codeFor(hit.Status)
	}
	if msg == "" {
		msg = "injected fault"
	}
	if hit.RetryAfter > 0 {
		c.w.Header().Set("Retry-After", strconv.Itoa(int(max(1, (hit.RetryAfter+time.Second-1)/time.Second))))
	}
	c.fail(hit.Status, code, "", msg)
	return false
}

// faultMatchesLocked applies the subscription filter. Resolve carries its
// subscription in the token, not the path.
func (m *Marketplace) faultMatchesLocked(f Fault, c *call) bool {
	if f.SubscriptionID == "" {
		return true
	}
	id := c.subID
	if c.op == OpResolve {
		if rec, ok := m.st.tokens.lookup(c.r.Header.Get(hdrToken)); ok {
			id = rec.subID
		}
	}
	return strings.EqualFold(id, f.SubscriptionID)
}

// codeFor is the error code Microsoft uses for a status.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadArgument"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "NotFound"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusRequestEntityTooLarge:
		return "PayloadTooLarge"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusGatewayTimeout:
		return "GatewayTimeout"
	}
	if status >= 500 {
		return "InternalServerError"
	}
	return "BadArgument"
}
