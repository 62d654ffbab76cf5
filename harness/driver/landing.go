// Package driver holds the actors that face the publisher: the customer's
// browser on the landing page, Microsoft's webhook caller, and the probe that
// reads the publisher's own view of a subscription.
package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
)

// Page is one HTTP answer the visitor saw.
type Page struct {
	URL    string // the URL finally answered (after redirects)
	Status int
	Body   string
}

// Visit is what happened when the customer opened the landing page.
type Visit struct {
	URL     string // the landing URL with ?token=, as opened
	Landing Page
	Confirm *Page // the answer to the confirm form, when one was submitted
	// Action says what the visitor did after the page loaded, in words
	// for a diagnosis: "submitted the first form", "the page had no form
	// to submit…", "pressed \"#activate\"".
	Action string
}

// Visitor opens a landing page as the customer's browser does.
type Visitor interface {
	Visit(ctx context.Context, landingPage, token string) (Visit, error)
}

// LandingURL appends the purchase token to the landing page URL the way the
// marketplace does: URL-encoded once, as the query parameter "token".
func LandingURL(landingPage, token string) (string, error) {
	u, err := url.Parse(landingPage)
	if err != nil {
		return "", fmt.Errorf("driver: landing page URL %q: %w", landingPage, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("driver: landing page URL %q must be http or https", landingPage)
	}
	sep := "?"
	if u.RawQuery != "" {
		sep = "&"
	}
	return landingPage + sep + "token=" + url.QueryEscape(token), nil
}

// HTTPVisitor is a browser without JavaScript: it GETs the landing page and,
// when ConfirmForm is set, submits the first form on it as a customer
// clicking "confirm" would.
type HTTPVisitor struct {
	Client      *http.Client // its transport is reused; a fresh cookie jar is used per visit
	ConfirmForm bool
	MaxBody     int64 // bytes kept of each page; default 1 MiB
}

// Visit implements Visitor.
func (v *HTTPVisitor) Visit(ctx context.Context, landingPage, token string) (Visit, error) {
	target, err := LandingURL(landingPage, token)
	if err != nil {
		return Visit{}, err
	}
	client := v.client()
	out := Visit{URL: target}
	out.Landing, err = v.fetch(ctx, client, http.MethodGet, target, nil)
	if err != nil {
		return out, err
	}
	switch {
	case out.Landing.Status >= 300:
		out.Action = fmt.Sprintf("nothing was submitted: the page answered %d", out.Landing.Status)
		return out, nil
	case !v.ConfirmForm:
		out.Action = "no form was submitted (publisher.landing.confirmForm is off)"
		return out, nil
	}
	form, ok, err := FirstForm(out.Landing.Body, out.Landing.URL)
	var bad *URLError
	if errors.As(err, &bad) {
		out.Action = fmt.Sprintf("the page's form has an action the browser cannot follow (%q)", bad.URL)
	}
	if err != nil {
		return out, err
	}
	if !ok {
		out.Action = "the page had no form to submit (plain HTTP runs no script: if the page needs JavaScript, " +
			"set publisher.landing.mode: browser; if its action is a button outside a form, also publisher.landing.click)"
		return out, nil
	}
	method, body, action := http.MethodPost, []byte(form.Values.Encode()), form.Action
	if form.Method == http.MethodGet {
		// FirstForm checked that the action parses; a GET form's fields
		// replace the action's query, as in a browser.
		u, err := url.Parse(action)
		if err != nil {
			out.Action = fmt.Sprintf("the page's form has an action the browser cannot follow (%q)", action)
			return out, fmt.Errorf("driver: the landing page's form action %q: %w", action, err)
		}
		u.RawQuery = form.Values.Encode()
		method, body, action = http.MethodGet, nil, u.String()
	}
	confirm, err := v.fetch(ctx, client, method, action, body)
	if err != nil {
		return out, fmt.Errorf("driver: submitting the landing page's form to %s: %w", action, err)
	}
	out.Confirm, out.Action = &confirm, "submitted the first form"
	return out, nil
}

// maxRedirects is how many redirects one request may take, as in net/http.
const maxRedirects = 10

// client is a copy of the configured client with a fresh cookie jar. It
// does not follow redirects: fetch does, so that each Location the app sends
// is checked before anything is requested from it (net/http would parse it
// first, and resolves some it cannot parse back).
func (v *HTTPVisitor) client() *http.Client {
	base := v.Client
	if base == nil {
		base = http.DefaultClient
	}
	jar, _ := cookiejar.New(nil)
	c := *base
	c.Jar = jar
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = holdLocation{rt}
	return &c
}

// heldLocation is where holdLocation keeps a response's Location. The space
// makes it a name no server can send, so only the visitor can have set it.
const heldLocation = "Location held by the visitor"

// holdLocation moves Location out of net/http's sight, so that the client
// hands every redirect back as it came instead of following it.
type holdLocation struct{ http.RoundTripper }

func (h holdLocation) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.RoundTripper.RoundTrip(req)
	if resp != nil {
		if loc, ok := resp.Header["Location"]; ok {
			resp.Header[heldLocation] = loc
			delete(resp.Header, "Location")
		}
	}
	return resp, err
}

// fetch requests target and follows redirects as a browser does: 301, 302
// and 303 turn a POST into a GET without a body; 307 and 308 repeat the
// request. A nil body is a request without one.
func (v *HTTPVisitor) fetch(ctx context.Context, c *http.Client, method, target string, body []byte) (Page, error) {
	for hops := 0; ; hops++ {
		resp, err := v.send(ctx, c, method, target, body)
		if err != nil {
			return Page{}, err
		}
		loc, redirected := redirectOf(resp)
		if !redirected {
			return v.read(resp, method, target)
		}
		_ = resp.Body.Close() // the connection is not reused; the body is the app's to waste
		if hops == maxRedirects {
			return Page{}, fmt.Errorf("driver: %s %s: stopped after %d redirects", method, target, maxRedirects)
		}
		next, err := resolve(resp.Request.URL, "Location header", loc)
		if err != nil {
			return Page{}, fmt.Errorf("driver: %s %s answered %d: %w", method, target, resp.StatusCode, err)
		}
		switch resp.StatusCode {
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			if method != http.MethodGet && method != http.MethodHead {
				method, body = http.MethodGet, nil
			}
		}
		target = next.String()
	}
}

// redirectOf says where resp sends the browser, if anywhere. A redirect
// status without a Location is a page like any other, as net/http treats it.
func redirectOf(resp *http.Response) (string, bool) {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return "", false
	}
	loc := ""
	if held := resp.Header[heldLocation]; len(held) > 0 {
		loc = held[0]
	}
	return loc, loc != ""
}

func (v *HTTPVisitor) send(ctx context.Context, c *http.Client, method, target string, body []byte) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return nil, fmt.Errorf("driver: %s %s: %w", method, target, err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("User-Agent", "saasconform-landing-visitor")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("driver: %s %s: %w", method, target, err)
	}
	return resp, nil
}

// read keeps up to MaxBody bytes of the page resp answered.
func (v *HTTPVisitor) read(resp *http.Response, method, target string) (Page, error) {
	defer resp.Body.Close()
	limit := v.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Page{}, fmt.Errorf("driver: reading %s: %w", target, err)
	}
	return Page{URL: resp.Request.URL.String(), Status: resp.StatusCode, Body: string(data)}, nil
}
