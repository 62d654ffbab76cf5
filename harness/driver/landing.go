// Package driver holds the actors that face the publisher: the customer's
// browser on the landing page, Microsoft's webhook caller, and the probe that
// reads the publisher's own view of a subscription.
package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
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
	if err != nil {
		return out, err
	}
	if !ok {
		out.Action = "the page had no form to submit (plain HTTP runs no script: if the page needs JavaScript, " +
			"set publisher.landing.mode: browser; if its action is a button outside a form, also publisher.landing.click)"
		return out, nil
	}
	method, body, action := http.MethodPost, strings.NewReader(form.Values.Encode()), form.Action
	if form.Method == http.MethodGet {
		method, body = http.MethodGet, nil
		u, err := url.Parse(action)
		if err != nil {
			out.Action = fmt.Sprintf("the page's form has an action the browser cannot follow (%q)", action)
			return out, fmt.Errorf("driver: the landing page's form action %q: %w", action, err)
		}
		u.RawQuery = form.Values.Encode()
		action = u.String()
	}
	var reader io.Reader
	if body != nil {
		reader = body
	}
	confirm, err := v.fetch(ctx, client, method, action, reader)
	if err != nil {
		return out, fmt.Errorf("driver: submitting the landing page's form to %s: %w", action, err)
	}
	out.Confirm, out.Action = &confirm, "submitted the first form"
	return out, nil
}

func (v *HTTPVisitor) client() *http.Client {
	base := v.Client
	if base == nil {
		base = http.DefaultClient
	}
	jar, _ := cookiejar.New(nil)
	c := *base
	c.Jar = jar
	return &c
}

func (v *HTTPVisitor) fetch(ctx context.Context, c *http.Client, method, target string, body io.Reader) (Page, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return Page{}, err
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("User-Agent", "saasconform-landing-visitor")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("driver: %s %s: %w", method, target, err)
	}
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
