// Package inprocess connects HTTP clients to handlers in the same process
// through an httpmock transport: no ports, no TLS, nothing to start or stop.
// A Go publisher under test gets a client from it for its calls to
// Microsoft, and the harness reaches the publisher's handler the same way.
package inprocess

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/jarcoal/httpmock"
)

// Network routes requests by host name to in-process handlers.
type Network struct {
	mt    *httpmock.MockTransport
	mu    sync.RWMutex
	hosts map[string]http.Handler
}

// New returns an empty network.
func New() *Network {
	n := &Network{mt: httpmock.NewMockTransport(), hosts: map[string]http.Handler{}}
	n.mt.RegisterNoResponder(n.serve)
	return n
}

// Handle routes requests for host (name or name:port, case-insensitive) to h.
func (n *Network) Handle(host string, h http.Handler) {
	n.mu.Lock()
	n.hosts[strings.ToLower(host)] = h
	n.mu.Unlock()
}

// Transport is the round tripper every client of the network uses.
func (n *Network) Transport() http.RoundTripper { return n.mt }

// Client is an HTTP client on the network.
func (n *Network) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: n.mt, Timeout: timeout}
}

// serve runs the handler for the request's host. It honours the request's
// context, so a handler that never answers cannot hang the caller.
func (n *Network) serve(req *http.Request) (*http.Response, error) {
	n.mu.RLock()
	h, ok := n.hosts[strings.ToLower(req.URL.Host)]
	n.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("inprocess: no handler for host %q (known: %s)", req.URL.Host, n.known())
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:1"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	if req.URL.Scheme == "https" {
		in.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: req.URL.Hostname()}
	}
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				rec = httptest.NewRecorder()
				rec.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(rec, "handler panicked: %v", p)
			}
		}()
		h.ServeHTTP(rec, in)
	}()
	select {
	case <-done:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func (n *Network) known() string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var hs []string
	for h := range n.hosts {
		hs = append(hs, h)
	}
	return strings.Join(hs, ", ")
}
