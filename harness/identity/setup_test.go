package identity

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
)

// testStart is a fixed instant so failures are reproducible; whole seconds
// because exp and nbf are.
var testStart = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// newTestIssuer is an Issuer with the fixture apps on a fake clock.
func newTestIssuer(t testing.TB, opts ...Option) (*Issuer, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(testStart)
	i, err := New(append([]Option{WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return i, clk
}

// fixtureApp is a fixture app by publisher id, or by name when the app
// owns no offer.
func fixtureApp(t testing.TB, i *Issuer, key string) App {
	t.Helper()
	if a, ok := i.AppByPublisher(key); ok {
		return a
	}
	for _, a := range i.Apps() {
		if a.Name == key {
			return a
		}
	}
	t.Fatalf("no fixture app %q", key)
	return App{}
}

// pathLog records the method and path of every request a server sees:
// the evidence of what a client library actually asks for.
type pathLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *pathLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *pathLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

// newTLSFake serves i over TLS, sets its URL, and logs request paths.
func newTLSFake(t testing.TB, i *Issuer) (*httptest.Server, *pathLog) {
	t.Helper()
	log := &pathLog{}
	srv := httptest.NewTLSServer(log.wrap(i))
	t.Cleanup(srv.Close)
	if err := i.SetURL(srv.URL); err != nil {
		t.Fatal(err)
	}
	return srv, log
}

// postForm sends a token request straight to the handler.
func postForm(i *Issuer, path string, form url.Values, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "https://login.test"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	i.ServeHTTP(w, r)
	return w
}

// decodeJSON decodes a response body into a map, failing the test if it
// is not JSON.
func decodeJSON(t testing.TB, body io.Reader) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(body).Decode(&m); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	return m
}
