package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/control"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/microsoft"
)

// TestRunSmall drives both mixes briefly with tiny numbers: the driver must
// send requests, see no errors and leave no contract violations.
func TestRunSmall(t *testing.T) {
	for _, cl := range []string{"lean", "std"} {
		t.Run(cl, func(t *testing.T) { testRunSmall(t, cl) })
	}
}

func testRunSmall(t *testing.T, cl string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, Config{Duration: 500 * time.Millisecond, Concurrency: 2, Subs: 6, Mix: "all", Client: cl})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Phases) != 2 {
		t.Fatalf("phases = %d, want 2", len(r.Phases))
	}
	for _, p := range r.Phases {
		if p.Ops == 0 || p.Requests == 0 {
			t.Errorf("%s: %d ops, %d requests; want > 0", p.Mix, p.Ops, p.Requests)
		}
		if p.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", p.Mix, p.Errors, p.FirstError)
		}
	}
	if r.Violations != 0 {
		t.Errorf("%d contract violations recorded", r.Violations)
	}
	if r.Seeded != 6 {
		t.Errorf("seeded %d, want 6", r.Seeded)
	}
	var out bytes.Buffer
	printResult(&out, r)
	if !strings.Contains(out.String(), "GET mix requests/s") || !strings.Contains(out.String(), "lifecycles/s") {
		t.Errorf("table lacks rows:\n%s", out.String())
	}
}

// TestRunBad runs the bad-request mode briefly: every malformed request must
// get a 4xx with an error body, the good ones around them must not fail, and
// nothing may panic or leave goroutines behind.
func TestRunBad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, Config{Duration: 500 * time.Millisecond, Concurrency: 2, Subs: 6, Mix: "get",
		Bad: 0.5, Seed: 7, BadTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Bad == nil || r.Bad.Sent() == 0 {
		t.Fatalf("no bad request sent: %+v", r.Bad)
	}
	if fs := r.BadFailures(); len(fs) > 0 {
		t.Errorf("robustness check failed:\n%s", strings.Join(fs, "\n"))
	}
	if r.Phases[0].Ops == 0 {
		t.Error("no good request completed among the bad ones")
	}
	var out bytes.Buffer
	printBad(&out, r)
	if !strings.Contains(out.String(), "robustness: passed") {
		t.Errorf("report:\n%s", out.String())
	}
}

// startForBad brings up Microsoft's side and a control server, with a few
// subscriptions, and aims a bad-request environment at them.
func startForBad(t *testing.T) *badEnv {
	t.Helper()
	side, err := microsoft.Start(microsoft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = side.Close() })
	ctrl, err := control.New(control.Config{Side: side})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := side.CA.ServeAt("127.0.0.1:0", ctrl, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(); ctrl.Close() })
	tok, _, err := side.Identity.AccessToken(side.App, identity.MarketplaceAppID, identity.V2)
	if err != nil {
		t.Fatal(err)
	}
	var subs []string
	for range 3 {
		p, err := side.Marketplace.Purchase(marketplace.PurchaseRequest{OfferID: offerID, PlanID: planID})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, p.SubscriptionID)
	}
	tr := &http.Transport{TLSClientConfig: side.CA.ClientConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	return &badEnv{client: &http.Client{Transport: tr, CheckRedirect: noRedirect}, tls: side.CA.ClientConfig(),
		api: side.MarketplaceURL, control: srv.URL, entra: side.AuthorityURL, tenant: side.App.TenantID,
		clientID: side.App.ClientID, bearer: "Bearer " + tok, subs: subs, timeout: 10 * time.Second}
}

// TestBadCatalogueAgainstTheFakes sends every kind of the catalogue, with
// several seeds so that most variants come up, to the real servers: each
// must be refused properly. (TestRunBad's random draw may miss a kind.)
func TestBadCatalogueAgainstTheFakes(t *testing.T) {
	env := startForBad(t)
	d := newBadDriver(env, 1, 0, 0, 1)
	for i, k := range d.kinds {
		for seed := range uint64(6) {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			r := k.build(env, rng)
			o := env.send(context.Background(), r)
			if p := o.problem(); p != "" {
				t.Errorf("%s/%s (%s): %s; body %.200s", k.target, k.name, r.variant, p, o.body)
			}
		}
	}
	if len(d.kinds) != len(badCatalogue()) {
		t.Errorf("%d kinds in use, the catalogue has %d", len(d.kinds), len(badCatalogue()))
	}
}

// badServerEnv aims every kind at one test server.
func badServerEnv(t *testing.T, h http.Handler, timeout time.Duration) *badEnv {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	cl := srv.Client()
	cl.CheckRedirect = noRedirect
	t.Cleanup(cl.CloseIdleConnections)
	return &badEnv{client: cl, tls: cl.Transport.(*http.Transport).TLSClientConfig, api: srv.URL + "/api",
		control: srv.URL, entra: srv.URL, tenant: "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b", clientID: "app",
		bearer: "Bearer header.payload.signature", subs: []string{"7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40"}, timeout: timeout}
}

// sendEveryKind sends each kind of the catalogue twice and returns the
// driver's tally.
func sendEveryKind(env *badEnv) []KindStats {
	d := newBadDriver(env, 1, 0, 3, 1)
	for i, k := range d.kinds {
		for range 2 {
			r := k.build(env, d.rngs[0])
			d.record(i, r.variant, env.send(context.Background(), r))
		}
	}
	return d.report()
}

// TestBadCheckCatchesWrongAnswers proves the check can fail: servers that
// answer bad requests with a 5xx, a 2xx, an empty or shapeless error, or not
// at all are each caught.
func TestBadCheckCatchesWrongAnswers(t *testing.T) {
	cases := []struct {
		name, want string
		h          http.HandlerFunc
	}{
		{"500", "500 server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
		{"HarnessBug", "HarnessBug", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"code":"SaasconformHarnessBug","message":"x"}}`))
		}},
		{"200", "was not refused", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{}`))
		}},
		{"empty 400", "empty body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
		}},
		{"400 JSON without error", `without "error"`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"bad"}`))
		}},
		{"hang", "hang", nil}, // below
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				// Answer only when the test ends (a server does not notice
				// a client leaving while the request body is unread).
				release := make(chan struct{})
				h = func(http.ResponseWriter, *http.Request) { <-release }
				defer close(release) // before the server's cleanup waits for its handlers
			}
			stats := sendEveryKind(badServerEnv(t, h, 100*time.Millisecond))
			var failed int64
			for _, k := range stats {
				failed += k.Failures
				// The raw kinds' broken framing is refused by net/http
				// itself before the handler runs; every other kind reaches
				// the handler and must be caught.
				if k.Kind != "malformed-http" && k.Sent > 0 && k.Failures != k.Sent {
					t.Errorf("%s/%s: %d of %d caught", k.Target, k.Kind, k.Failures, k.Sent)
				}
				if k.Failures > 0 && !strings.Contains(k.FirstFailure, c.want) {
					t.Errorf("%s/%s: first failure %q, want it to mention %q", k.Target, k.Kind, k.FirstFailure, c.want)
				}
			}
			if failed == 0 {
				t.Fatal("nothing caught")
			}
			r := BadReport{Kinds: stats, GoroutinesUp: 1, GoroutinesSettled: 1}
			if len(r.Failures()) == 0 {
				t.Error("the report does not fail")
			}
		})
	}
}

// TestBadCheckCatchesPanics: a handler that panics drops the connection
// (net/http recovers and logs it); both the dropped answer and the logged
// panic are caught.
func TestBadCheckCatchesPanics(t *testing.T) {
	pw := &panicWatch{next: io.Discard}
	prev := log.Writer()
	log.SetOutput(pw)
	defer log.SetOutput(prev)
	stats := sendEveryKind(badServerEnv(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler bug")
	}), 5*time.Second))
	r := BadReport{Kinds: stats, Panics: pw.count.Load(), PanicSample: pw.first()}
	if r.Panics == 0 {
		t.Error("no panic counted")
	}
	fs := strings.Join(r.Failures(), "\n")
	if !strings.Contains(fs, "panics logged") || !strings.Contains(fs, "no answer") {
		t.Errorf("failures do not name the panic and the dropped answers:\n%s", fs)
	}
}

// TestGoroutineGrowthIsCaught: a goroutine left running after the drive
// keeps the settled count above the baseline, and the report fails.
func TestGoroutineGrowthIsCaught(t *testing.T) {
	// The baseline is taken once earlier tests' goroutines (servers
	// closing, say) have ended: a count read while one of them is still
	// on its way out would hide the leak below (the test failed that way).
	base := stableGoroutines()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { <-stop; close(done) }()
	grown := settleGoroutines(base, 50*time.Millisecond)
	close(stop)
	<-done
	if grown <= base {
		t.Fatalf("settled at %d with a goroutine leaked, baseline %d", grown, base)
	}
	r := BadReport{GoroutinesUp: base, GoroutinesSettled: grown, Kinds: []KindStats{{Kind: "k", Sent: 1}}}
	if fs := strings.Join(r.Failures(), "\n"); !strings.Contains(fs, "goroutines grew") {
		t.Errorf("failures: %q", fs)
	}
	if n := settleGoroutines(base, 5*time.Second); n > base {
		t.Errorf("still %d goroutines after the leak ended, baseline %d", n, base)
	}
}

// TestLeanClient: keep-alive reuse, an answer that closes the connection,
// a chunked answer, a body sent, and a GET retried once when the server
// closed the pooled connection.
func TestLeanClient(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-test") != "yes" || r.Header.Get("User-Agent") == "" {
			http.Error(w, "headers missing", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/base/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusAccepted)
		case "/base/chunked":
			_, _ = w.Write([]byte("part one "))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte("part two"))
		case "/base/echo":
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	var dials atomic.Int64
	lc, err := newLeanClient(srv.URL+"/base", srv.Client().Transport.(*http.Transport).TLSClientConfig, 1, &dials)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.closeIdle()
	ctx := context.Background()
	hdr := []string{"x-test", "yes"}
	steps := []struct {
		method, path string
		body         []byte
		status       int
		dials        int64 // after the step
	}{
		{"GET", "/ok?x=1", nil, 200, 1},
		{"GET", "/ok", nil, 200, 1}, // reused
		{"GET", "/chunked", nil, 200, 1},
		{"POST", "/echo", []byte(`{"a":1}`), 201, 1},
		{"POST", "/echo", nil, 201, 1},
		{"GET", "/close", nil, 202, 1}, // the server closes: not pooled
		{"GET", "/ok", nil, 200, 2},
	}
	for i, s := range steps {
		st, err := lc.do(ctx, s.method, s.path, s.body, hdr)
		if err != nil || st != s.status || dials.Load() != s.dials {
			t.Fatalf("step %d %s %s: status %d, err %v, %d dials; want %d and %d dials", i, s.method, s.path, st, err, dials.Load(), s.status, s.dials)
		}
	}
	mu.Lock()
	if len(bodies) != 2 || bodies[0] != `{"a":1}` || bodies[1] != "" {
		t.Errorf("bodies received: %q", bodies)
	}
	mu.Unlock()
	// The server drops the pooled connection: the next GET is retried once.
	srv.CloseClientConnections()
	if st, err := lc.do(ctx, "GET", "/ok", nil, hdr); err != nil || st != 200 {
		t.Fatalf("after the server closed the connection: %d, %v", st, err)
	}
	if dials.Load() != 3 {
		t.Errorf("%d dials, want 3", dials.Load())
	}
}

// stableGoroutines is the goroutine count once it has not changed for
// 100 ms (or after 5 s).
func stableGoroutines() int {
	n, since := runtime.NumGoroutine(), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		} else if time.Since(since) >= 100*time.Millisecond {
			break
		}
	}
	return n
}
