package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveChild is `saasconform serve` in a child process, so the test can
// kill it with SIGKILL.
type serveChild struct {
	cmd     *exec.Cmd
	control string
	env     map[string]string // the printed KEY=VALUE lines
	banner  string
}

func startServeChild(t *testing.T, args ...string) *serveChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "-marketplace-addr", "127.0.0.1:0", "-identity-addr", "127.0.0.1:0",
		"-control-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &serveChild{cmd: cmd, env: map[string]string{}}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var b strings.Builder
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent {
				b.WriteString(line + "\n")
				if k, v, ok := strings.Cut(line, "="); ok && regexp.MustCompile(`^[A-Z_]+$`).MatchString(k) {
					c.env[k] = v
				}
				if m := regexp.MustCompile(`^control page:\s+(\S+)/$`).FindStringSubmatch(line); m != nil {
					c.control = m[1]
				}
				if strings.HasPrefix(line, "violations are printed below") {
					c.banner = b.String()
					sent = true
					ready <- nil
				}
			}
		}
		if !sent {
			ready <- fmt.Errorf("serve exited before it was up; stderr:\n%s", stderr.String())
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve not up after 20 s; stderr:\n%s", stderr.String())
	}
	return c
}

func (c *serveChild) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

type subView struct {
	ID     string `json:"id"`
	Status string `json:"saasSubscriptionStatus"`
}

func (c *serveChild) subscriptions(t *testing.T) map[string]string {
	t.Helper()
	resp, err := http.Get(c.control + "/api/subscriptions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var subs []subView
	if err := json.NewDecoder(resp.Body).Decode(&subs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range subs {
		out[s.ID] = s.Status
	}
	return out
}

// TestServeStateSurvivesKill9 buys and cancels subscriptions through the
// control API of a serve with -state as fast as it answers, kills it with
// SIGKILL in the middle of that stream, restarts it on the same file, and
// checks that every change the API acknowledged is there, and that the
// publisher-facing environment (credentials, CA) did not change.
func TestServeStateSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "fake.state")
	acked := map[string]string{} // subscription id → status the API confirmed
	var first *serveChild
	for round := 0; round < 3; round++ {
		c := startServeChild(t, "-state", state)
		if round == 0 {
			first = c
			if !strings.Contains(c.banner, "state file:    "+state) {
				t.Errorf("the banner does not name the state file:\n%s", c.banner)
			}
		} else {
			for _, k := range []string{"CLIENT_ID", "CLIENT_SECRET", "TENANT_ID", "SSL_CERT_FILE"} {
				if c.env[k] != first.env[k] {
					t.Errorf("round %d: %s changed across the restart: %q → %q", round, k, first.env[k], c.env[k])
				}
			}
			// At least the acknowledged ones: a purchase written just
			// before the kill, whose answer never left, is there too.
			var n int
			m := regexp.MustCompile(`restored (\d+) subscription\(s\)`).FindStringSubmatch(c.banner)
			if m != nil {
				n, _ = strconv.Atoi(m[1])
			}
			if m == nil || n < len(acked) {
				t.Errorf("round %d: the banner does not say at least %d subscriptions were restored:\n%s", round, len(acked), c.banner)
			}
		}
		got := c.subscriptions(t)
		for id, status := range acked {
			if !oneOf(got[id], status) {
				t.Fatalf("round %d: subscription %s is %q after kill -9 and restart, the API had confirmed %q", round, id, got[id], status)
			}
		}

		// Two clients write as fast as the fake answers; the kill lands
		// while their requests are in flight.
		target := len(acked) + 40 // before the writers start: they change acked
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 5 * time.Second}
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := client.Post(c.control+"/api/purchases", "application/json", strings.NewReader(`{"planId":"seats-monthly","quantity":2}`))
					if err != nil {
						return // killed
					}
					var p struct{ SubscriptionID string }
					json.NewDecoder(resp.Body).Decode(&p)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						return
					}
					mu.Lock()
					acked[p.SubscriptionID] = "PendingFulfillmentStart"
					mu.Unlock()
					if i%3 == 0 { // and cancel every third
						// Until the answer arrives, either status is right:
						// the kill may land after the write, before the reply.
						mu.Lock()
						acked[p.SubscriptionID] = "PendingFulfillmentStart|Unsubscribed"
						mu.Unlock()
						resp, err := client.Post(c.control+"/api/subscriptions/"+p.SubscriptionID+"/actions/unsubscribe", "application/json", nil)
						if err != nil {
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							mu.Lock()
							acked[p.SubscriptionID] = "Unsubscribed"
							mu.Unlock()
						}
					}
				}
			}()
		}
		for deadline := time.Now().Add(20 * time.Second); ; {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= target {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: only %d acknowledged purchases in 20 s", round, n)
			}
			time.Sleep(5 * time.Millisecond) // polling the writers' progress, not waiting for the fake
		}
		c.kill()
		close(stop)
		wg.Wait()
	}
	c := startServeChild(t, "-state", state)
	got := c.subscriptions(t)
	for id, status := range acked {
		if !oneOf(got[id], status) {
			t.Fatalf("final: subscription %s is %q, the API had confirmed %q", id, got[id], status)
		}
	}
	t.Logf("%d acknowledged subscriptions survived 3 kills", len(acked))
}

func oneOf(got, want string) bool {
	for _, w := range strings.Split(want, "|") {
		if got == w {
			return true
		}
	}
	return false
}

func TestServeRefusesAStateFileThatIsNotOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("my notes\n"), 0o644)
	// A file beside it that happens to have the name of a compaction's.
	os.WriteFile(path+".tmp", []byte("draft\n"), 0o644)
	var stdout, stderr syncBuffer
	code := Main([]string{"serve", "-control-addr", "127.0.0.1:0", "-marketplace-addr", "127.0.0.1:0",
		"-identity-addr", "127.0.0.1:0", "-state", path}, &stdout, &stderr)
	if code != ExitSetup || !strings.Contains(stderr.String(), "not a saasconform state file") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if b, _ := os.ReadFile(path); string(b) != "my notes\n" {
		t.Error("serve changed a file that is not a state file")
	}
	if b, _ := os.ReadFile(path + ".tmp"); string(b) != "draft\n" {
		t.Error("refusing the file removed notes.txt.tmp beside it")
	}
}
