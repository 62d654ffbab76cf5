package main

// The bad-request mode (-bad F): a fraction F of the mix's requests is
// replaced with malformed ones, drawn from a fixed catalogue of kinds with a
// seeded generator, aimed at the Fulfillment API, the serve control API and
// the fake Entra ID. Every one must get a 4xx with an error body, within a
// per-request timeout; anything else (a 5xx, another status, no body, a
// dropped connection, a hang) is a failure, counted per kind.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/saasconform/saasconform/harness/identity"
)

// Where a bad request goes.
const (
	toAPI     = "api"     // the Fulfillment API v2 (contract validator + fake marketplace)
	toControl = "control" // the serve control API (JSON, plain HTTP on loopback)
	toEntra   = "entra"   // the fake Entra ID's token endpoint
)

// badEnv is what the catalogue needs to aim at the servers.
type badEnv struct {
	client   *http.Client // must not follow redirects
	tls      *tls.Config  // for raw connections to the HTTPS servers
	api      string       // Fulfillment base, ending in /api
	control  string       // control server base ("" leaves control kinds out)
	entra    string       // Entra authority base
	tenant   string
	clientID string
	bearer   string   // "Bearer <a valid token>"
	subs     []string // subscriptions that exist
	timeout  time.Duration
}

// badReq is one malformed request: an HTTP request, or raw bytes written to
// a fresh connection (for what an HTTP client refuses to send).
type badReq struct {
	variant string
	req     *http.Request
	rawURL  string // the server the raw bytes go to
	raw     []byte
	// halfClose closes the writing side after raw: the server sees the body
	// end early.
	halfClose bool
}

// badKind is one entry of the catalogue.
type badKind struct {
	name   string
	target string
	build  func(e *badEnv, rng *rand.Rand) badReq
}

// Bodies bigger than the limits: the contract layer reads 1 MiB, the control
// API and Entra 64 KiB. Built once, shared read-only.
var (
	hugeAPIBody     = bigJSON(1<<20 + 1024)
	hugeControlBody = bigJSON(64<<10 + 1024)
	deepJSON        = []byte(strings.Repeat("[", 100000))
)

func bigJSON(n int) []byte {
	b := append([]byte(`{"planId":"`), bytes.Repeat([]byte("a"), n)...)
	return append(b, `"}`...)
}

// badCatalogue is the fixed list of kinds, in report order. A kind picks
// one of its variants with the worker's generator.
func badCatalogue() []badKind {
	return []badKind{
		{"malformed-json", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			bodies := []string{`{"planId":"gold"`, `{planId: gold}`, `{"planId":"gold"}}`, "\xff\xfe{}", `{"quantity":1e999999}`}
			i := rng.IntN(len(bodies))
			return e.apiReq(fmt.Sprintf("body#%d", i), http.MethodPatch, e.subPath(rng, ""), []byte(bodies[i]), "application/json")
		}},
		{"json-wrong-shape", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			switch rng.IntN(5) {
			case 0:
				return e.apiReq("activate planId number", http.MethodPost, e.subPath(rng, "/activate"), []byte(`{"planId":42}`), "application/json")
			case 1:
				return e.apiReq("patch array", http.MethodPatch, e.subPath(rng, ""), []byte(`[1,2,3]`), "application/json")
			case 2:
				return e.apiReq("patch planId and quantity", http.MethodPatch, e.subPath(rng, ""), []byte(`{"planId":"gold","quantity":3}`), "application/json")
			case 3:
				return e.apiReq("operation status Maybe", http.MethodPatch, e.subPath(rng, "/operations/"+randGUID(rng)), []byte(`{"status":"Maybe"}`), "application/json")
			default:
				return e.apiReq("deep nesting", http.MethodPost, e.subPath(rng, "/activate"), deepJSON, "application/json")
			}
		}},
		{"wrong-content-type", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			ct := []string{"text/plain", "application/x-www-form-urlencoded", "application/xml"}[rng.IntN(3)]
			return e.apiReq(ct, http.MethodPost, e.subPath(rng, "/activate"), []byte(`planId=gold`), ct)
		}},
		{"wrong-method", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			switch rng.IntN(4) {
			case 0:
				return e.apiReq("DELETE listAvailablePlans", http.MethodDelete, e.subPath(rng, "/listAvailablePlans"), nil, "")
			case 1:
				return e.apiReq("POST operations", http.MethodPost, e.subPath(rng, "/operations"), nil, "")
			case 2:
				return e.apiReq("PUT subscription (v1)", http.MethodPut, e.subPath(rng, ""), []byte(`{}`), "application/json")
			default:
				return e.apiReq("BREW", "BREW", e.subPath(rng, ""), nil, "")
			}
		}},
		{"unknown-path", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			switch rng.IntN(4) {
			case 0:
				return e.apiReq("/saas/nothing", http.MethodGet, "/saas/nothing"+apiVersion, nil, "")
			case 1:
				return e.apiReq("subscription/frobnicate", http.MethodGet, e.subPath(rng, "/frobnicate"), nil, "")
			case 2:
				return e.apiReq("outside the base", http.MethodGet, "/../../etc/passwd"+apiVersion, nil, "")
			default:
				return e.apiReq("v1 operations", http.MethodGet, "/saas/operations"+apiVersion, nil, "")
			}
		}},
		{"bad-subscription-id", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			if rng.IntN(2) == 0 {
				return e.apiReq("not a GUID", http.MethodGet, "/saas/subscriptions/not-a-guid"+apiVersion, nil, "")
			}
			return e.apiReq("unknown GUID", http.MethodGet, "/saas/subscriptions/"+randGUID(rng)+apiVersion, nil, "")
		}},
		{"bad-resolve-token", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			r := e.apiReq("garbage token", http.MethodPost, "/saas/subscriptions/resolve"+apiVersion, nil, "")
			r.req.Header.Set("x-ms-marketplace-token", randText(rng, 40))
			return r
		}},
		{"bad-api-version", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			id := e.subs[rng.IntN(len(e.subs))]
			qs := []string{"", "?api-version=2099-01-01", "?api-version=2017-04-15", "?api-version=2018-08-31&api-version=2018-08-31", "?api-version="}
			i := rng.IntN(len(qs))
			return e.apiReq(fmt.Sprintf("query#%d", i), http.MethodGet, "/saas/subscriptions/"+id+qs[i], nil, "")
		}},
		{"no-auth", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			r := e.apiReq("no Authorization", http.MethodGet, e.subPath(rng, ""), nil, "")
			r.req.Header.Del("Authorization")
			if rng.IntN(2) == 0 {
				r.variant = "Authentication instead"
				r.req.Header.Set("Authentication", e.bearer)
			}
			return r
		}},
		{"bad-auth", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			r := e.apiReq("", http.MethodGet, e.subPath(rng, ""), nil, "")
			tok := strings.TrimPrefix(e.bearer, "Bearer ")
			switch rng.IntN(6) {
			case 0:
				r.variant, tok = "Basic scheme", ""
				r.req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
			case 1:
				r.variant, tok = "empty Bearer", " "
			case 2:
				r.variant, tok = "random text", randText(rng, 64)
			case 3:
				r.variant, tok = "three random parts", randText(rng, 20)+"."+randText(rng, 40)+"."+randText(rng, 30)
			case 4:
				r.variant = "alg none"
				h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
				p := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"` + identity.MarketplaceAppID + `","tid":"` + e.tenant + `","exp":4102444800}`))
				tok = h + "." + p + "."
			default:
				// One character early in the signature (every bit of it
				// counts there) changed to another.
				r.variant = "signature altered"
				b := []byte(tok)
				sig := strings.LastIndexByte(tok, '.') + 1
				if len(b)-sig < 20 {
					b = append(b, strings.Repeat("A", 20)...) // not a real token: make room
				}
				i := sig + rng.IntN(20)
				if b[i] == 'A' {
					b[i] = 'B'
				} else {
					b[i] = 'A'
				}
				tok = string(b)
			}
			if tok != "" {
				r.req.Header.Set("Authorization", "Bearer "+tok)
			}
			return r
		}},
		{"oversized-body", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			return e.apiReq("1 MiB + 1 KiB", http.MethodPatch, e.subPath(rng, ""), hugeAPIBody, "application/json")
		}},
		{"malformed-http", toAPI, func(e *badEnv, rng *rand.Rand) badReq {
			return rawHTTP(e.api, "/api/saas/subscriptions/"+e.subs[rng.IntN(len(e.subs))]+"/activate"+apiVersion, e.bearer, rng)
		}},
		{"malformed-json", toControl, func(e *badEnv, rng *rand.Rand) badReq {
			bodies := []string{`{"planId":`, `planId=flat-monthly`, `{"planId":"flat-monthly"} {}`, `[]`, "\x00\x01"}
			i := rng.IntN(len(bodies))
			return e.controlReq(fmt.Sprintf("body#%d", i), http.MethodPost, "/api/purchases", []byte(bodies[i]))
		}},
		{"bad-fields", toControl, func(e *badEnv, rng *rand.Rand) badReq {
			bodies := []string{`{"planId":"flat-monthly","bogus":1}`, `{"planId":7}`, `{"planId":"flat-monthly","quantity":-3}`,
				`{"planId":"flat-monthly","kind":"stolen"}`, `{"planId":"no-such-plan"}`, `{}`, ``}
			i := rng.IntN(len(bodies))
			return e.controlReq(fmt.Sprintf("body#%d", i), http.MethodPost, "/api/purchases", []byte(bodies[i]))
		}},
		{"unknown-target", toControl, func(e *badEnv, rng *rand.Rand) badReq {
			id := e.subs[rng.IntN(len(e.subs))]
			switch rng.IntN(5) {
			case 0:
				return e.controlReq("unknown action", http.MethodPost, "/api/subscriptions/"+id+"/actions/explode", nil)
			case 1:
				return e.controlReq("unknown subscription token", http.MethodPost, "/api/subscriptions/"+randGUID(rng)+"/token", nil)
			case 2:
				return e.controlReq("changePlan without plan", http.MethodPost, "/api/subscriptions/"+id+"/actions/changePlan", []byte(`{}`))
			case 3:
				return e.controlReq("/api/nothing", http.MethodGet, "/api/nothing", nil)
			default:
				return e.controlReq("/nothing", http.MethodGet, "/nothing", nil)
			}
		}},
		{"wrong-method", toControl, func(e *badEnv, rng *rand.Rand) badReq {
			if rng.IntN(2) == 0 {
				return e.controlReq("DELETE offers", http.MethodDelete, "/api/offers", nil)
			}
			return e.controlReq("PUT purchases", http.MethodPut, "/api/purchases", []byte(`{"planId":"flat-monthly"}`))
		}},
		{"cross-origin", toControl, func(e *badEnv, _ *rand.Rand) badReq {
			r := e.controlReq("Origin elsewhere", http.MethodPost, "/api/purchases", []byte(`{"planId":"flat-monthly"}`))
			r.req.Header.Set("Origin", "https://attacker.example")
			return r
		}},
		{"oversized-body", toControl, func(e *badEnv, _ *rand.Rand) badReq {
			return e.controlReq("64 KiB + 1 KiB", http.MethodPost, "/api/purchases", hugeControlBody)
		}},
		{"malformed-http", toControl, func(e *badEnv, rng *rand.Rand) badReq {
			return rawHTTP(e.control, "/api/purchases", "", rng)
		}},
		{"bad-token-request", toEntra, func(e *badEnv, rng *rand.Rand) badReq {
			good := url.Values{"grant_type": {"client_credentials"}, "client_id": {e.clientID},
				"client_secret": {"wrong-" + randText(rng, 8)}, "scope": {identity.MarketplaceAppID + "/.default"}}
			tokenPath := "/" + e.tenant + "/oauth2/v2.0/token"
			switch rng.IntN(6) {
			case 0:
				return e.entraReq("wrong secret", http.MethodPost, tokenPath, good.Encode())
			case 1:
				good.Set("grant_type", "password")
				return e.entraReq("password grant", http.MethodPost, tokenPath, good.Encode())
			case 2:
				return e.entraReq("garbage form", http.MethodPost, tokenPath, "%zz&&==;"+randText(rng, 10))
			case 3:
				return e.entraReq("unknown tenant", http.MethodPost, "/"+randGUID(rng)+"/oauth2/v2.0/token", good.Encode())
			case 4:
				return e.entraReq("GET token", http.MethodGet, tokenPath, "")
			default:
				return e.entraReq("unknown path", http.MethodGet, "/"+e.tenant+"/oauth2/v9/nothing", "")
			}
		}},
	}
}

func (e *badEnv) subPath(rng *rand.Rand, suffix string) string {
	return "/saas/subscriptions/" + e.subs[rng.IntN(len(e.subs))] + suffix + apiVersion
}

// apiReq is a Fulfillment API call that is right in every other respect:
// a valid token and GUID request ids.
func (e *badEnv) apiReq(variant, method, path string, body []byte, ctype string) badReq {
	r := newRequest(method, e.api+path, body)
	r.Header.Set("Authorization", e.bearer)
	r.Header.Set("x-ms-requestid", "3f0e6f1c-6a5e-4b1e-9d0a-7f4d2c1b0a99")
	r.Header.Set("x-ms-correlationid", "9b2d7c4e-1f3a-4e5d-8c6b-0a1f2e3d4c5b")
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return badReq{variant: variant, req: r}
}

func (e *badEnv) controlReq(variant, method, path string, body []byte) badReq {
	r := newRequest(method, e.control+path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return badReq{variant: variant, req: r}
}

func (e *badEnv) entraReq(variant, method, path, form string) badReq {
	var body []byte
	if form != "" {
		body = []byte(form)
	}
	r := newRequest(method, e.entra+path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return badReq{variant: variant, req: r}
}

func newRequest(method, target string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, target, rd)
	if err != nil {
		panic(fmt.Sprintf("load: bad-request catalogue built an invalid request %s %s: %v", method, target, err))
	}
	return r
}

// rawHTTP is a request an HTTP client would not send: broken framing or
// headers, written straight to a new connection.
func rawHTTP(base, path, bearer string, rng *rand.Rand) badReq {
	auth := ""
	if bearer != "" {
		auth = "Authorization: " + bearer + "\r\n"
	}
	var raw string
	var variant string
	half := false
	switch rng.IntN(5) {
	case 0:
		variant, raw = "header line without a colon", "GET "+path+" HTTP/1.1\r\nHost: x\r\nNo-Colon-Here\r\n\r\n"
	case 1:
		variant, raw = "no Host header", "GET "+path+" HTTP/1.1\r\n\r\n"
	case 2:
		variant, raw = "bad Content-Length", "POST "+path+" HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: abc\r\n\r\n{}"
	case 3:
		variant, raw = "broken chunked body", "POST "+path+" HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n"
	default:
		variant, raw, half = "body shorter than Content-Length", "POST "+path+" HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"planId\":", true
	}
	return badReq{variant: variant, rawURL: base, raw: []byte(raw), halfClose: half}
}

func randGUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randText(rng *rand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// outcome is what one bad request got.
type outcome struct {
	status   int
	ctype    string
	body     []byte
	err      error
	timedOut bool
}

// maxErrorBody is as much of an error body as is read and checked.
const maxErrorBody = 64 << 10

// send sends r and reads the answer, within e.timeout. ctx is only for
// values: the per-request deadline replaces its cancellation, so the end of
// the run does not turn a request in flight into a failure.
func (e *badEnv) send(ctx context.Context, r badReq) outcome {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.timeout)
	defer cancel()
	var o outcome
	if r.req != nil {
		resp, err := e.client.Do(r.req.WithContext(ctx))
		if err == nil {
			o.status, o.ctype = resp.StatusCode, resp.Header.Get("Content-Type")
			o.body, err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		o.err = err
	} else {
		o = e.sendRaw(ctx, r)
	}
	var ne net.Error
	if o.err != nil && (ctx.Err() != nil || errors.As(o.err, &ne) && ne.Timeout()) {
		o.timedOut = true
	}
	return o
}

func (e *badEnv) sendRaw(ctx context.Context, r badReq) outcome {
	u, err := url.Parse(r.rawURL)
	if err != nil {
		return outcome{err: err}
	}
	var conn net.Conn
	var d net.Dialer
	if u.Scheme == "https" {
		td := tls.Dialer{NetDialer: &d, Config: e.tls}
		conn, err = td.DialContext(ctx, "tcp", u.Host)
	} else {
		conn, err = d.DialContext(ctx, "tcp", u.Host)
	}
	if err != nil {
		return outcome{err: err}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(r.raw); err != nil {
		return outcome{err: err}
	}
	if r.halfClose {
		var err error
		switch c := conn.(type) {
		case *tls.Conn:
			err = c.CloseWrite()
		case *net.TCPConn:
			err = c.CloseWrite()
		}
		if err != nil {
			return outcome{err: err}
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	o := outcome{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type")}
	o.body, o.err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return o
}

// problem says what is wrong with an answer to a bad request, or "".
func (o outcome) problem() string {
	switch {
	case o.timedOut:
		return "no answer within the per-request timeout (hang)"
	case o.err != nil:
		return "no answer: " + o.err.Error()
	case o.status >= 500:
		if bytes.Contains(o.body, []byte("SaasconformHarnessBug")) {
			return fmt.Sprintf("%d (HarnessBug: the answer broke the spec)", o.status)
		}
		return fmt.Sprintf("%d server error", o.status)
	case o.status < 400:
		return fmt.Sprintf("%d: a bad request was not refused", o.status)
	case len(bytes.TrimSpace(o.body)) == 0:
		return fmt.Sprintf("%d with an empty body", o.status)
	}
	if strings.Contains(strings.ToLower(o.ctype), "json") {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(o.body, &obj); err != nil {
			return fmt.Sprintf("%d with a JSON body that does not parse: %v", o.status, err)
		}
		if v, ok := obj["error"]; !ok || len(v) == 0 || string(v) == "null" || string(v) == `""` {
			return fmt.Sprintf("%d with a JSON body without \"error\"", o.status)
		}
	}
	return ""
}

// KindStats is what one kind of bad request got.
type KindStats struct {
	Kind, Target string
	Sent         int64
	Failures     int64
	Statuses     map[int]int64 // by status; 0 counts requests with no answer
	FirstFailure string        // variant and problem of the first failure
}

// badDriver sends the bad requests of a run and keeps the tally.
type badDriver struct {
	env      *badEnv
	kinds    []badKind
	fraction float64
	max      int64
	rngs     []*rand.Rand // one per worker: a worker's sequence is reproducible
	sent     atomic.Int64

	mu    sync.Mutex
	stats []KindStats
}

func newBadDriver(env *badEnv, fraction float64, max int64, seed uint64, workers int) *badDriver {
	var kinds []badKind
	for _, k := range badCatalogue() {
		if k.target == toControl && env.control == "" {
			continue
		}
		kinds = append(kinds, k)
	}
	d := &badDriver{env: env, kinds: kinds, fraction: fraction, max: max}
	for w := 0; w < workers; w++ {
		d.rngs = append(d.rngs, rand.New(rand.NewPCG(seed, uint64(w))))
	}
	for _, k := range kinds {
		d.stats = append(d.stats, KindStats{Kind: k.name, Target: k.target, Statuses: map[int]int64{}})
	}
	return d
}

// maybe sends a bad request in place of worker's next one, as often as the
// fraction says and while the bound allows; it reports whether it did.
func (d *badDriver) maybe(ctx context.Context, worker int) bool {
	rng := d.rngs[worker]
	if rng.Float64() >= d.fraction {
		return false
	}
	if d.max > 0 && d.sent.Add(1) > d.max {
		return false
	}
	i := rng.IntN(len(d.kinds))
	r := d.kinds[i].build(d.env, rng)
	o := d.env.send(ctx, r)
	d.record(i, r.variant, o)
	return true
}

func (d *badDriver) record(i int, variant string, o outcome) {
	p := o.problem()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &d.stats[i]
	s.Sent++
	s.Statuses[o.status]++
	if p != "" {
		s.Failures++
		if s.FirstFailure == "" {
			s.FirstFailure = variant + ": " + truncate(p, 300)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// report copies the tally.
func (d *badDriver) report() []KindStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]KindStats, len(d.stats))
	for i, s := range d.stats {
		s.Statuses = copyMap(s.Statuses)
		out[i] = s
	}
	return out
}

func copyMap(m map[int]int64) map[int]int64 {
	out := make(map[int]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// BadReport is the bad-request mode's result.
type BadReport struct {
	Fraction    float64
	Seed        uint64
	Timeout     time.Duration
	Kinds       []KindStats
	Panics      int64 // "panic" lines the servers logged
	PanicSample string
	HarnessBugs int    // responses of the fake that broke the spec (answered 500)
	HarnessBug  string // the first, if any
	// Goroutines once the servers were up (before any request), and after
	// the drive once the client's connections were closed and the count
	// settled (polled until it is back, with a deadline).
	GoroutinesUp, GoroutinesSettled int
	MixErrors                       int64 // errors of the good requests around the bad ones
}

// Sent is the number of bad requests sent.
func (b *BadReport) Sent() int64 {
	var n int64
	for _, k := range b.Kinds {
		n += k.Sent
	}
	return n
}

// Failures lists why the run fails the robustness check; none when it passes.
func (b *BadReport) Failures() []string {
	var out []string
	for _, k := range b.Kinds {
		if k.Failures > 0 {
			out = append(out, fmt.Sprintf("%s/%s: %d of %d failed, first: %s", k.Target, k.Kind, k.Failures, k.Sent, k.FirstFailure))
		}
	}
	if b.Panics > 0 {
		out = append(out, fmt.Sprintf("%d panics logged by the servers, first: %s", b.Panics, b.PanicSample))
	}
	if b.HarnessBugs > 0 {
		out = append(out, fmt.Sprintf("%d HarnessBug answers, first: %s", b.HarnessBugs, truncate(b.HarnessBug, 300)))
	}
	if b.GoroutinesSettled > b.GoroutinesUp {
		out = append(out, fmt.Sprintf("goroutines grew: %d with the servers up before the drive, %d after it settled", b.GoroutinesUp, b.GoroutinesSettled))
	}
	if b.MixErrors > 0 {
		out = append(out, fmt.Sprintf("%d good requests of the mix failed among the bad ones", b.MixErrors))
	}
	if b.Sent() == 0 {
		out = append(out, "no bad request was sent")
	}
	return out
}

// statusSummary is "400×12 403×3" for a kind.
func statusSummary(m map[int]int64) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "none"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, m[c]))
	}
	return strings.Join(parts, " ")
}

// settleGoroutines waits, polling until deadline, for the goroutine count
// to fall to want or below, and returns the last count.
func settleGoroutines(want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// panicWatch counts "panic" in what the servers log (net/http logs a
// recovered handler panic through the standard logger, as the fakes' servers
// have no ErrorLog of their own) and passes everything on.
type panicWatch struct {
	next   io.Writer
	count  atomic.Int64
	mu     sync.Mutex
	sample string
}

func (p *panicWatch) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("panic")) {
		if p.count.Add(1) == 1 {
			p.mu.Lock()
			p.sample = truncate(strings.TrimSpace(string(b)), 300)
			p.mu.Unlock()
		}
	}
	return p.next.Write(b)
}

func (p *panicWatch) first() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sample
}

// noRedirect keeps the bad-request client from following redirects: a 3xx
// answer is what is checked.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
