package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/saasconform/saasconform/harness/driver"
)

// TestHTMLInChromium opens the synthetic report in headless Chromium: the
// page must run without a JavaScript error, fetch nothing, show the failed
// spec's rule ID, and its filter must work.
func TestHTMLInChromium(t *testing.T) {
	path := driver.ChromiumForTest(t)
	file := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, build(t)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, driver.HeadlessOptions(path)...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()

	var mu sync.Mutex
	var problems, fetched []string
	if err := chromedp.Do(tab); err != nil { // open the tab, so that no event of the load is missed
		t.Fatal(err)
	}
	err = chromedp.Listen(tab, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") {
				fetched = append(fetched, u)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, enable := range []func() error{
		func() error { _, err := chromedp.Call(tab, runtime.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); return err },
	} {
		if err := enable(); err != nil {
			t.Fatal(err)
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+file), chromedp.WaitReady(chromedp.CSS("#x-list"))); err != nil {
		t.Fatal(err)
	}
	verdict := text(`document.getElementById("verdict").textContent`)
	failed := text(`document.getElementById("failed").innerText`)
	count := text(`document.getElementById("spec-count").textContent`)
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#spec-filter"), "wh-suspend")); err != nil {
		t.Fatal(err)
	}
	countAfter := text(`document.getElementById("spec-count").textContent`)
	hiddenAfter := text(`String(document.querySelectorAll(".spec-row.hidden").length)`)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#x-open")), chromedp.Click(chromedp.CSS("#x-viol")),
		chromedp.Sleep(200*time.Millisecond)); err != nil { // the sleep lets late console messages arrive
		t.Fatal(err)
	}
	xCount := text(`document.getElementById("x-count").textContent`)
	opened := text(`String(document.querySelectorAll("#x-list details[open]").length)`)

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("JavaScript: %s", p)
	}
	if len(fetched) > 0 {
		t.Errorf("the page fetched %v; it must be self-contained", fetched)
	}
	if xCount != "2 of 3 shown" || opened != "3" {
		t.Errorf("transcript controls: %q, %s open; want 2 of 3 shown (only calls with violations) and all 3 expanded", xCount, opened)
	}
	if !strings.Contains(verdict, "Failed") {
		t.Errorf("verdict %q", verdict)
	}
	for _, want := range []string{"FUL-ACTIVATE-01", "How to fix: send the planId resolve returned", "flat-monthly", "PendingFulfillmentStart"} {
		if !strings.Contains(failed, want) {
			t.Errorf("the failed-spec section lacks %q:\n%s", want, failed)
		}
	}
	if count != "3 of 3 shown" || countAfter != "1 of 3 shown" || hiddenAfter != "2" {
		t.Errorf("spec filter: %q, then %q with %s hidden; want 3 of 3, then 1 of 3 with 2 hidden", count, countAfter, hiddenAfter)
	}
}
