package inprocess

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRoutesByHostAndReportsTLS(t *testing.T) {
	n := New()
	n.Handle("api.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		io.WriteString(w, scheme+" "+r.Host+" "+r.URL.RequestURI())
	}))
	c := n.Client(time.Second)
	resp, err := c.Get("https://API.test/a?b=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "https API.test /a?b=1" {
		t.Fatalf("body %q", body)
	}
	if _, err := c.Get("https://other.test/"); err == nil || !strings.Contains(err.Error(), "no handler for host") {
		t.Fatalf("unknown host: %v", err)
	}
}

func TestAHandlerThatNeverAnswersDoesNotHangTheCaller(t *testing.T) {
	n := New()
	release := make(chan struct{})
	defer close(release)
	n.Handle("slow.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://slow.test/", nil)
	if _, err := n.Client(0).Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestAPanickingHandlerIsA500(t *testing.T) {
	n := New()
	n.Handle("p.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	resp, err := n.Client(0).Get("http://p.test/")
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("%v %v", resp, err)
	}
}
