package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestServeRunsUntilCancelled(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"-marketplace-addr", "127.0.0.1:0", "-identity-addr", "127.0.0.1:0",
			"-control-addr", "127.0.0.1:0", "-ca-dir", dir, "-webhook", hook.URL,
			"-landing", "https://app.example/landing", "-violations", filepath.Join(dir, "violations.json")}, &stdout, &stderr)
	}()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "SAAS_CLIENT_SECRET=") {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d early:\n%s\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no env lines printed:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := stdout.String()
	line := func(re string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)` + re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no line matching %s in:\n%s", re, out)
		}
		return m[1]
	}
	control := line(`^control page:\s+(http://127\.0\.0\.1:\d+)/$`)
	market := line(`^MARKETPLACE_API=(https://127\.0\.0\.1:\d+)/api$`)
	line(`^AZURE_AUTHORITY_HOST=(https://127\.0\.0\.1:\d+)$`)
	line(`^TENANT_ID=(\S+)$`)
	line(`^CLIENT_ID=(\S+)$`)
	clientID := line(`^SAAS_CLIENT_ID=(\S+)$`)
	envFile := line(`^the same lines are in (\S+): set -a`)
	if b, err := os.ReadFile(envFile); err != nil || !strings.Contains(string(b), "\nSAAS_CLIENT_ID="+clientID+"\n") ||
		filepath.Dir(envFile) != dir {
		t.Errorf("env file %s: %v\n%s", envFile, err, b)
	}
	for _, k := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"} {
		if ca := line(`^` + k + `=(\S+)$`); filepath.Dir(ca) != dir {
			t.Errorf("%s=%s, want a file in -ca-dir %s", k, ca, dir)
		}
	}

	resp, err := http.Post(control+"/api/purchases", "application/json", strings.NewReader(`{"planId":"basic"}`))
	if err != nil {
		t.Fatal(err)
	}
	var buy struct{ SubscriptionID, Token, LandingURL string }
	json.NewDecoder(resp.Body).Decode(&buy)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(buy.LandingURL, "https://app.example/landing?token=") {
		t.Fatalf("purchase: %d %+v", resp.StatusCode, buy)
	}

	// A call without a token is a violation, printed as it happens.
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(line(`^SSL_CERT_FILE=(\S+)$`))
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("the CA file holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = client.Get(market + "/api/saas/subscriptions/" + buy.SubscriptionID + "?api-version=2018-08-31")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unauthenticated GET: %d", resp.StatusCode)
	}
	// A purchase token in a URL the fake records: the violations file must
	// not keep it.
	resp, err = client.Get(market + "/api/saas/subscriptions/resolve?api-version=2018-08-31&token=" + url.QueryEscape(buy.Token))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	for deadline := time.Now().Add(5 * time.Second); !regexp.MustCompile(`(?m)^violation \S+: .+`).MatchString(stdout.String()); {
		if time.Now().After(deadline) {
			t.Fatalf("no violation line printed:\n%s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	cancel()
	select {
	case code := <-done:
		if code != ExitPassed {
			t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after the context ended")
	}
	for _, u := range []string{control, market} {
		p, _ := url.Parse(u)
		if c, err := net.DialTimeout("tcp", p.Host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after serve returned", p.Host)
		}
	}
	var vf struct {
		Count      int
		Violations []struct{ Rule string }
	}
	if b, err := os.ReadFile(filepath.Join(dir, "violations.json")); err != nil || json.Unmarshal(b, &vf) != nil ||
		vf.Count == 0 || len(vf.Violations) != vf.Count {
		t.Errorf("-violations file after stop: %v %+v", err, vf)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "violations.json")); strings.Contains(string(b), buy.Token) ||
		strings.Contains(string(b), url.QueryEscape(buy.Token)) {
		t.Errorf("the -violations file holds the purchase token:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir)); err != nil {
		t.Errorf("-ca-dir removed: %v", err)
	}
}

func TestServeRefusesBadFlags(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := []string{"-marketplace-addr", "127.0.0.1:0", "-identity-addr", "127.0.0.1:0", "-control-addr", "127.0.0.1:0"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{append(free, "-control-addr", "0.0.0.0:0"), "-control-addr \"0.0.0.0:0\": the control server has no authentication"},
		{append(free, "-marketplace-addr", "nowhere"), `-marketplace-addr "nowhere": want host:port`},
		{append(free, "-profile", "prod"), `-profile: unknown profile "prod": want strict or production`},
		{append(free, "-webhook", "localhost:3000/webhook"), `-webhook "localhost:3000/webhook": want an absolute`},
		{append(free, "-landing", "/landing"), `-landing "/landing": want an absolute`},
		{append(free, "-marketplace-addr", busy.Addr().String()), "address already in use"},
		{append(free, "-control-addr", busy.Addr().String()), "control server"},
		{append(free, "-violations", "/nonexistent-dir/v.json"), "-violations: violations file"},
		{append(free, "-state", "/nonexistent-dir/fake.state", "-ca-dir", os.TempDir()), "-state: state file"},
	}
	for _, c := range cases {
		var stdout, stderr syncBuffer
		code := serve(context.Background(), c.args, &stdout, &stderr)
		if code != ExitSetup || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("serve %q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

func TestServeHelp(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := Main([]string{"serve", "-h"}, &stdout, &stderr); code != ExitPassed ||
		!strings.Contains(stdout.String(), "-webhook") || !strings.Contains(stdout.String(), "-control-addr") {
		t.Fatalf("serve -h: %d %s %s", code, stdout.String(), stderr.String())
	}
	stdout = syncBuffer{}
	Main([]string{"help"}, &stdout, io.Discard)
	if !strings.Contains(stdout.String(), "saasconform serve") {
		t.Errorf("help does not list serve:\n%s", stdout.String())
	}
}

// TestServeWithProxy: -proxy prints the proxy line and the environment an
// app needs to keep Microsoft's host names, and the proxy answers for them.
func TestServeWithProxy(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"-marketplace-addr", "127.0.0.1:0", "-identity-addr", "127.0.0.1:0",
			"-control-addr", "127.0.0.1:0", "-proxy", "127.0.0.1:0", "-ca-dir", dir}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "SAAS_CLIENT_SECRET=") {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d early:\n%s\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no env lines printed:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := stdout.String()
	m := regexp.MustCompile(`(?m)^HTTPS_PROXY=(http://127\.0\.0\.1:\d+)$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "MARKETPLACE_API=https://marketplaceapi.microsoft.com/api\n") ||
		!strings.Contains(out, "AZURE_AUTHORITY_HOST=https://login.microsoftonline.com\n") ||
		!regexp.MustCompile(`(?m)^proxy:\s+http://127\.0\.0\.1:\d+ `).MatchString(out) ||
		!strings.Contains(out, "NODE_OPTIONS=\"--require "+filepath.Join(dir, "saasconform-node-preload.cjs")+"\"") {
		t.Fatalf("proxy lines missing:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "saasconform.env")); err != nil || !strings.Contains(string(b), "HTTPS_PROXY="+m[1]) {
		t.Errorf("saasconform.env: %v\n%s", err, b)
	}
	proxyURL, _ := url.Parse(m[1])
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, "saasconform-ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("CA file: %v", err)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"jwks_uri":"https://login.microsoftonline.com/common/discovery/v2.0/keys"`) {
		t.Errorf("discovery through the proxy: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}
