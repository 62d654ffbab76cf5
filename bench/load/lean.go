package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// leanClient is the load's default HTTP/1.1 client (-client lean): a pool
// of keep-alive TLS connections, one per request in flight, each request
// written by hand in one write and its answer read with http.ReadResponse
// on the same goroutine. net/http's Transport hands every request to two
// goroutines of its own per connection; on this 2-core machine, shared
// with the fake it measures, that client took about a third of the CPU.
//
// The server sees what the standard client sends: HTTP/1.1 over TLS with
// Host, User-Agent, Accept-Encoding, the bearer token and the request ids
// (plus Content-Type and Content-Length with a body).
type leanClient struct {
	addr, host string // host:port to dial; the Host header
	prefix     string // the base URL's path, e.g. /api
	proxy      string // host:port of an HTTP proxy to CONNECT through, "" for none
	tls        *tls.Config
	idle       chan *leanConn
	dials      *atomic.Int64
	timeout    time.Duration // per request
}

type leanConn struct {
	c   net.Conn
	br  *bufio.Reader
	buf []byte // the request being written
}

func newLeanClient(base string, cfg *tls.Config, poolSize int, dials *atomic.Int64) (*leanClient, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("load: lean client needs an https base URL, got %q", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	return &leanClient{addr: addr, host: u.Host, prefix: u.Path, tls: cfg,
		idle: make(chan *leanConn, poolSize), dials: dials, timeout: 30 * time.Second}, nil
}

func (lc *leanClient) get(ctx context.Context) (*leanConn, bool, error) {
	select {
	case c := <-lc.idle:
		return c, true, nil
	default:
	}
	lc.dials.Add(1)
	if lc.proxy != "" {
		return lc.tunnel(ctx)
	}
	d := tls.Dialer{Config: lc.tls}
	c, err := d.DialContext(ctx, "tcp", lc.addr)
	if err != nil {
		return nil, false, err
	}
	return &leanConn{c: c, br: bufio.NewReaderSize(c, 8<<10), buf: make([]byte, 0, 2048)}, false, nil
}

// tunnel opens a connection through the proxy: CONNECT, then TLS to the
// host by its own name, as an app's HTTPS client does.
func (lc *leanClient) tunnel(ctx context.Context) (*leanConn, bool, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", lc.proxy)
	if err != nil {
		return nil, false, err
	}
	fmt.Fprintf(raw, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", lc.addr, lc.addr)
	br := bufio.NewReader(raw)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		raw.Close()
		if err == nil {
			err = fmt.Errorf("load: the proxy answered CONNECT with %s", resp.Status)
		}
		return nil, false, err
	}
	cfg := lc.tls.Clone()
	cfg.ServerName, _, _ = net.SplitHostPort(lc.addr)
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, false, err
	}
	return &leanConn{c: c, br: bufio.NewReaderSize(c, 8<<10), buf: make([]byte, 0, 2048)}, false, nil
}

func (lc *leanClient) put(c *leanConn) {
	select {
	case lc.idle <- c:
	default:
		c.c.Close()
	}
}

// closeIdle closes the pooled connections.
func (lc *leanClient) closeIdle() {
	for {
		select {
		case c := <-lc.idle:
			c.c.Close()
		default:
			return
		}
	}
}

// do sends one request (path below the base, with its query) and discards
// the answer's body. hdr holds name, value pairs. A GET that fails on a
// reused connection (the server may have closed it) is tried once more on
// a new one.
func (lc *leanClient) do(ctx context.Context, method, path string, body []byte, hdr []string) (int, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := lc.get(ctx)
		if err != nil {
			return 0, err
		}
		status, keep, err := lc.roundTrip(c, method, path, body, hdr)
		if err == nil {
			if keep {
				lc.put(c)
			} else {
				c.c.Close()
			}
			return status, nil
		}
		c.c.Close()
		if !reused || method != http.MethodGet || attempt > 0 || ctx.Err() != nil {
			return 0, err
		}
	}
}

func (lc *leanClient) roundTrip(c *leanConn, method, path string, body []byte, hdr []string) (status int, keep bool, err error) {
	b := c.buf[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, lc.prefix...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, lc.host...)
	b = append(b, "\r\nUser-Agent: saasconform-load/1\r\nAccept-Encoding: gzip\r\n"...)
	for i := 0; i+1 < len(hdr); i += 2 {
		b = append(b, hdr[i]...)
		b = append(b, ": "...)
		b = append(b, hdr[i+1]...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	} else if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
		b = append(b, "Content-Length: 0\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.buf = b
	if err := c.c.SetDeadline(time.Now().Add(lc.timeout)); err != nil {
		return 0, false, err
	}
	if _, err := c.c.Write(b); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, false, err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		resp.Body.Close()
		return 0, false, err
	}
	resp.Body.Close()
	if resp.ContentLength < 0 && !resp.Close && len(resp.TransferEncoding) == 0 {
		// An answer delimited by closing the connection.
		return resp.StatusCode, false, nil
	}
	return resp.StatusCode, !resp.Close, nil
}
