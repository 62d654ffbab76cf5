package driver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHostileURLsFailClearly: every URL the app hands the visitor (a form
// action, a redirect's Location) is the app's input, not the harness's. One
// a browser could not follow ends the visit with an error that quotes what
// the page wrote, never with a panic. A GET form whose action does not
// parse once dereferenced a nil URL (issue 14, item 5: 32 specs PANICKED).
func TestHostileURLsFailClearly(t *testing.T) {
	form := func(method, action string) string {
		return fmt.Sprintf(`<html><body><form method=%q action=%q>
			<input type="hidden" name="subscription" value="sub-1">
			<button type="submit">Confirm</button></form></body></html>`, method, action)
	}
	tests := []struct {
		name     string
		landing  http.HandlerFunc // answers /landing
		confirm  http.HandlerFunc // answers /confirm, when the page posts there
		want     string           // in the error
		wantForm bool             // the error is about the form (Visit.Action says so)
	}{
		{name: "GET form, action with a bare IPv6 host",
			landing: page(form("get", "//::1/activate")),
			want:    `form action "//::1/activate" is not a URL: `, wantForm: true},
		{name: "POST form, action with a bare IPv6 host",
			landing: page(form("post", "//::1/activate")),
			want:    `form action "//::1/activate" is not a URL: `, wantForm: true},
		{name: "action with an unclosed IPv6 bracket",
			landing: page(form("get", "http://[::1/activate")),
			want:    `form action "http://[::1/activate" is not a URL: `, wantForm: true},
		{name: "action with a bad escape",
			landing: page(form("post", "/act%zzivate")),
			want:    `form action "/act%zzivate" is not a URL: `, wantForm: true},
		{name: "action run by script",
			landing: page(form("post", "javascript:activate()")),
			want:    `form action "javascript:activate()" is not http or https`, wantForm: true},
		{name: "action without a host",
			landing: page(form("get", "//:0/activate")),
			want:    `form action "//:0/activate" has no host`, wantForm: true},
		{name: "landing page redirects to a bare IPv6 host",
			landing: redirect("//::1/landing"),
			want:    `Location header "//::1/landing" is not a URL: `},
		{name: "landing page redirects to an unclosed bracket",
			landing: redirect("http://[::1/landing"),
			want:    `Location header "http://[::1/landing" is not a URL: `},
		{name: "confirm answer redirects to script",
			landing: page(form("post", "/confirm")),
			confirm: redirect("javascript:done()"),
			want:    `Location header "javascript:done()" is not http or https`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("/landing", tt.landing)
			if tt.confirm != nil {
				mux.Handle("/confirm", tt.confirm)
			}
			srv := httptest.NewServer(mux)
			defer srv.Close()
			v := &HTTPVisitor{Client: srv.Client(), ConfirmForm: true}

			visit, err := v.Visit(context.Background(), srv.URL+"/landing", "tok")

			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tt.want)
			}
			var bad *URLError
			if !errors.As(err, &bad) {
				t.Errorf("err is %T, want a *URLError inside", err)
			}
			if tt.wantForm {
				if visit.Confirm != nil {
					t.Errorf("a form was submitted: %+v", visit.Confirm)
				}
				if !strings.Contains(visit.Action, "cannot follow") {
					t.Errorf("Action = %q, want it to say the form could not be followed", visit.Action)
				}
			}
		})
	}
}

// TestFormActionsResolveLikeABrowser: what the hostile cases refuse must not
// catch ordinary actions — relative, empty (the page itself), absolute.
func TestFormActionsResolveLikeABrowser(t *testing.T) {
	base := "http://127.0.0.1:8080/app/landing?token=t"
	tests := []struct{ action, want string }{
		{"confirm", "http://127.0.0.1:8080/app/confirm"},
		{"/activate", "http://127.0.0.1:8080/activate"},
		{"", base},
		{"?step=2", "http://127.0.0.1:8080/app/landing?step=2"},
		{"https://[::1]:8443/activate", "https://[::1]:8443/activate"},
		{"//app.example/activate", "http://app.example/activate"},
		{" /activate ", "http://127.0.0.1:8080/activate"}, // browsers strip the spaces
	}
	for _, tt := range tests {
		f, ok, err := FirstForm(fmt.Sprintf(`<form action=%q></form>`, tt.action), base)
		if err != nil || !ok || f.Action != tt.want {
			t.Errorf("action %q: got %q ok=%v err=%v, want %q", tt.action, f.Action, ok, err, tt.want)
		}
	}
	// No action attribute at all is the page itself, too.
	if f, _, err := FirstForm(`<form></form>`, base); err != nil || f.Action != base {
		t.Errorf("no action: got %q, %v", f.Action, err)
	}
}

func page(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }
}

func redirect(location string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{location} // as written, unchecked
		w.WriteHeader(http.StatusFound)
	}
}

// TestHTTPVisitorFollowsRedirectsLikeABrowser: the visitor follows
// redirects itself (to check each Location first), so it must do what
// net/http did: relative Locations, cookies set on the way, 303 turning the
// POST into a GET, 307 repeating it with its body, and a bound on loops.
func TestHTTPVisitorFollowsRedirectsLikeABrowser(t *testing.T) {
	var posted, afterSeeOther string
	mux := http.NewServeMux()
	mux.HandleFunc("/landing", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1"})
		w.Header().Set("Location", "app/landing?step=2")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/app/landing", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("session"); err != nil || c.Value != "s1" {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `<form method="post" action="/moved"><input name="plan" value="gold"></form>`)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/confirm")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/confirm", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "want the POST repeated", http.StatusMethodNotAllowed)
			return
		}
		_ = r.ParseForm()
		posted = r.PostForm.Encode()
		w.Header().Set("Location", "/done")
		w.WriteHeader(http.StatusSeeOther)
	})
	mux.HandleFunc("/done", func(w http.ResponseWriter, r *http.Request) {
		afterSeeOther = r.Method
		fmt.Fprint(w, "subscribed")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	v := &HTTPVisitor{Client: srv.Client(), ConfirmForm: true}

	visit, err := v.Visit(context.Background(), srv.URL+"/landing", "tok")

	if err != nil {
		t.Fatal(err)
	}
	if visit.Landing.Status != 200 || !strings.HasSuffix(visit.Landing.URL, "/app/landing?step=2") {
		t.Errorf("landing = %+v", visit.Landing)
	}
	if visit.Confirm == nil || visit.Confirm.Body != "subscribed" || !strings.HasSuffix(visit.Confirm.URL, "/done") {
		t.Fatalf("confirm = %+v", visit.Confirm)
	}
	if posted != "plan=gold" || afterSeeOther != http.MethodGet {
		t.Errorf("307 posted %q; after 303 the method was %q", posted, afterSeeOther)
	}
}

func TestHTTPVisitorStopsRedirectLoops(t *testing.T) {
	var hops int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hops++
		w.Header().Set("Location", fmt.Sprintf("/loop%d", hops))
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	v := &HTTPVisitor{Client: srv.Client()}
	_, err := v.Visit(context.Background(), srv.URL+"/landing", "tok")
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v", err)
	}
	if hops != maxRedirects+1 {
		t.Errorf("%d requests, want %d", hops, maxRedirects+1)
	}
}

// TestFirstFormSkipsTemplates: a <template>'s content is inert — a
// browser neither shows nor submits a form in it — so it is neither the
// first form nor part of one.
func TestFirstFormSkipsTemplates(t *testing.T) {
	page := `<template><form action="/hidden"><input name="a" value="1"></form></template>
		<form action="/shown"><input name="b" value="2">
		<template><input name="c" value="3"></template></form>`
	f, ok, err := FirstForm(page, "http://127.0.0.1/landing")
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if f.Action != "http://127.0.0.1/shown" || f.Values.Encode() != "b=2" {
		t.Errorf("got %s with %s, want /shown with b=2", f.Action, f.Values.Encode())
	}
}
