package driver

import (
	"fmt"
	"net/url"
	"strings"
)

// URLError is a URL the app gave the visitor — a form action, a redirect's
// Location — that a browser could not follow. Such URLs are the app's input:
// the visit ends with this error, quoting what the page wrote, so the spec
// that visited says what the app did wrong.
type URLError struct {
	Where   string // what the page used it for: "form action", "Location header"
	URL     string // as the page wrote it
	Problem string // "is not a URL: …", "is not http or https", "has no host"
}

func (e *URLError) Error() string { return fmt.Sprintf("%s %q %s", e.Where, e.URL, e.Problem) }

// resolve reads raw, written by the page at base, as a browser does: the
// surrounding spaces and any tab or newline inside are dropped, and the
// result is relative to base. Anything the visitor could not request
// afterwards is a *URLError.
func resolve(base *url.URL, where, raw string) (*url.URL, error) {
	fail := func(problem string) error { return &URLError{Where: where, URL: raw, Problem: problem} }
	cleaned := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, strings.TrimSpace(raw))
	u, err := base.Parse(cleaned)
	if err != nil {
		return nil, fail("is not a URL: " + unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fail("is not http or https" + scriptHint(u.Scheme))
	}
	if u.Hostname() == "" {
		return nil, fail("has no host")
	}
	// net/url resolves some references it would refuse to parse whole
	// ("//::1/x" becomes "http://::1/x"); the request is built from the
	// text, so the text must parse too.
	if _, err := url.Parse(u.String()); err != nil {
		return nil, fail("is not a URL: " + unwrapURLError(err))
	}
	return u, nil
}

// unwrapURLError keeps net/url's reason and the text it choked on.
func unwrapURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Sprintf("%v (in %q)", ue.Err, ue.URL)
	}
	return err.Error()
}

func scriptHint(scheme string) string {
	if strings.EqualFold(scheme, "javascript") {
		return " (only a browser running the page's script can follow it: set publisher.landing.mode: browser)"
	}
	return ""
}
