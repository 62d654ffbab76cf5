package driver

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// needChromium skips without a browser on a developer's machine, and fails
// in CI, where a skip would hide that the browser visitor went untested.
func needChromium(t *testing.T) string {
	t.Helper()
	path, err := FindChromium()
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%v\nCI is set: .ci/run must install chromium (apt-get install -y chromium) before the tests run", err)
	}
	t.Skipf("skipping the browser visitor: %v", err)
	return ""
}

// landingApp is a landing page that needs JavaScript: its form carries a
// hidden field the page's script fills in, so a submission with the
// script's value proves the script ran.
type landingApp struct {
	mu    sync.Mutex
	posts []url.Values
}

func (a *landingApp) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /landing", func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if token == "expired" {
			http.Error(w, "<p>This link has expired.</p>", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body>
<p id="greeting">loading…</p>
<form method="post" action="/activate">
  <input type="hidden" name="token" value="%s">
  <input type="hidden" name="proof" value="no-script">
  <input type="text" name="company" value="Contoso">
  <button type="button" name="cancel" value="1">Cancel</button>
  <button type="submit" name="confirm" value="yes">Activate</button>
</form>
<script>
  document.querySelector('input[name=proof]').value = 'script-ran';
  document.getElementById('greeting').textContent = 'Welcome, ' + new URLSearchParams(location.search).get('token').length + ' chars';
</script>
</body></html>`, html.EscapeString(token))
	})
	mux.HandleFunc("POST /activate", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.posts = append(a.posts, r.PostForm)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `<!doctype html><p id="done">Your subscription is being activated.</p>`)
	})
	mux.HandleFunc("GET /nothing", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><p>no form here</p>`)
	})
	return mux
}

func (a *landingApp) submitted() []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]url.Values(nil), a.posts...)
}

func TestBrowserVisitorRunsScriptAndConfirms(t *testing.T) {
	path := needChromium(t)
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			app := &landingApp{}
			srv := httptest.NewUnstartedServer(app.handler())
			if tls {
				srv.StartTLS() // a certificate no CA the browser knows issued
			} else {
				srv.Start()
			}
			defer srv.Close()

			token := "a+b/c=d&e f" // every character the query encoding touches
			v := &BrowserVisitor{ExecPath: path, ConfirmForm: true, Timeout: 60 * time.Second}
			got, err := v.Visit(t.Context(), srv.URL+"/landing", token)
			if err != nil {
				t.Fatal(err)
			}
			if want := srv.URL + "/landing?token=" + url.QueryEscape(token); got.URL != want {
				t.Errorf("URL = %q, want %q", got.URL, want)
			}
			if got.Landing.Status != http.StatusOK {
				t.Errorf("landing status = %d, want 200", got.Landing.Status)
			}
			if want := fmt.Sprintf("Welcome, %d chars", len(token)); !strings.Contains(got.Landing.Body, want) {
				t.Errorf("landing body lacks %q (the DOM after the script ran):\n%s", want, got.Landing.Body)
			}
			if got.Confirm == nil {
				t.Fatal("no confirm page")
			}
			if got.Confirm.Status != http.StatusAccepted || !strings.HasSuffix(got.Confirm.URL, "/activate") ||
				!strings.Contains(got.Confirm.Body, "being activated") {
				t.Errorf("confirm = %d %s\n%s", got.Confirm.Status, got.Confirm.URL, got.Confirm.Body)
			}
			posts := app.submitted()
			if len(posts) != 1 {
				t.Fatalf("%d form submissions, want 1", len(posts))
			}
			want := url.Values{"token": {token}, "proof": {"script-ran"}, "company": {"Contoso"}, "confirm": {"yes"}}
			if fmt.Sprint(posts[0]) != fmt.Sprint(want) {
				t.Errorf("form posted %v, want %v", posts[0], want)
			}
		})
	}
}

func TestBrowserVisitorWithoutConfirm(t *testing.T) {
	path := needChromium(t)
	app := &landingApp{}
	srv := httptest.NewServer(app.handler())
	defer srv.Close()

	v := &BrowserVisitor{ExecPath: path}
	got, err := v.Visit(t.Context(), srv.URL+"/landing", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if got.Confirm != nil || len(app.submitted()) != 0 {
		t.Errorf("the form was submitted with ConfirmForm off: %+v", got.Confirm)
	}

	// An error page: the status comes from the browser's network events,
	// and nothing is submitted after it.
	v.ConfirmForm = true
	got, err = v.Visit(t.Context(), srv.URL+"/landing", "expired")
	if err != nil {
		t.Fatal(err)
	}
	if got.Landing.Status != http.StatusBadRequest || got.Confirm != nil {
		t.Errorf("expired token: status %d, confirm %+v; want 400 and no confirm", got.Landing.Status, got.Confirm)
	}

	// A page with no form: nothing to confirm.
	got, err = v.Visit(t.Context(), srv.URL+"/nothing", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if got.Landing.Status != http.StatusOK || got.Confirm != nil {
		t.Errorf("no form: status %d, confirm %+v", got.Landing.Status, got.Confirm)
	}
}

func TestBrowserVisitorErrors(t *testing.T) {
	path := needChromium(t)

	// Nothing listens: the error says what the browser saw.
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()
	_, err := (&BrowserVisitor{ExecPath: path}).Visit(t.Context(), dead+"/landing", "tok")
	if err == nil || !strings.Contains(err.Error(), "ERR_CONNECTION_REFUSED") {
		t.Errorf("visit to a closed port: %v, want ERR_CONNECTION_REFUSED", err)
	}

	// A page that never answers: the visit ends at its timeout.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = (&BrowserVisitor{ExecPath: path, Timeout: 3 * time.Second}).Visit(ctx, hang.URL+"/landing", "tok")
	if err == nil || !strings.Contains(err.Error(), "time ran out") {
		t.Errorf("visit to a page that hangs: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the visit took %s, past its 3s timeout", d)
	}
	hang.CloseClientConnections()
}

func TestFindChromium(t *testing.T) {
	t.Setenv(ChromiumEnv, "/no/such/chromium")
	_, err := FindChromium()
	if err == nil || !strings.Contains(err.Error(), ChromiumEnv) || !strings.Contains(err.Error(), "/no/such/chromium") {
		t.Errorf("FindChromium with a wrong %s: %v", ChromiumEnv, err)
	}
	if _, err := NewBrowserVisitor(true); err == nil {
		t.Error("NewBrowserVisitor found a browser at a path that does not exist")
	}

	// With nothing on PATH and no setting, the error names every candidate.
	t.Setenv(ChromiumEnv, "")
	t.Setenv("PATH", t.TempDir())
	old := chromiumCandidates
	chromiumCandidates = []string{"/no/such/chromium", "no-such-chromium"}
	defer func() { chromiumCandidates = old }()
	_, err = FindChromium()
	if err == nil || !strings.Contains(err.Error(), "/no/such/chromium, no-such-chromium") || !strings.Contains(err.Error(), "apt-get install chromium") {
		t.Errorf("FindChromium with nothing installed: %v", err)
	}
}

// TestBrowserVisitorClicksAButtonOutsideAForm: a page whose action is a
// button with an onclick (no form) is pressed when Click names it; without
// Click the visit says no form was found, and a selector that matches
// nothing says so.
func TestBrowserVisitorClicksAButtonOutsideAForm(t *testing.T) {
	path := needChromium(t)
	var mu sync.Mutex
	var activated []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /landing", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><body><p id="state">pending</p>
<button id="go" onclick="fetch('/api/activate', {method: 'POST', body: new URLSearchParams(location.search).get('token')})
  .then(r => r.text()).then(t => { document.getElementById('state').textContent = t; })">Start my subscription</button>
</body></html>`)
	})
	mux.HandleFunc("POST /api/activate", func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		mu.Lock()
		activated = append(activated, string(b[:n]))
		mu.Unlock()
		fmt.Fprint(w, "activated")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	v := &BrowserVisitor{ExecPath: path, ConfirmForm: true}
	got, err := v.Visit(t.Context(), srv.URL+"/landing", "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Confirm != nil || !strings.Contains(got.Action, "no form") || !strings.Contains(got.Action, "publisher.landing.click") {
		t.Errorf("without Click: confirm %+v, action %q; want nothing pressed and a hint at publisher.landing.click", got.Confirm, got.Action)
	}

	v.Click = "#go"
	v.SubmitWait = 2 * time.Second
	got, err = v.Visit(t.Context(), srv.URL+"/landing", "tok-2")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	calls := append([]string(nil), activated...)
	mu.Unlock()
	if len(calls) != 1 || calls[0] != "tok-2" {
		t.Errorf("the button's script called the app %v, want once with tok-2", calls)
	}
	if got.Confirm == nil || !strings.Contains(got.Confirm.Body, "activated") || got.Action != `pressed "#go"` {
		t.Errorf("after the press: action %q, page %+v", got.Action, got.Confirm)
	}

	v.Click = "#nothing-here"
	got, err = v.Visit(t.Context(), srv.URL+"/landing", "tok-3")
	if err != nil {
		t.Fatal(err)
	}
	if got.Confirm != nil || !strings.Contains(got.Action, "no element matched") {
		t.Errorf("a selector that matches nothing: action %q", got.Action)
	}
	v.Click = "#bad[selector"
	if got, err = v.Visit(t.Context(), srv.URL+"/landing", "tok-4"); err != nil || !strings.Contains(got.Action, "no element matched") {
		t.Errorf("an invalid selector: %v, action %q", err, got.Action)
	}
}
