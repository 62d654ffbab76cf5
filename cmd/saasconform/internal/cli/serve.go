package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/saasconform/saasconform/harness/atomicfile"
	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/control"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/microsoft"
	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/report"
	"github.com/saasconform/saasconform/harness/statefile"
	"github.com/saasconform/saasconform/harness/tlsca"
	"github.com/saasconform/saasconform/harness/violation"
)

// serveFlags are the flags of `saasconform serve`.
type serveFlags struct {
	fs              *flag.FlagSet
	marketplaceAddr string
	identityAddr    string
	controlAddr     string
	landing         string
	webhook         string
	plain           bool
	proxy           string
	caDir           string
	state           string
	violations      string
	profile         string
}

func newServeFlags(output io.Writer) *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet("saasconform serve", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(output)
	fs.Usage = func() {}
	fs.StringVar(&f.marketplaceAddr, "marketplace-addr", "127.0.0.1:8443", "the fake marketplace's `host:port` (port 0: any free port)")
	fs.StringVar(&f.identityAddr, "identity-addr", "127.0.0.1:8444", "the fake Entra ID's `host:port`")
	fs.StringVar(&f.controlAddr, "control-addr", "127.0.0.1:8900", "the control page and API's `host:port` (plain HTTP, loopback only)")
	fs.StringVar(&f.landing, "landing", "", "your app's landing page `URL`; purchases then come with a link carrying ?token=")
	fs.StringVar(&f.webhook, "webhook", "", "your app's webhook `URL`; without it, customer actions change Microsoft's state but deliver nothing")
	fs.BoolVar(&f.plain, "plain", false, "serve the fakes over plain HTTP instead of HTTPS")
	fs.StringVar(&f.proxy, "proxy", "", "start the intercepting proxy at `host:port` (port 0: any free port): the fakes then answer as "+
		"login.microsoftonline.com and marketplaceapi.microsoft.com for an app that keeps those names and sets HTTPS_PROXY")
	fs.StringVar(&f.caDir, "ca-dir", "", "folder for the CA file (default: the -state file's folder, else a temporary folder removed on exit)")
	fs.StringVar(&f.violations, "violations", "", "write the session's violations to `FILE` as JSON when serve stops (the format of run's violations.json)")
	fs.StringVar(&f.profile, "profile", "strict", "how the fakes answer: `strict` (as Microsoft's documents say) or production (as the real service is reported to: "+
		"401s, real error bodies, 400 locked, an empty operations list, transient 5xx/429 on reads; spec/README.md)")
	fs.StringVar(&f.state, "state", "", "keep subscriptions, operations, tokens, credentials and the CA in `FILE` across restarts (default: memory only); "+
		"a regular file or a new path, locked while serve runs")
	return f
}

func (f *serveFlags) usage(w io.Writer) {
	fmt.Fprint(w, `Usage: saasconform serve [flags]

Runs the fake marketplace and Entra ID for hand testing while you develop,
with a control page and JSON API to buy plans and act as the customer.
Prints the environment your app needs, then every violation as it happens.
Stops on Ctrl-C. State lives in memory unless -state names a file; with
one, a restart (even after a crash) comes back with the same subscriptions,
credentials and CA, so your app keeps working unchanged.

Flags:
`)
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	fmt.Fprint(w, `
Exit codes: 0 stopped by a signal, 2 bad flags, an address in use, a
-violations file that cannot be written, or a -state file that is refused
(not a regular file, not a state file, the same file as another output) or
in use by another serve (it holds FILE.lock, which names its pid).
`)
}

func serveCommand(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr)
}

// serve runs `saasconform serve` until ctx ends, then closes everything.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newServeFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.usage(stdout)
			return ExitPassed
		}
		fmt.Fprintln(stderr, "see: saasconform serve -h")
		return ExitSetup
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "saasconform serve: "+format+"\nsee: saasconform serve -h\n", a...)
		return ExitSetup
	}
	if f.fs.NArg() > 0 {
		return fail("unexpected argument %q", f.fs.Arg(0))
	}
	prof, err := profile.Parse(f.profile)
	if err != nil {
		return fail("-profile: %v", err)
	}
	for _, a := range [][2]string{{"-marketplace-addr", f.marketplaceAddr}, {"-identity-addr", f.identityAddr}} {
		if _, _, err := net.SplitHostPort(a[1]); err != nil {
			return fail("%s %q: want host:port (%v)", a[0], a[1], err)
		}
	}
	if err := loopbackAddr(f.controlAddr); err != nil {
		return fail("-control-addr %q: %v", f.controlAddr, err)
	}
	for _, u := range [][2]string{{"-landing", f.landing}, {"-webhook", f.webhook}} {
		if err := absoluteURL(u[1]); u[1] != "" && err != nil {
			return fail("%s %q: %v", u[0], u[1], err)
		}
	}
	caDir := f.caDir
	if caDir == "" && f.state != "" {
		caDir = filepath.Dir(f.state)
	}
	// Before anything is written: two outputs in one file would destroy
	// one of them, the state included.
	if err := checkOutputs(serveOutputs(f, caDir)); err != nil {
		return fail("%v", err)
	}
	if caDir != "" {
		if err := os.MkdirAll(caDir, 0o755); err != nil {
			return fail("-ca-dir: %v", err)
		}
		// The CA path goes into the app's environment: absolute, so the
		// app may run from any folder.
		if abs, err := filepath.Abs(caDir); err == nil {
			caDir = abs
		}
	}
	out := &lockedWriter{w: stdout}
	var state *statefile.File
	if f.state != "" {
		// Open refuses, touching nothing, a path that is not a regular
		// file or a new one, a file that is not a state file, and a state
		// file another process holds.
		var err error
		state, err = statefile.Open(f.state, statefile.Options{OnError: func(err error) { out.printLine("state     " + err.Error()) }})
		if err != nil {
			return fail("-state: %v", err)
		}
		defer func() {
			if err := state.Close(); err != nil {
				fmt.Fprintf(stderr, "saasconform serve: closing the state file: %v\n", err)
			}
		}()
	}
	if f.violations != "" {
		// Fail now, not after an hour of clicking, if the path is unusable;
		// after the state is accepted, so a refused state leaves an older
		// violations file as it was.
		if err := (&violation.Log{}).WriteFile(f.violations, ""); err != nil {
			return fail("-violations: %v", err)
		}
	}

	// The fakes read a fake clock (the suites move it on); here it follows
	// the wall clock, so the ack window of a change in progress passes in
	// real time and Settle auto-accepts what the publisher left unanswered.
	clk := clock.NewFake(time.Now())
	side, err := microsoft.Start(microsoft.Options{Clock: clk, Plain: f.plain, Proxy: f.proxy != "", ProxyAddr: f.proxy,
		MarketplaceAddr: f.marketplaceAddr, IdentityAddr: f.identityAddr, Dir: caDir, State: state,
		// A standing service keeps a bounded transcript and violation log;
		// every violation is still printed as it happens.
		MaxExchanges: 5000, MaxViolations: 10000, Marketplace: []marketplace.Option{marketplace.WithMaxEvents(5000)}, Profile: prof})
	if err != nil {
		return fail("%v", err)
	}
	defer side.Close()

	var sender *driver.Sender
	if f.webhook != "" {
		client, err := publisherClient(side.CAFile)
		if err != nil {
			return fail("%v", err)
		}
		// Back-off waits in real time: the wall clock, not the fake one.
		sender = &driver.Sender{URL: f.webhook, Client: client, Issuer: side.Identity, App: side.App,
			Clock: clock.Real{}, Log: side.Log, Market: side.Marketplace, MaxKept: 5000}
	}
	ctrl, err := control.New(control.Config{Side: side, Sender: sender, LandingURL: f.landing})
	if err != nil {
		return fail("%v", err)
	}
	ln, err := net.Listen("tcp", f.controlAddr)
	if err != nil {
		return fail("control server: %v", err)
	}
	srv := &http.Server{Handler: ctrl, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()

	side.Log.Watch(func(v violation.Violation) { out.printViolation(v) })

	ticked := make(chan struct{})
	tickCtx, stopTicks := context.WithCancel(ctx)
	go func() {
		defer close(ticked)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-tickCtx.Done():
				return
			case now := <-t.C:
				if now.After(clk.Now()) {
					clk.Set(now)
				}
				side.Marketplace.Settle()
			}
		}
	}()

	// The environment also goes to a file beside the CA, to source.
	envFile := filepath.Join(filepath.Dir(side.CAFile), "saasconform.env")
	if err := atomicfile.Write(envFile, []byte(envText(side, f.plain && side.ProxyURL == "")), 0o600); err != nil {
		fmt.Fprintf(stderr, "saasconform serve: writing %s: %v\n", envFile, err)
		envFile = ""
	}
	out.printStart(f, side, "http://"+ln.Addr().String(), envFile)

	<-ctx.Done()
	stopTicks()
	<-ticked
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	<-served
	ctrl.Close()
	out.close()
	if f.violations != "" {
		// Secrets are hidden here as in run's reports: by shape and, for
		// the session's own client secrets and purchase tokens, by value.
		if err := side.Log.WriteFileFunc(f.violations, "", report.NewRedactor(side.Secrets()...).RedactViolation); err != nil {
			fmt.Fprintf(stderr, "saasconform serve: %v\n", err)
			return ExitSetup
		}
		fmt.Fprintf(stderr, "saasconform serve: the last %d violation(s) written to %s (%d older ones were printed but not kept)\n",
			side.Log.Len(), f.violations, side.Log.Dropped())
	}
	fmt.Fprintln(stderr, "saasconform serve: stopped")
	return ExitPassed
}

// loopbackAddr accepts host:port on a loopback address: the control API has
// no authentication.
func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port (%v)", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("the control server has no authentication; use a loopback address such as 127.0.0.1")
	}
	return nil
}

func absoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http:// or https:// URL")
	}
	return nil
}

// publisherClient reaches the publisher's webhook: it trusts the system
// roots and the run's CA, as the app's own certificate is not checked here.
func publisherClient(caFile string) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// lockedWriter serialises the start banner and the live violation lines,
// and drops lines after serve returned.
type lockedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (l *lockedWriter) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

func (l *lockedWriter) printLine(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		fmt.Fprintln(l.w, s)
	}
}

func (l *lockedWriter) printViolation(v violation.Violation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	line := "violation " + v.Rule + ": " + v.Summary
	if v.Severity == violation.Warning {
		line = "warning   " + v.Rule + ": " + v.Summary
	}
	if v.Fix != "" {
		line += " — fix: " + v.Fix
	}
	fmt.Fprintln(l.w, line)
}

func (l *lockedWriter) printStart(f *serveFlags, side *microsoft.Side, controlURL, envFile string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.w
	fmt.Fprintf(w, "saasconform serve: the fake marketplace and Entra ID are up (Ctrl-C to stop)\n\n")
	fmt.Fprintf(w, "control page:  %s/\n", controlURL)
	fmt.Fprintf(w, "control API:   %s/api/ (offers, subscriptions, purchases, violations, deliveries)\n", controlURL)
	fmt.Fprintf(w, "marketplace:   %s\n", side.MarketplaceURL)
	fmt.Fprintf(w, "Entra ID:      %s\n", side.AuthorityURL)
	if side.ProxyURL != "" {
		fmt.Fprintf(w, "proxy:         %s (Microsoft's own host names, answered by the fakes at %s and %s; other hosts refused)\n",
			side.ProxyURL, side.LocalMarketplace, side.LocalAuthority)
	}
	if !f.plain || side.ProxyURL != "" {
		fmt.Fprintf(w, "CA file:       %s\n", side.CAFile)
	}
	webhook, landing := f.webhook, f.landing
	if webhook == "" {
		webhook = "none (-webhook): actions change state, nothing is delivered"
	}
	if landing == "" {
		landing = "none (-landing): purchases return the token only"
	}
	fmt.Fprintf(w, "webhook:       %s\nlanding page:  %s\n", webhook, landing)
	if f.state != "" {
		fmt.Fprintf(w, "state file:    %s\n", f.state)
	} else {
		fmt.Fprintf(w, "state file:    none (-state): everything is forgotten on exit\n")
	}
	for _, n := range side.Notes {
		fmt.Fprintf(w, "note:          %s\n", n)
	}

	fmt.Fprintf(w, "\n%s\n", envText(side, f.plain && side.ProxyURL == ""))
	if envFile != "" {
		fmt.Fprintf(w, "the same lines are in %s: set -a; . %s; set +a\n\n", envFile, envFile)
	}
	fmt.Fprintf(w, "violations are printed below as they happen.\n")
}

// envText is the environment an app needs to reach the fakes, in two
// blocks: common names, and the reference publisher's SAAS_* names.
func envText(side *microsoft.Side, plain bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# environment for your app\n")
	fmt.Fprintf(&b, "MARKETPLACE_API=%s\nAZURE_AUTHORITY_HOST=%s\nTENANT_ID=%s\nCLIENT_ID=%s\nCLIENT_SECRET=%s\n",
		side.MarketplaceURL, side.AuthorityURL, side.App.TenantID, side.App.ClientID, side.App.Secret)
	if side.ProxyURL != "" {
		// Through the proxy the app keeps Microsoft's names; Node.js needs
		// the preload to honour the proxy (see the README's table).
		fmt.Fprintf(&b, "HTTPS_PROXY=%s\nNO_PROXY=127.0.0.1,localhost\nNODE_OPTIONS=\"--require %s\"\n", side.ProxyURL, side.NodePreload)
	}
	if !plain {
		for _, e := range tlsca.Env(side.CAFile) {
			fmt.Fprintln(&b, e)
		}
	}
	fmt.Fprintf(&b, "\n# the same for the reference publisher (examples/publisher)\n")
	fmt.Fprintf(&b, "SAAS_MARKETPLACE_URL=%s\nSAAS_AUTHORITY_HOST=%s\nSAAS_TENANT_ID=%s\nSAAS_CLIENT_ID=%s\nSAAS_CLIENT_SECRET=%s\n",
		side.MarketplaceURL, side.AuthorityURL, side.App.TenantID, side.App.ClientID, side.App.Secret)
	return b.String()
}
