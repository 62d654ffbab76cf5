// Package proxy is the intercepting HTTP(S) proxy that lets an app reach the
// fakes under Microsoft's real host names, with no change to the app: the
// app gets HTTPS_PROXY, trusts the run's CA, and keeps calling
// https://login.microsoftonline.com and https://marketplaceapi.microsoft.com
// as in production.
//
// A CONNECT to a host the proxy routes is terminated with a certificate the
// run's CA signs for that host, and each request inside it is forwarded to
// the fake that plays the host. Plain-HTTP requests to those hosts are
// forwarded the same way. Every other host is refused (403 for plain HTTP,
// a refused CONNECT for HTTPS) and reported, so an app that calls an
// unknown endpoint is seen and never reaches the internet — unless the
// target lets that host through (Options.Passthrough).
//
// The CONNECT and TLS handling is github.com/elazarl/goproxy's; what is ours
// is which host goes where and the report of what was refused.
package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/saasconform/saasconform/harness/tlsca"
)

// Options shape a proxy.
type Options struct {
	// Addr is where the proxy listens; default 127.0.0.1:0.
	Addr string
	// CA signs the certificates presented for routed hosts.
	CA *tlsca.CA
	// Routes maps a host name (no port) to the base URL of the fake that
	// answers for it, e.g. "login.microsoftonline.com" →
	// "https://127.0.0.1:8444".
	Routes map[string]string
	// Handlers, when a host has one, answer that host's requests in the
	// proxy's own process instead of a second connection to Routes[host]:
	// the fakes' handlers, when they run in the same process. A host needs
	// a route or a handler.
	Handlers map[string]http.Handler
	// Upstream reaches the fakes (it must trust CA when they serve HTTPS);
	// default a transport that trusts CA.
	Upstream http.RoundTripper
	// Passthrough hosts are tunnelled (CONNECT) or forwarded (plain HTTP)
	// untouched. A name "*.example.com" matches every subdomain.
	Passthrough []string
	// OnRefused is told of every refused request, as it happens.
	OnRefused func(Refusal)
}

// Refusal is one request the proxy would not carry.
type Refusal struct {
	At     time.Time `json:"at"`
	Method string    `json:"method"` // CONNECT for an HTTPS tunnel
	Host   string    `json:"host"`
	URL    string    `json:"url"`
	Reason string    `json:"reason"`
}

// Proxy is a running proxy.
type Proxy struct {
	// URL is the proxy's address as apps take it: http://127.0.0.1:PORT.
	URL string

	opts     Options
	routes   map[string]*url.URL
	handlers map[string]http.Handler
	upstream goproxy.RoundTripper
	srv      *http.Server
	certs    sync.Map // host → *tls.Config
	mu       sync.Mutex
	refused  []Refusal
}

// Start listens and serves until Close.
func Start(o Options) (*Proxy, error) {
	if o.CA == nil {
		return nil, errors.New("proxy: no CA to sign the routed hosts' certificates")
	}
	p := &Proxy{opts: o, routes: map[string]*url.URL{}, handlers: map[string]http.Handler{}}
	for host, h := range o.Handlers {
		if h == nil {
			return nil, fmt.Errorf("proxy: handler for %s is nil", host)
		}
		p.handlers[strings.ToLower(host)] = h
		if _, ok := o.Routes[host]; !ok {
			p.routes[strings.ToLower(host)] = &url.URL{Scheme: "https", Host: host}
		}
	}
	for host, base := range o.Routes {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("proxy: route %s → %q is not an http(s) base URL", host, base)
		}
		p.routes[strings.ToLower(host)] = u
	}
	for _, h := range o.Passthrough {
		if h == "" || strings.ContainsAny(h, "/: ") {
			return nil, fmt.Errorf("proxy: passthrough host %q is not a host name", h)
		}
	}
	upstream := o.Upstream
	if upstream == nil {
		upstream = &http.Transport{TLSClientConfig: o.CA.ClientConfig(), Proxy: nil, MaxIdleConnsPerHost: 16,
			IdleConnTimeout: 30 * time.Second}
	}

	gp := goproxy.NewProxyHttpServer()
	gp.Logger = log.New(io.Discard, "", 0)
	gp.NonproxyHandler = http.HandlerFunc(p.notAProxyRequest)
	gp.OnRequest().HandleConnectFunc(p.connect)
	gp.OnRequest().DoFunc(p.request)
	// Passthrough requests go out on a plain transport that ignores the
	// harness's own proxy settings; routed ones on upstream (see request).
	gp.Tr = &http.Transport{Proxy: nil, TLSHandshakeTimeout: 10 * time.Second, IdleConnTimeout: 30 * time.Second}
	p.upstream = goproxy.RoundTripperFunc(func(req *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
		return upstream.RoundTrip(req)
	})

	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: listening on %s: %w", addr, err)
	}
	p.URL = "http://" + ln.Addr().String()
	p.srv = &http.Server{Handler: gp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy and drops its connections.
func (p *Proxy) Close() error {
	if p == nil || p.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		return p.srv.Close()
	}
	return nil
}

// Refused lists every request the proxy refused, oldest first.
func (p *Proxy) Refused() []Refusal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.refused)
}

// Routed reports whether the proxy answers for host (a name with or
// without a port).
func (p *Proxy) Routed(host string) bool {
	_, ok := p.routes[hostOnly(host)]
	return ok
}

// connect decides what a CONNECT gets: a routed host is intercepted, a
// passthrough host tunnelled, anything else refused.
func (p *Proxy) connect(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	h := hostOnly(host)
	switch {
	case p.routes[h] != nil:
		return &goproxy.ConnectAction{Action: goproxy.ConnectMitm, TLSConfig: p.tlsFor}, host
	case p.passes(h):
		return goproxy.OkConnect, host
	}
	p.refuse(Refusal{Method: http.MethodConnect, Host: h, URL: "https://" + host,
		Reason: "not a host saasconform plays; an app under test reaches only Microsoft's hosts through the proxy (marketplace.proxyPassthrough lets others through)"})
	// A 403 with a reason, rather than a closed connection, so the app's
	// error says what happened.
	return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(_ *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
		msg := "saasconform proxy: " + h + " is not one of the Microsoft hosts the harness plays, so the tunnel was refused and reported.\n"
		_, _ = fmt.Fprintf(client, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
		_ = client.Close()
	}}, host
}

// request routes one request, plain or from inside an intercepted tunnel.
func (p *Proxy) request(req *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	h := hostOnly(req.URL.Host)
	if h == "" {
		h = hostOnly(req.Host)
	}
	if hd := p.handlers[h]; hd != nil {
		return req, serveLocal(hd, req)
	}
	if to := p.routes[h]; to != nil {
		req.URL.Scheme, req.URL.Host = to.Scheme, to.Host
		req.RequestURI = ""
		ctx.RoundTripper = p.upstream
		return req, nil
	}
	if p.passes(h) {
		return req, nil
	}
	p.refuse(Refusal{Method: req.Method, Host: h, URL: redactURL(req.URL),
		Reason: "not a host saasconform plays; an app under test reaches only Microsoft's hosts through the proxy (marketplace.proxyPassthrough lets others through)"})
	return req, goproxy.NewResponse(req, "text/plain; charset=utf-8", http.StatusForbidden,
		"saasconform proxy: "+h+" is not one of the Microsoft hosts the harness plays, so the request was refused and reported.\n")
}

// notAProxyRequest answers a request made to the proxy as if it were a web
// server (a misconfigured client, or a person with a browser).
func (p *Proxy) notAProxyRequest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "saasconform proxy: this is an HTTP proxy; set HTTPS_PROXY=%s in the app's environment instead of calling it directly.\n", p.URL)
}

// tlsFor is the server side of an intercepted tunnel to host: a
// certificate for that name, signed by the run's CA.
func (p *Proxy) tlsFor(host string, _ *goproxy.ProxyCtx) (*tls.Config, error) {
	h := hostOnly(host)
	if c, ok := p.certs.Load(h); ok {
		return c.(*tls.Config), nil
	}
	leaf, err := p.opts.CA.Leaf(h)
	if err != nil {
		return nil, fmt.Errorf("proxy: certificate for %s: %w", h, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	actual, _ := p.certs.LoadOrStore(h, cfg)
	return actual.(*tls.Config), nil
}

func (p *Proxy) passes(host string) bool {
	for _, pass := range p.opts.Passthrough {
		pass = strings.ToLower(pass)
		if host == pass || strings.HasPrefix(pass, "*.") && strings.HasSuffix(host, pass[1:]) {
			return true
		}
	}
	return false
}

func (p *Proxy) refuse(r Refusal) {
	r.At = time.Now()
	p.mu.Lock()
	p.refused = append(p.refused, r)
	if len(p.refused) > maxRefusals {
		p.refused = p.refused[len(p.refused)-maxRefusals:]
	}
	p.mu.Unlock()
	if p.opts.OnRefused != nil {
		p.opts.OnRefused(r)
	}
}

// maxRefusals bounds the refusals kept: an app retrying a refused host in
// a loop must not grow the harness without end.
const maxRefusals = 1000

// hostOnly is a host name without its port, in lower case.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return strings.ToLower(strings.Trim(hostport, "[]"))
}

// redactURL drops the query: it may carry secrets.
func redactURL(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		c.RawQuery = "…"
	}
	c.User = nil
	return c.String()
}

// serveLocal answers req with h in this process and returns the answer as
// the response the proxy sends back.
func serveLocal(h http.Handler, req *http.Request) *http.Response {
	rec := &buffered{header: http.Header{}}
	req.RequestURI = req.URL.RequestURI()
	h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{StatusCode: rec.status, Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: rec.header, Request: req,
		Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), ContentLength: int64(rec.body.Len())}
}

// buffered is a ResponseWriter that keeps the answer.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header { return b.header }

func (b *buffered) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *buffered) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
