package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/tlsca"
)

// nodeScript is what an app does: https.get and fetch (GET and a form
// POST) to a Microsoft host, fetch and https.get to a host the preload must
// leave alone, and fetch to a host only the override list names. Each
// result is one JSON line {name, status, body} or {name, error}.
const nodeScript = `
const https = require('https');
function out(name, r) { process.stdout.write(JSON.stringify(Object.assign({name}, r)) + '\n'); }
function get(url) {
  return new Promise((resolve) => {
    https.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => body += c);
      res.on('end', () => resolve({status: res.statusCode, body}));
    }).on('error', (e) => resolve({error: String(e && e.message || e)}));
  });
}
async function f(url, init) {
  try {
    const r = await fetch(url, init);
    return {status: r.status, body: await r.text(), contentType: r.headers.get('content-type')};
  } catch (e) {
    return {error: String(e && e.message || e) + (e && e.cause ? ': ' + (e.cause.code || e.cause.message) : '')};
  }
}
(async () => {
  if (!process.env.SKIP_MS) {
  out('https.get', await get('https://login.microsoftonline.com/x'));
  out('fetch', await f('https://login.microsoftonline.com/x'));
  out('fetch-post', await f('https://login.microsoftonline.com/t/oauth2/v2.0/token',
    {method: 'POST', headers: {'x-test': 'yes'}, body: new URLSearchParams({grant_type: 'client_credentials', scope: 'a b'})}));
  }
  out('fetch-other', await f('https://example.invalid/'));
  out('https.get-local', await get(process.env.BACKEND + '/local'));
  out('fetch-local', await f(process.env.BACKEND + '/local'));
})();
`

// TestNodePreloadRoutesMicrosoftHostsOnly runs Node.js with the preload
// against a proxy routing login.microsoftonline.com to an echo server.
func TestNodePreloadRoutesMicrosoftHostsOnly(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node is not on PATH, and CI is set: the Node.js preload must be tested in CI (%v)", err)
		}
		t.Skipf("node is not on PATH (%v): the Node.js preload is not tested", err)
	}
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	backend, err := ca.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "echo %s %s host=%s ct=%s x-test=%s body=%s", r.Method, r.URL.RequestURI(), r.Host,
			r.Header.Get("Content-Type"), r.Header.Get("X-Test"), body)
	}), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	p, err := Start(Options{CA: ca, Routes: map[string]string{"login.microsoftonline.com": backend.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	dir := t.TempDir()
	preload, err := WriteNodePreload(dir)
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteFile(dir)
	if err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, extraEnv ...string) map[string]map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "--require", preload, "-e", nodeScript)
		env := []string{}
		for _, kv := range os.Environ() {
			// The test sets the proxy variables itself.
			k, _, _ := strings.Cut(kv, "=")
			switch strings.ToUpper(k) {
			case "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS",
				"NODE_USE_ENV_PROXY", "SAASCONFORM_PROXY_HOSTS", "SAASCONFORM_PRELOAD_DEBUG":
				continue
			}
			env = append(env, kv)
		}
		cmd.Env = append(env, "HTTPS_PROXY="+p.URL, "NO_PROXY=127.0.0.1,localhost", "NODE_EXTRA_CA_CERTS="+caFile,
			"BACKEND="+backend.URL)
		cmd.Env = append(cmd.Env, extraEnv...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("node: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		if stderr.Len() > 0 && !strings.Contains(strings.Join(extraEnv, " "), "SAASCONFORM_PRELOAD_DEBUG") {
			t.Errorf("the preload must log nothing by default; stderr:\n%s", stderr.String())
		}
		results := map[string]map[string]any{}
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			var r map[string]any
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("node printed %q: %v\nstderr:\n%s", line, err, stderr.String())
			}
			results[r["name"].(string)] = r
			t.Logf("%s", line)
		}
		return results
	}

	r := run(t)
	for name, want := range map[string]string{
		"https.get":  "echo GET /x host=login.microsoftonline.com",
		"fetch":      "echo GET /x host=login.microsoftonline.com",
		"fetch-post": "echo POST /t/oauth2/v2.0/token host=login.microsoftonline.com ct=application/x-www-form-urlencoded;charset=UTF-8 x-test=yes body=grant_type=client_credentials&scope=a+b",
	} {
		got := r[name]
		if got == nil || got["status"] != float64(200) || !strings.HasPrefix(fmt.Sprint(got["body"]), want) {
			t.Errorf("%s: %v; want 200 and the echo server's %q (reached through the proxy)", name, got, want)
		}
	}
	if got := r["fetch"]; got != nil && got["contentType"] != "text/plain; charset=utf-8" {
		t.Errorf("fetch: response headers lost: content-type %v", got["contentType"])
	}
	if got := r["fetch-other"]; got == nil || got["error"] == nil || got["status"] != nil {
		t.Errorf("fetch to example.invalid: %v; want an error (DNS), not an answer", got)
	}
	for _, name := range []string{"https.get-local", "fetch-local"} {
		// The app's own calls go straight to their host, not to the proxy
		// (which would refuse 127.0.0.1).
		got := r[name]
		if got == nil || got["status"] != float64(200) || !strings.Contains(fmt.Sprint(got["body"]), "host="+strings.TrimPrefix(backend.URL, "https://")) {
			t.Errorf("%s: %v; want the echo server reached directly", name, got)
		}
	}
	for _, ref := range p.Refused() {
		t.Errorf("the proxy refused %s %s: a host the preload should have left alone was sent to it", ref.Method, ref.URL)
	}

	// The subtests make no request to Microsoft's host (SKIP_MS): without
	// the proxy it would go to the real one.
	t.Run("override list", func(t *testing.T) {
		// With SAASCONFORM_PROXY_HOSTS naming example.invalid, that host goes
		// to the proxy, which refuses and reports it.
		before := len(p.Refused())
		r := run(t, "SKIP_MS=1", "SAASCONFORM_PROXY_HOSTS=login.microsoftonline.com, Example.Invalid")
		if got := r["fetch-other"]; got == nil || got["error"] == nil {
			t.Errorf("fetch to example.invalid: %v; want the proxy's refusal as an error", got)
		}
		refused := p.Refused()[before:]
		if len(refused) != 1 || refused[0].Host != "example.invalid" || refused[0].Method != http.MethodConnect {
			t.Errorf("refusals %+v; want one CONNECT example.invalid", refused)
		}
		if got := r["fetch-local"]; got == nil || got["status"] != float64(200) {
			t.Errorf("fetch-local: %v", got)
		}
	})

	t.Run("no proxy set", func(t *testing.T) {
		// Without HTTPS_PROXY the preload does nothing, whatever the list.
		before := len(p.Refused())
		r := run(t, "SKIP_MS=1", "HTTPS_PROXY=", "SAASCONFORM_PROXY_HOSTS=example.invalid")
		if got := r["fetch-other"]; got == nil || got["error"] == nil {
			t.Errorf("fetch to example.invalid: %v; want a DNS error", got)
		}
		if len(p.Refused()) != before {
			t.Errorf("refusals %+v", p.Refused()[before:])
		}
		if got := r["https.get-local"]; got == nil || got["status"] != float64(200) {
			t.Errorf("https.get-local: %v", got)
		}
	})

	t.Run("debug log", func(t *testing.T) {
		// SAASCONFORM_PRELOAD_DEBUG=1 logs to stderr; the run still works.
		r := run(t, "SKIP_MS=1", "SAASCONFORM_PRELOAD_DEBUG=1")
		if got := r["fetch-local"]; got == nil || got["status"] != float64(200) {
			t.Errorf("fetch-local: %v", got)
		}
	})
}
