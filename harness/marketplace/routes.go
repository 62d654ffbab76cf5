package marketplace

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/harness/contract"
)

// OpName names an API operation; the values are the operationIds of
// spec/fulfillment-v2.yaml, so a Fault and a contract violation name an
// operation the same way.
type OpName string

// The Fulfillment API v2 operations.
const (
	OpResolve            OpName = "resolve"
	OpActivate           OpName = "activate"
	OpListSubscriptions  OpName = "listSubscriptions"
	OpGetSubscription    OpName = "getSubscription"
	OpListAvailablePlans OpName = "listAvailablePlans"
	OpUpdateSubscription OpName = "updateSubscription"
	OpDeleteSubscription OpName = "deleteSubscription"
	OpListOperations     OpName = "listOperations"
	OpGetOperation       OpName = "getOperation"
	OpUpdateOperation    OpName = "updateOperation"
)

var knownOps = map[OpName]bool{
	OpResolve: true, OpActivate: true, OpListSubscriptions: true, OpGetSubscription: true,
	OpListAvailablePlans: true, OpUpdateSubscription: true, OpDeleteSubscription: true,
	OpListOperations: true, OpGetOperation: true, OpUpdateOperation: true,
}

// The headers Microsoft echoes (and makes up when the caller sent none).
const (
	hdrRequestID     = "x-ms-requestid"
	hdrCorrelationID = "x-ms-correlationid"
	hdrToken         = "x-ms-marketplace-token"
	apiVersion       = "2018-08-31"
)

func (m *Marketplace) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, op OpName, h func(*call)) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+m.cfg.basePath+path, func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, op, h)
		})
	}
	const subs = "/saas/subscriptions"
	handle("POST "+subs+"/resolve", OpResolve, m.resolve)
	handle("GET "+subs, OpListSubscriptions, m.listSubscriptions)
	handle("GET "+subs+"/{$}", OpListSubscriptions, m.listSubscriptions)
	handle("GET "+subs+"/{id}", OpGetSubscription, m.getSubscription)
	handle("PATCH "+subs+"/{id}", OpUpdateSubscription, m.updateSubscription)
	handle("DELETE "+subs+"/{id}", OpDeleteSubscription, m.deleteSubscription)
	handle("GET "+subs+"/{id}/listAvailablePlans", OpListAvailablePlans, m.listAvailablePlans)
	handle("POST "+subs+"/{id}/activate", OpActivate, m.activate)
	handle("GET "+subs+"/{id}/operations", OpListOperations, m.listOperations)
	handle("GET "+subs+"/{id}/operations/{opId}", OpGetOperation, m.getOperation)
	handle("PATCH "+subs+"/{id}/operations/{opId}", OpUpdateOperation, m.updateOperation)
	// A catch-all without a method also keeps ServeMux from answering 405 in
	// plain text: every miss is a JSON 404.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeNotFoundRoute(w, r) })
	return mux
}

// ServeHTTP answers one Fulfillment API call.
func (m *Marketplace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set(hdrRequestID, headerOrNew(r, hdrRequestID))
	h.Set(hdrCorrelationID, headerOrNew(r, hdrCorrelationID))
	// ServeMux would redirect an unclean path (//, /./, /../); Microsoft
	// does not, and the contract layer should see a plain 404.
	if !cleanPath(r.URL.Path) {
		writeNotFoundRoute(w, r)
		return
	}
	m.mux.ServeHTTP(w, r)
}

// serve is the common part of every operation: fault injection, the body
// limit, then the handler.
func (m *Marketplace) serve(w http.ResponseWriter, r *http.Request, op OpName, h func(*call)) {
	c := &call{
		m: m, w: w, r: r, op: op,
		reqID:  w.Header().Get(hdrRequestID),
		corrID: w.Header().Get(hdrCorrelationID),
		subID:  r.PathValue("id"),
	}
	// Should a handler panic (a bug of ours), the store is not left locked
	// for every later call; the validator turns the panic into a 500.
	defer c.unlock()
	if p, ok := contract.PrincipalFrom(r.Context()); ok {
		c.publisher = p.PublisherID
	}
	if !m.injectFaults(c) {
		return
	}
	if !m.transientFault(c) {
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.cfg.maxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.fail(http.StatusRequestEntityTooLarge, "PayloadTooLarge", "", "request body is larger than the limit")
				return
			}
			c.fail(http.StatusBadRequest, "BadArgument", "", "could not read the request body")
			return
		}
		c.body = body
	}
	if c.subID != "" && !m.ownedByCaller(c) {
		return
	}
	h(c)
}

// ownedByCaller refuses, with 403 and AUTH-02, a call about a subscription of
// another publisher. Unknown subscriptions pass: the handler answers 404.
func (m *Marketplace) ownedByCaller(c *call) bool {
	if c.publisher == "" {
		return true
	}
	c.lock()
	r := m.st.sub(c.subID)
	if r == nil || c.owns(r) {
		c.unlock()
		return true
	}
	c.refuseForeign(r)
	return false
}

func headerOrNew(r *http.Request, name string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return uuid.NewString()
}

func cleanPath(p string) bool {
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") &&
		!strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

func writeNotFoundRoute(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, ErrorResponse{Error: ErrorBody{
		Code: "NotFound", Message: "no Fulfillment API v2 operation at " + r.Method + " " + r.URL.Path,
	}})
}
