// Package app is an example SaaS backend that integrates with the
// Microsoft commercial marketplace's SaaS Fulfillment API v2: the landing
// page, the webhook, and the publisher's own changes. It is written to be
// read and copied; the deliberate mistakes (mistakes.go) are switches that
// are off unless asked for.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// queueSize bounds the webhook work waiting for the worker.
const queueSize = 256

// App is the publisher's backend.
type App struct {
	cfg     Config
	log     *slog.Logger
	mistake Mistake
	store   Store
	api     *Client
	auth    *webhookAuth
	policy  policy

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	queueMu sync.RWMutex
	queue   chan job
	closed  bool
	done    chan struct{}
}

// New builds the App and starts its webhook worker. It contacts nothing:
// tokens and OpenID metadata are fetched on first use.
func New(cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var tokens tokenSource
	msal, err := newMSALTokens(cfg)
	if err != nil {
		return nil, err
	}
	tokens = msal
	if cfg.Mistake == TokenCachedPastExpiry {
		tokens = &foreverToken{inner: msal} // MISTAKE-08
	}
	api, err := newClient(cfg.MarketplaceURL, cfg.HTTPClient, tokens, cfg.Mistake)
	if err != nil {
		return nil, fmt.Errorf("SAAS_MARKETPLACE_URL: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &App{
		cfg: cfg, log: log, mistake: cfg.Mistake,
		store: NewMemoryStore(), api: api, auth: newWebhookAuth(cfg), policy: newPolicy(cfg),
		ctx: ctx, cancel: cancel,
		queue: make(chan job, queueSize), done: make(chan struct{}),
	}
	if a.mistake != NoMistake {
		log.Warn("MISTAKE MODE: this publisher misbehaves on purpose", "mistake", string(a.mistake))
	}
	go a.work()
	return a, nil
}

// defaultHTTPClient trusts the system roots (Go reads SSL_CERT_FILE) and
// never waits forever.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// Handler serves the landing page, the webhook, the admin API and /healthz.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /landing", a.handleLanding)
	mux.HandleFunc("POST /landing/activate", a.handleActivate)
	mux.HandleFunc("POST /webhook", a.handleWebhook)
	mux.HandleFunc("GET /admin/subscriptions/{id}", a.handleGetAccount)
	mux.HandleFunc("POST /admin/subscriptions/{id}/plan", a.handleChangePlan)
	mux.HandleFunc("POST /admin/subscriptions/{id}/seats", a.handleChangeSeats)
	mux.HandleFunc("POST /admin/subscriptions/{id}/cancel", a.handleCancel)
	mux.HandleFunc("POST /admin/reconcile", a.handleReconcile)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	return mux
}

// Close stops accepting webhook work, lets the worker finish what is queued
// and waits for it. It is safe to call more than once.
func (a *App) Close() {
	a.queueMu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.queueMu.Unlock()
	<-a.done
	a.cancel()
}
