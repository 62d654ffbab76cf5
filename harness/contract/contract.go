// Package contract checks every exchange between a publisher and the fake
// marketplace against the project's own OpenAPI document (spec/).
//
// A request that breaks the document is the publisher's violation: it is
// recorded with a rule ID and answered as the real API would (usually 400),
// without reaching the fake. A response that breaks the document is a bug in
// saasconform: it is kept in HarnessBugs and the publisher gets a 500 that says
// so, never a silently wrong answer.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// Validator is http.Handler middleware in front of the fake marketplace.
type Validator struct {
	inner    http.Handler
	cfg      config
	router   *router
	verdicts *verdicts

	// productionError is the schema error bodies are checked against in
	// profile.Production; nil in profile.Strict.
	productionError *openapi3.Schema

	mu   sync.Mutex
	bugs []error
}

// New wraps inner (the fake marketplace) with two-way validation.
func New(inner http.Handler, opts ...Option) (*Validator, error) {
	if inner == nil {
		return nil, errors.New("contract: nil inner handler")
	}
	cfg := config{basePath: "/api", auth: BearerPresent{}, clock: clock.Real{}, maxBody: 1 << 20, profile: profile.Strict}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.log == nil {
		cfg.log = &violation.Log{}
	}
	doc, err := spec.Load()
	if err != nil {
		return nil, fmt.Errorf("contract: loading spec: %w", err)
	}
	val := &Validator{inner: inner, cfg: cfg, router: newRouter(doc), verdicts: newVerdicts(!cfg.noVerdictCache)}
	if cfg.profile.IsProduction() {
		ref := doc.Components.Schemas[spec.ProductionErrorSchema]
		if ref == nil || ref.Value == nil {
			return nil, fmt.Errorf("contract: spec has no schema %s", spec.ProductionErrorSchema)
		}
		val.productionError = ref.Value
	}
	return val, nil
}

// Violations returns the log the validator records into.
func (v *Validator) Violations() *violation.Log { return v.cfg.log }

// HarnessBugs returns every response of the fake that broke our own spec.
func (v *Validator) HarnessBugs() []error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]error(nil), v.bugs...)
}

var noAuth = &openapi3filter.Options{
	MultiError:         true,
	AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
}

var responseOptions = &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}

// ServeHTTP validates the request, passes it to the fake when it is fit to
// reach it, validates the answer, records the exchange and sends the answer.
func (v *Validator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Reports read wall time; the harness clock, which a run may hold
	// still or move on, is kept beside it.
	wall, start := time.Now(), v.cfg.clock.Now()
	// The exchange keeps its own copy of the request headers: r belongs to
	// the caller, and the fake may change what it is handed.
	ex := Exchange{At: wall, ClockAt: start, Method: r.Method, URL: r.URL.RequestURI(), RequestHeader: r.Header.Clone()}
	rec := newRecorder()
	var findings []finding

	body, tooBig, readErr := readBody(r, v.cfg.maxBody)
	ex.RequestBody = body
	rel, underBase := v.relPath(r.URL.Path)

	var route *routers.Route
	var params map[string]string
	var known map[string]bool
	var query url.Values
	switch {
	case readErr != nil:
		findings = append(findings, finding{status: http.StatusBadRequest, v: violation.Violation{
			Rule: RuleSchema, Summary: "request body could not be read: " + readErr.Error(),
			Fix: "send a complete body that matches Content-Length"}})
	case tooBig:
		findings = append(findings, finding{status: http.StatusRequestEntityTooLarge, v: violation.Violation{
			Rule: RuleSchema, Summary: fmt.Sprintf("request body is larger than %d bytes", v.cfg.maxBody),
			Fix: "Fulfillment API bodies are a few hundred bytes; send only the documented fields"}})
	case !underBase:
		findings = append(findings, unknownPath(r, r.URL.Path, false, v.cfg.basePath))
	default:
		query = r.URL.Query()
		findings = append(findings, checkVersion(r, rel, query)...)
		if !blocked(findings) {
			route, params, known = v.router.find(r.Method, rel)
			if route == nil {
				f := unknownPath(r, rel, true, v.cfg.basePath)
				if allowed := v.router.methods(rel); len(allowed) > 0 {
					f = wrongMethod(r, rel, allowed)
				}
				findings = append(findings, f)
			}
		}
	}
	if route != nil {
		ex.Operation = route.Operation.OperationID
		ex.SubscriptionID = params["subscriptionId"]
	}

	var principal Principal
	if !blocked(findings) {
		p, rej := v.cfg.auth.Authenticate(r)
		if rej != nil {
			findings = append(findings, finding{status: rej.Status, v: rej.Violation})
		}
		principal = p
	}
	if route != nil || underBase {
		findings = append(findings, checkHygiene(r)...)
	}
	var probe *http.Request // r as kin-openapi sees it, for both directions
	if route != nil {
		probe = probeRequest(r, rel)
	}
	if !blocked(findings) && route != nil {
		findings = append(findings, v.validateRequest(probe, route, params, known, body, query)...)
	}

	if status := blockingStatus(findings); status != 0 {
		v.writeError(rec, status, findings)
	} else {
		// A shallow copy: the headers are r's (the exchange has its own).
		inner := r.WithContext(WithPrincipal(r.Context(), principal))
		inner.Body = http.NoBody
		if len(body) > 0 {
			inner.Body = io.NopCloser(bytes.NewReader(body))
		}
		inner.ContentLength = int64(len(body))
		if !v.serveInner(rec, inner) && route != nil {
			v.validateResponse(r, probe, route, params, rec)
		}
	}

	ex.Status = rec.statusOrOK()
	// rec is not written after this (flush and net/http copy from its header
	// map and body, they do not change them): the exchange keeps them as is.
	ex.ResponseHeader = rec.header
	ex.ResponseBody = rec.body.Bytes()
	ex.Duration = time.Since(wall)
	v.fillIDs(&ex, r, rec)
	for _, f := range findings {
		f.v.Method, f.v.Path = r.Method, r.URL.RequestURI()
		f.v.Status = ex.Status
		f.v.SubscriptionID, f.v.CorrelationID, f.v.RequestID = ex.SubscriptionID, ex.CorrelationID, ex.RequestID
		if f.v.At.IsZero() {
			f.v.At, f.v.ClockAt = wall, start
		}
		v.cfg.log.Record(f.v)
		ex.Violations = append(ex.Violations, f.v)
	}
	for _, fn := range v.cfg.onExchange {
		fn(ex)
	}
	rec.flush(w)
}

// relPath strips the base path.
func (v *Validator) relPath(p string) (string, bool) {
	if v.cfg.basePath == "" {
		return p, true
	}
	if p == v.cfg.basePath {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, v.cfg.basePath+"/"); ok {
		return "/" + rest, true
	}
	return p, false
}

// readBody reads at most max bytes; tooBig reports that more were sent.
func readBody(r *http.Request, max int64) (body []byte, tooBig bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(body)) > max {
		return nil, true, nil
	}
	return body, false, nil
}

func (v *Validator) fillIDs(ex *Exchange, r *http.Request, rec *recorder) {
	ex.CorrelationID = firstNonEmpty(ex.RequestHeader.Get(keyCorrelationID), rec.header.Get(keyCorrelationID))
	ex.RequestID = firstNonEmpty(ex.RequestHeader.Get(keyRequestID), rec.header.Get(keyRequestID))
	if ex.SubscriptionID == "" && ex.Operation == spec.OpResolve && rec.statusOrOK() == http.StatusOK {
		var resolved struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(rec.body.Bytes(), &resolved) == nil {
			ex.SubscriptionID = resolved.ID
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func blocked(fs []finding) bool { return blockingStatus(fs) != 0 }

func blockingStatus(fs []finding) int {
	for _, f := range fs {
		if f.status != 0 {
			return f.status
		}
	}
	return 0
}

// errorCodes are the error codes the fake answers with, by status.
var errorCodes = map[int]string{
	http.StatusBadRequest:            "BadArgument",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusForbidden:             "Forbidden",
	http.StatusNotFound:              "NotFound",
	http.StatusRequestEntityTooLarge: "PayloadTooLarge",
	http.StatusInternalServerError:   "InternalServerError",
}

func (v *Validator) writeError(w http.ResponseWriter, status int, fs []finding) {
	var msgs []string
	for _, f := range fs {
		if f.status != 0 {
			msgs = append(msgs, f.v.Rule+": "+f.v.Summary)
		}
	}
	code := errorCodes[status]
	if code == "" {
		code = http.StatusText(status)
	}
	if v.cfg.profile.IsProduction() {
		body := EncodeError(v.cfg.profile, status, code, "", strings.Join(msgs, "; "))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	writeJSONError(w, status, code, strings.Join(msgs, "; "))
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// validateResponse checks the fake's answer; a mismatch is our bug, and the
// buffered answer is replaced by a 500 that says so.
//
// Every response is validated: the status and headers in full each time,
// the body in full unless this very body (same operation, status and
// Content-Type) passed before (verdict.go).
func (v *Validator) validateResponse(r, probe *http.Request, route *routers.Route, params map[string]string, rec *recorder) {
	status, body := rec.statusOrOK(), rec.body.Bytes()
	opts := responseOptions
	var key verdictKey
	// In production an error body has the real service's shapes, which
	// the document's ErrorResponse does not describe: the status and
	// headers are checked as always, the body against ProductionError.
	prodError := v.productionError != nil && status >= 400
	if prodError {
		opts = responseHeadersOnly
	} else if v.verdicts.on {
		key = v.verdicts.key(route, status, rec.header.Get("Content-Type"), body)
		if v.verdicts.known(key) {
			opts = responseHeadersOnly
			v.verdicts.hits.Add(1)
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: noAuth},
		Status:                 status,
		Header:                 rec.header,
		Options:                opts,
	}
	in.SetBodyBytes(body)
	err := openapi3filter.ValidateResponse(r.Context(), in)
	if err == nil && prodError {
		err = v.checkProductionError(rec.header.Get("Content-Type"), body)
	}
	if err == nil && !prodError {
		if v.verdicts.on && opts == responseOptions {
			v.verdicts.remember(key)
		}
	}
	if err == nil {
		return
	}
	v.harnessBug(rec, &HarnessBug{Method: r.Method, URL: r.URL.RequestURI(), Status: rec.statusOrOK(),
		Body: truncate(rec.body.String(), 500), Err: err})
}

// serveInner runs the fake and reports whether it panicked; a panic is our
// bug, answered like any other (a 500 naming it), never a dropped
// connection or a dead server.
func (v *Validator) serveInner(rec *recorder, r *http.Request) (panicked bool) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler { // the documented way to abort a response
			panic(p)
		}
		v.harnessBug(rec, &HarnessBug{Method: r.Method, URL: r.URL.RequestURI(), Panic: p,
			Err: fmt.Errorf("the fake panicked: %v", p)})
		panicked = true
	}()
	v.inner.ServeHTTP(rec, r)
	return false
}

// harnessBug keeps bug and replaces the buffered answer with a 500 naming it.
func (v *Validator) harnessBug(rec *recorder, bug *HarnessBug) {
	v.mu.Lock()
	v.bugs = append(v.bugs, bug)
	v.mu.Unlock()
	if v.cfg.onHarnessBug != nil {
		v.cfg.onHarnessBug(bug)
	}
	rec.reset()
	writeJSONError(rec, http.StatusInternalServerError, "SaasconformHarnessBug", bug.Error())
}

// HarnessBug is a response of the fake that breaks our own spec.
type HarnessBug struct {
	Method, URL string
	Status      int
	Body        string // the offending body, truncated
	Err         error  // kin-openapi's finding, or what the panic said
	Panic       any    // set when the fake panicked instead of answering
}

func (b *HarnessBug) Error() string {
	if b.Panic != nil {
		return fmt.Sprintf("saasconform bug: the fake panicked on %s %s: %v", b.Method, b.URL, b.Panic)
	}
	var reasons []string
	for _, e := range topLevel(b.Err) {
		// kin-openapi appends the whole schema and value; the first line
		// says what is wrong.
		reasons = append(reasons, firstLine(e.Error()))
	}
	return fmt.Sprintf("saasconform bug: %s %s answered %d that breaks spec/fulfillment-v2.yaml: %s (body %s)",
		b.Method, b.URL, b.Status, strings.Join(reasons, "; "), b.Body)
}

func (b *HarnessBug) Unwrap() error { return b.Err }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
