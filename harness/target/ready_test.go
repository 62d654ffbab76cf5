package target

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// roundTripFunc lets a test see each readiness attempt.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A ready URL that is refused at first, then accepts connections and never
// answers, must be reported by what its last attempt met, not by the first
// refusal (the error used to say "last: connection refused").
func TestWaitReadyNamesTheLastAttempt(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // refused until the first attempt has been made

	var once sync.Once
	var held []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	inner := &http.Transport{}
	defer inner.CloseIdleConnections()
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := inner.RoundTrip(r)
		once.Do(func() {
			// Now listen, accept, and never answer.
			l, lerr := net.Listen("tcp", addr)
			if lerr != nil {
				t.Errorf("listen again on %s: %v", addr, lerr)
				return
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					held = append(held, c)
					mu.Unlock()
				}
			}()
		})
		return resp, err
	})}
	err = WaitReady(context.Background(), "http://"+addr+"/healthz", client, 2500*time.Millisecond, nil)
	var re *ReadyError
	if !errors.As(err, &re) {
		t.Fatalf("WaitReady = %v, want a *ReadyError", err)
	}
	if strings.Contains(re.Last, "refused") || !strings.Contains(re.Last, "timeout awaiting response headers") {
		t.Errorf("last = %q, want the hung attempt (timeout awaiting response headers), not the first refusal\n%v", re.Last, err)
	}
}
