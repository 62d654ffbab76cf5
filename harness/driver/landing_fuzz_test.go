package driver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzLanding serves hostile landing pages to the HTTP visitor, the way an
// app under test would: page is every HTML answer, location (when set) is
// where the first answer redirects, cookie is a Set-Cookie on every answer.
// Whatever the app sends, a visit ends within its deadline with an error
// or with a page and words for what the visitor did — never a panic.
//
//	nice go test -run '^$' -fuzz FuzzLanding -fuzztime 10m -parallel 1 ./harness/driver/
func FuzzLanding(f *testing.F) {
	for _, s := range landingSeeds {
		f.Add(s.page, s.location, s.cookie)
	}

	// One server per fuzzing process; the input of the moment is read
	// under a lock (the fuzzer calls the function one input at a time
	// with -parallel 1, but does not promise it).
	var mu sync.Mutex
	var page, location, cookie string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		p, loc, ck := page, location, cookie
		mu.Unlock()
		if ck != "" {
			w.Header().Set("Set-Cookie", ck)
		}
		if loc != "" && r.URL.Path == "/landing" {
			w.Header()["Location"] = []string{loc}
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, p)
	}))
	f.Cleanup(srv.Close)
	// Whatever host a page names, the request reaches the test server:
	// the fuzzer must never send the harness onto the network.
	addr := srv.Listener.Addr().String()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		DisableKeepAlives: true,
	}}
	f.Cleanup(client.CloseIdleConnections)
	v := &HTTPVisitor{Client: client, ConfirmForm: true, MaxBody: 256 << 10}

	f.Fuzz(func(t *testing.T, p, loc, ck string) {
		mu.Lock()
		page, location, cookie = p, loc, ck
		mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		type result struct {
			visit Visit
			err   error
		}
		done := make(chan result, 1)
		go func() {
			visit, err := v.Visit(ctx, srv.URL+"/landing", "tok")
			done <- result{visit, err}
		}()
		var got result
		select {
		case got = <-done:
		case <-time.After(15 * time.Second): // the context ends at 5 s; this is the hang
			t.Fatalf("Visit still running 15 s after it started (its context ends at 5 s)")
		}

		if got.err != nil {
			if got.err.Error() == "" {
				t.Fatalf("an error without words")
			}
			return
		}
		if got.visit.Landing.Status == 0 {
			t.Fatalf("no error and no landing page: %+v", got.visit)
		}
		if got.visit.Action == "" {
			t.Fatalf("no error and no word on what the visitor did: %+v", got.visit)
		}
		if got.visit.Confirm != nil && got.visit.Confirm.Status == 0 {
			t.Fatalf("a confirm page without a status: %+v", got.visit.Confirm)
		}
		// What FirstForm found, the visitor could request: its action is
		// an absolute http(s) URL.
		if form, ok, err := FirstForm(got.visit.Landing.Body, got.visit.Landing.URL); err == nil && ok {
			if !strings.HasPrefix(form.Action, "http://") && !strings.HasPrefix(form.Action, "https://") {
				t.Fatalf("form action %q accepted", form.Action)
			}
		}
	})
}

var landingSeeds = []struct{ page, location, cookie string }{
	{`<html><body><form action="/confirm" method="post"><input type="hidden" name="sub" value="1">` +
		`<select name="plan"><option>a<option selected value=b>B</select><textarea name=n>x</textarea>` +
		`<input type=checkbox name=t checked><button name=go value=yes>Go</button></form></body></html>`, "", ""},
	{`<form method=get action="?step=2"><input name=q value="a b&c"></form>`, "", "session=s1; Path=/"},
	{`<button id="activate" onclick="fetch('/api/activate',{method:'POST'})">Activate</button>` +
		`<script>document.forms.length</script>`, "", ""},
	{`<form method=get action="//::1/activate"><input name=a></form>`, "", ""},
	{`<form action="http://[::1/activate"></form>`, "", ""},
	{`<form action="javascript:void(0)"><input type=submit></form>`, "", ""},
	{`<form action="//:0/x"></form>`, "", ""},
	{`<form action="/act%zzivate"></form>`, "", ""},
	{`<form action="` + strings.Repeat("a", 64<<10) + `" method="` + strings.Repeat("G", 4096) + `"></form>`, "", ""},
	{`<form action="/outer"><form action="/inner"><input name=x value=1></form><input name=y value=2></form>`, "", ""},
	{`<template><form action="/hidden"><input name=t></form></template><form action="/shown"></form>`, "", ""},
	{strings.Repeat("<div>", 20000) + `<form action=/deep></form>`, "", ""},
	{strings.Repeat("<select name=s>", 500) + strings.Repeat("<option>", 500), "", ""},
	{`<meta http-equiv="refresh" content="0; url=//::1/x"><form></form>`, "", ""},
	{`<form action="/x">`, "//::1/landing", ""},
	{`<form action="/x">`, "http://[::1/landing", ""},
	{`<form action="/x">`, "javascript:alert(1)", ""},
	{`<form action="/x">`, "/landing", ""}, // a loop
	{`<form action="/x">`, "https://login.example/other", "a=b; Domain=..; Path=\x00"},
	{"\x00\xff<form\x00action=\"\t/x\n\"></form>", "", ""},
}
