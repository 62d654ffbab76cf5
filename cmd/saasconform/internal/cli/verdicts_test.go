package cli

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A run that checks nothing must not read as a pass: a label filter or a
// focus that matches no spec exits 2 naming the filter (it used to exit 0
// with SUCCESS).
func TestNothingRanExits2(t *testing.T) {
	port := freePort(t)
	path := writeTarget(t, fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:%[1]d/landing
  webhook: http://127.0.0.1:%[1]d/webhook
`, port))
	for _, args := range [][]string{{"--label-filter", "AUTH-4"}, {"--focus", "nosuchspec"}} {
		cmd := command(t, append([]string{"run", "-c", path, "--reports-dir", t.TempDir()}, args...)...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != ExitSetup || !strings.Contains(string(out), "no spec matched") ||
			!strings.Contains(string(out), args[1]) {
			t.Errorf("%v: exit %d, want 2 naming the filter; output:\n%s", args, code, out)
		}
	}
}

// An offers file without a plan kind the capabilities need is refused
// before anything runs, naming the missing kind (it used to fail most
// specs with "unknown plan").
func TestOffersLackingAPlanKindExit2(t *testing.T) {
	dir := t.TempDir()
	offers := `offers:
  - offerId: seats-only
    displayName: Seats only
    plans:
      - planId: seats-monthly
        displayName: Per user
        description: per seat
        market: US
        isPricePerSeat: true
        minQuantity: 1
        maxQuantity: 10
        recurrentBillingTerms:
          - {currency: USD, price: 8.0, termUnit: P1M, termDescription: 1 month}
`
	if err := os.WriteFile(filepath.Join(dir, "offers.yaml"), []byte(offers), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	path := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:%[1]d/landing
  webhook: http://127.0.0.1:%[1]d/webhook
marketplace: {offers: offers.yaml}
`, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "run", "-c", path, "--reports-dir", t.TempDir())
	if code != ExitSetup || !strings.Contains(errs, "flat-rate plan") || !strings.Contains(errs, "seats-only") {
		t.Errorf("exit %d, want 2 naming the missing flat-rate plan; stderr:\n%s", code, errs)
	}
}

// An app whose landing page resolves but never activates used to cost one
// flow timeout per spec with no cause shown. Now the owner spec names the
// cause and where the flow stopped, every other spec that needs an active
// subscription fails at once as blocked by it, and the run is short.
func TestNeverActivatingAppIsDiagnosedAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reference publisher")
	}
	bin := filepath.Join(t.TempDir(), "publisher")
	build := exec.Command("go", "build", "-o", bin, "./examples/publisher")
	build.Dir = "../../../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	text, err := os.ReadFile(referenceTarget)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(text), `command: ["go", "run", "./examples/publisher"]`, fmt.Sprintf("command: [%q]", bin), 1)
	// The confirm form is never pressed: the page resolves and shows the
	// form, and nothing activates the purchase.
	s = strings.Replace(s, "publisher:\n", "publisher:\n  landing: {confirmForm: false}\n", 1)
	abs, _ := filepath.Abs("../../../..")
	s = strings.Replace(s, "dir: ../..", "dir: "+abs, 1)
	path := writeTarget(t, s)
	reports := t.TempDir()
	start := time.Now()
	cmd := command(t, "run", "-c", path, "--reports-dir", reports)
	out, _ := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if elapsed > 60*time.Second {
		t.Errorf("the run took %s; a stalled activation must be diagnosed, not waited out", elapsed)
	}
	var j struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	data, err := os.ReadFile(filepath.Join(reports, "junit.xml"))
	if err != nil || xml.Unmarshal(data, &j) != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	own, blocked := 0, 0
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Failure == nil {
				continue
			}
			m := c.Failure.Message
			switch {
			case strings.HasPrefix(m, "blocked: FUL-ACTIVATE-04 — "):
				blocked++
			case strings.HasPrefix(m, "FUL-ACTIVATE-04: ") && strings.Contains(m, "no activate call followed") &&
				strings.Contains(m, "confirmForm is off"):
				own++
			default:
				t.Errorf("%s failed without naming the root cause:\n%s", c.Name, m)
			}
		}
	}
	if own != 1 || blocked < 25 {
		t.Errorf("%d spec(s) failed with the cause and %d were blocked by it; want 1 and the rest (25 or more)", own, blocked)
	}
}
