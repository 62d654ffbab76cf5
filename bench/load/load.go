package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/harness/control"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/microsoft"
	"github.com/saasconform/saasconform/harness/statefile"
)

const (
	offerID    = "contoso-notes"
	planID     = "flat-monthly" // flat-rate: activate sends planId only
	apiVersion = "?api-version=2018-08-31"
	// maxSamples bounds the latency samples a worker keeps (memory stays
	// bounded however long the run); beyond it samples are overwritten
	// round-robin, which keeps the percentiles representative.
	maxSamples = 1 << 20
)

// Config is one load run.
type Config struct {
	Duration    time.Duration
	Concurrency int
	Subs        int    // subscriptions seeded before the drive
	Mix         string // get, lifecycle or all
	// Client is the publisher's HTTP client: "lean" (the default, lean.go)
	// or "std" (net/http's Transport).
	Client string

	// Bad-request mode, on when Bad > 0 (bad.go): that fraction of the
	// mix's requests is replaced with malformed ones, to the Fulfillment
	// API, a control API server the run hosts, and the fake Entra ID.
	Bad        float64       // 0..1
	Seed       uint64        // seeds each worker's choice of bad requests
	BadTimeout time.Duration // per bad request; 0: 5s
	BadMax     int64         // at most this many bad requests; 0: only the duration bounds them

	// State journals every change to a state file in a temporary folder,
	// as `serve -state` does.
	State bool
	// Proxy sends the publisher's calls through the intercepting proxy to
	// Microsoft's host names (needs the std client: CONNECT is net/http's).
	Proxy bool
}

// Phase is what one mix measured.
type Phase struct {
	Mix        string
	Ops        int64 // requests (get) or lifecycles (lifecycle)
	Requests   int64 // HTTP requests sent
	Errors     int64
	FirstError string
	Elapsed    time.Duration
	P50, P99   time.Duration // per request (get) or per lifecycle
}

// Rate is Ops per second.
func (p Phase) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Ops) / p.Elapsed.Seconds()
}

// Result is a whole run.
type Result struct {
	Config          Config
	Seeded          int // subscriptions after seeding
	StoredAtEnd     int // subscriptions stored when the drive ended
	SeedTime        time.Duration
	Phases          []Phase
	RSSSeeded       int64 // bytes, VmRSS after seeding
	RSSEnd          int64 // bytes, VmRSS when the drive ended
	HeapSeeded      uint64
	HeapEnd         uint64
	GoroutinesStart int   // before microsoft.Start
	GoroutinesDrive int   // when the drive ended, servers still up
	GoroutinesEnd   int   // after Close and idle connections closed
	Violations      int   // recorded by the two-way validation
	Exchanges       int   // exchanges the Side kept
	Connections     int64 // TCP connections the client opened
	StateBytes      int64 // -state: the journal's size at the end of the drive
	Bad             *BadReport
}

// BadFailures lists why a bad-request run fails its robustness check (none
// when it passes, or when the mode was off).
func (r Result) BadFailures() []string {
	if r.Bad == nil {
		return nil
	}
	out := r.Bad.Failures()
	if r.GoroutinesEnd > r.GoroutinesStart {
		out = append(out, fmt.Sprintf("goroutines left after close: %d, %d before the servers started", r.GoroutinesEnd, r.GoroutinesStart))
	}
	return out
}

// client is the publisher's side of the load: keep-alive connections, one
// bearer token for the whole run.
type client struct {
	http   *http.Client
	lean   *leanClient // when set, every request goes through it instead of http
	base   string
	bearer string
	bought atomic.Int64 // purchases made through the client
	// control is the control API's base URL; lifecycles buy through it,
	// as a developer's script against serve would.
	control     string
	controlHTTP *http.Client
}

func (c *client) do(ctx context.Context, method, path string, body []byte, hdr ...string) (int, error) {
	if c.lean != nil {
		h := make([]string, 0, 6+len(hdr))
		h = append(h, "Authorization", c.bearer, "x-ms-requestid", uuid.NewString(), "x-ms-correlationid", uuid.NewString())
		return c.lean.do(ctx, method, path, body, append(h, hdr...))
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", c.bearer)
	req.Header.Set("x-ms-requestid", uuid.NewString())
	req.Header.Set("x-ms-correlationid", uuid.NewString())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

var activateBody = []byte(`{"planId":"` + planID + `"}`)

var purchaseBody = []byte(`{"offerId":"` + offerID + `","planId":"` + planID + `"}`)

// lifecycle buys one subscription through the control API, then resolves
// and activates it through the Fulfillment API: three HTTP requests.
func (c *client) lifecycle(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.control+"/api/purchases", bytes.NewReader(purchaseBody))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.controlHTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("purchase: %w", err)
	}
	var p struct {
		SubscriptionID string `json:"subscriptionId"`
		Token          string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&p)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil || p.Token == "" {
		return 1, fmt.Errorf("purchase: status %d (%v)", resp.StatusCode, err)
	}
	c.bought.Add(1)
	st, err := c.do(ctx, http.MethodPost, "/saas/subscriptions/resolve"+apiVersion, nil, "x-ms-marketplace-token", p.Token)
	if err != nil {
		return 0, fmt.Errorf("resolve: %w", err)
	}
	if st != http.StatusOK {
		return 2, fmt.Errorf("resolve: status %d", st)
	}
	st, err = c.do(ctx, http.MethodPost, "/saas/subscriptions/"+p.SubscriptionID+"/activate"+apiVersion, activateBody)
	if err != nil {
		return 2, fmt.Errorf("activate: %w", err)
	}
	if st != http.StatusOK {
		return 3, fmt.Errorf("activate: status %d", st)
	}
	return 3, nil
}

// Run starts Microsoft's side on loopback, seeds cfg.Subs subscriptions and
// drives the mix for cfg.Duration. ctx bounds everything.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if cfg.Concurrency < 1 || cfg.Subs < 1 || cfg.Duration <= 0 {
		return res, errors.New("load: concurrency and subs must be ≥ 1 and duration > 0")
	}
	if cfg.Bad < 0 || cfg.Bad > 1 || cfg.BadMax < 0 || cfg.BadTimeout < 0 {
		return res, errors.New("load: -bad must be within 0..1, -bad-max and -bad-timeout not negative")
	}
	if cfg.BadTimeout == 0 {
		cfg.BadTimeout = 5 * time.Second
	}
	var mixes []string
	switch cfg.Mix {
	case "get", "lifecycle":
		mixes = []string{cfg.Mix}
	case "all":
		mixes = []string{"get", "lifecycle"}
	default:
		return res, fmt.Errorf("load: unknown mix %q (get, lifecycle or all)", cfg.Mix)
	}
	switch cfg.Client {
	case "":
		cfg.Client = "lean"
	case "lean", "std":
	default:
		return res, fmt.Errorf("load: unknown client %q (lean or std)", cfg.Client)
	}
	res.Config = cfg
	res.GoroutinesStart = runtime.NumGoroutine()
	var panics *panicWatch
	if cfg.Bad > 0 {
		// The servers log recovered handler panics through the standard
		// logger: count them.
		panics = &panicWatch{next: log.Writer()}
		log.SetOutput(panics)
		defer log.SetOutput(panics.next)
	}

	var state *statefile.File
	if cfg.State {
		dir, err := os.MkdirTemp("", "saasconform-load-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		if state, err = statefile.Open(filepath.Join(dir, "fake.state"), statefile.Options{}); err != nil {
			return res, err
		}
		defer state.Close()
	}
	side, err := microsoft.Start(microsoft.Options{
		MarketplaceAddr: "127.0.0.1:0", IdentityAddr: "127.0.0.1:0", State: state, Proxy: cfg.Proxy,
		MaxExchanges: 5000, MaxViolations: 10000, // as serve does: bounded transcript, log and events
		Marketplace: []marketplace.Option{marketplace.WithMaxEvents(5000)},
		// One bearer token must outlive the whole run.
		TokenLifetime: 24 * time.Hour,
	})
	if err != nil {
		return res, err
	}
	var dialer net.Dialer
	var dials atomic.Int64
	tr := &http.Transport{
		// Count the connections: keep-alive should hold them near Concurrency.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     side.CA.ClientConfig(),
		MaxIdleConns:        4 * cfg.Concurrency,
		MaxIdleConnsPerHost: 2 * cfg.Concurrency,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if cfg.Proxy {
		proxyURL, err := url.Parse(side.ProxyURL)
		if err != nil {
			return res, err
		}
		tr.Proxy = http.ProxyURL(proxyURL)
	}
	var closers []func() error // run before side.Close
	defer func() {
		tr.CloseIdleConnections()
		for _, c := range closers {
			if cerr := c(); err == nil {
				err = cerr
			}
		}
		if cerr := side.Close(); err == nil {
			err = cerr
		}
		// Let the server and transport goroutines wind down, boundedly.
		res.GoroutinesEnd = settleGoroutines(res.GoroutinesStart, 5*time.Second)
	}()
	// The control API, as serve hosts it: plain HTTP on loopback.
	ctrl, err := control.New(control.Config{Side: side})
	if err != nil {
		return res, err
	}
	ctrlSrv, err := side.CA.ServeAt("127.0.0.1:0", ctrl, true)
	if err != nil {
		return res, err
	}
	controlURL := ctrlSrv.URL
	ctr := &http.Transport{MaxIdleConnsPerHost: 2 * cfg.Concurrency, IdleConnTimeout: 30 * time.Second}
	closers = append(closers, func() error {
		ctr.CloseIdleConnections()
		err := ctrlSrv.Close()
		ctrl.Close()
		return err
	})
	var badClient *http.Client
	if cfg.Bad > 0 {
		// Bad requests get a transport of their own: the connections they
		// break do not count against the mix's keep-alive.
		btr := &http.Transport{TLSClientConfig: side.CA.ClientConfig(), MaxIdleConnsPerHost: cfg.Concurrency,
			IdleConnTimeout: 30 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
		closers = append(closers, func() error { btr.CloseIdleConnections(); return nil })
		badClient = &http.Client{Transport: btr, CheckRedirect: noRedirect}
	}
	goroutinesUp := runtime.NumGoroutine()
	tok, _, err := side.Identity.AccessToken(side.App, identity.MarketplaceAppID, identity.V2)
	if err != nil {
		return res, err
	}
	c := &client{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: side.MarketplaceURL, bearer: "Bearer " + tok,
		control: controlURL, controlHTTP: &http.Client{Transport: ctr, Timeout: 30 * time.Second}}
	if cfg.Client == "lean" {
		if c.lean, err = newLeanClient(side.MarketplaceURL, side.CA.ClientConfig(), 2*cfg.Concurrency, &dials); err != nil {
			return res, err
		}
		if cfg.Proxy {
			c.lean.proxy = strings.TrimPrefix(side.ProxyURL, "http://")
		}
		closers = append(closers, func() error { c.lean.closeIdle(); return nil })
	}

	// Seed: every subscription bought; half resolved and activated over
	// HTTP, then suspended and reinstated, so they carry operations.
	seedStart := time.Now()
	ids := make([]string, 0, cfg.Subs)
	if err := seed(ctx, c, side.Marketplace, cfg, &ids); err != nil {
		return res, err
	}
	res.SeedTime = time.Since(seedStart)
	res.Seeded = len(ids)
	res.RSSSeeded, res.HeapSeeded = memory()

	var bad *badDriver
	if cfg.Bad > 0 {
		env := &badEnv{client: badClient, tls: side.CA.ClientConfig(), api: side.MarketplaceURL, control: controlURL,
			entra: side.AuthorityURL, tenant: side.App.TenantID, clientID: side.App.ClientID, bearer: c.bearer,
			subs: ids, timeout: cfg.BadTimeout}
		bad = newBadDriver(env, cfg.Bad, cfg.BadMax, cfg.Seed, cfg.Concurrency)
	}
	// withBad sends a bad request in place of some of op's.
	withBad := func(op func(ctx context.Context, w, i int) (int64, int, error)) func(ctx context.Context, w, i int) (int64, int, error) {
		if bad == nil {
			return op
		}
		return func(ctx context.Context, w, i int) (int64, int, error) {
			if bad.maybe(ctx, w) {
				return 0, 1, nil
			}
			return op(ctx, w, i)
		}
	}

	for _, mix := range mixes {
		dctx, cancel := context.WithTimeout(ctx, cfg.Duration)
		var ph Phase
		if mix == "get" {
			ph = drive(dctx, cfg.Concurrency, "get", withBad(func(ctx context.Context, w, i int) (int64, int, error) {
				id := ids[(w*7919+i)%len(ids)]
				var path string
				switch i % 3 {
				case 0:
					path = "/saas/subscriptions/" + id + apiVersion
				case 1:
					path = "/saas/subscriptions/" + id + "/listAvailablePlans" + apiVersion
				default:
					path = "/saas/subscriptions/" + id + "/operations" + apiVersion
				}
				st, err := c.do(ctx, http.MethodGet, path, nil)
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("GET %s: status %d", path, st)
				}
				if err != nil {
					return 0, 1, err
				}
				return 1, 1, nil
			}))
		} else {
			ph = drive(dctx, cfg.Concurrency, "lifecycle", withBad(func(ctx context.Context, _, _ int) (int64, int, error) {
				n, err := c.lifecycle(ctx)
				if err != nil {
					return 0, n, err
				}
				return 1, n, nil
			}))
		}
		cancel()
		res.Phases = append(res.Phases, ph)
	}
	res.Connections = dials.Load()
	res.RSSEnd, res.HeapEnd = memory()
	res.StoredAtEnd = res.Seeded + int(c.bought.Load())
	res.GoroutinesDrive = runtime.NumGoroutine()
	res.Violations = side.Log.Len() + side.Log.Dropped()
	if state != nil {
		if st, err := os.Stat(state.Path()); err == nil {
			res.StateBytes = st.Size()
		}
	}
	res.Exchanges = len(side.Exchanges())
	if bad != nil {
		b := &BadReport{Fraction: cfg.Bad, Seed: cfg.Seed, Timeout: cfg.BadTimeout, Kinds: bad.report(),
			GoroutinesUp: goroutinesUp}
		for _, p := range res.Phases {
			b.MixErrors += p.Errors
		}
		if bugs := side.API.HarnessBugs(); len(bugs) > 0 {
			b.HarnessBugs, b.HarnessBug = len(bugs), bugs[0].Error()
		}
		// Close every client connection and let the servers' goroutines
		// for them end: what stays is growth.
		tr.CloseIdleConnections()
		if c.lean != nil {
			c.lean.closeIdle()
		}
		badClient.Transport.(*http.Transport).CloseIdleConnections()
		b.GoroutinesSettled = settleGoroutines(goroutinesUp, 10*time.Second)
		b.Panics, b.PanicSample = panics.count.Load(), panics.first()
		res.Bad = b
	}
	return res, nil
}

func seed(ctx context.Context, c *client, m *marketplace.Marketplace, cfg Config, ids *[]string) error {
	type job struct {
		p        marketplace.Purchase
		activate bool
	}
	jobs := make(chan job)
	errc := make(chan error, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if !j.activate {
					continue
				}
				st, err := c.do(ctx, http.MethodPost, "/saas/subscriptions/resolve"+apiVersion, nil, "x-ms-marketplace-token", j.p.Token)
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("seed resolve: status %d", st)
				}
				if err == nil {
					st, err = c.do(ctx, http.MethodPost, "/saas/subscriptions/"+j.p.SubscriptionID+"/activate"+apiVersion, activateBody)
					if err == nil && st != http.StatusOK {
						err = fmt.Errorf("seed activate: status %d", st)
					}
				}
				if err == nil {
					if _, err = m.Suspend(j.p.SubscriptionID); err == nil {
						_, err = m.Reinstate(j.p.SubscriptionID)
					}
				}
				if err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	var err error
	for i := 0; i < cfg.Subs && err == nil; i++ {
		var p marketplace.Purchase
		if p, err = m.Purchase(marketplace.PurchaseRequest{OfferID: offerID, PlanID: planID}); err != nil {
			break
		}
		*ids = append(*ids, p.SubscriptionID)
		select {
		case jobs <- job{p: p, activate: i%2 == 0}:
		case err = <-errc:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// drive runs op on n workers until ctx ends. op returns the operations it
// completed and the HTTP requests it sent.
func drive(ctx context.Context, n int, mix string, op func(ctx context.Context, worker, i int) (int64, int, error)) Phase {
	var ops, reqs, errs atomic.Int64
	var firstErr atomic.Value
	samples := make([][]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for i := 0; ctx.Err() == nil; i++ {
				t := time.Now()
				k, r, err := op(ctx, w, i)
				d := time.Since(t)
				reqs.Add(int64(r))
				if err != nil {
					if ctx.Err() != nil {
						break // the deadline cut this one short: not an error
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ops.Add(k)
				if k == 0 {
					continue // nothing measured (a bad request in place of one)
				}
				if len(lat) < maxSamples {
					lat = append(lat, d)
				} else {
					lat[i%maxSamples] = d
				}
			}
			samples[w] = lat
		}(w)
	}
	wg.Wait()
	ph := Phase{Mix: mix, Ops: ops.Load(), Requests: reqs.Load(), Errors: errs.Load(), Elapsed: time.Since(start)}
	if v, ok := firstErr.Load().(string); ok {
		ph.FirstError = v
	}
	all := slices.Concat(samples...)
	slices.Sort(all)
	ph.P50, ph.P99 = pct(all, 50), pct(all, 99)
	return ph
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[min(i, len(sorted)-1)]
}

// memory returns VmRSS (from /proc/self/status, 0 when unreadable) and the
// Go heap in use after a collection.
func memory() (int64, uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return vmRSS(), ms.HeapInuse
}

func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
