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
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/saasconform/saasconform/harness/driver"
)

// TestCascadeHTMLInChromium opens the report of a cascade in headless
// Chromium: the causes come first and collapsed, a cause's specs open on a
// click, and the "blocked" filter hides exactly the 30 blocked specs.
func TestCascadeHTMLInChromium(t *testing.T) {
	path := driver.ChromiumForTest(t)
	file := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, Build(cascade(true))); err != nil {
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
	if err := chromedp.Do(tab); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var problems []string
	err = chromedp.Listen(tab, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			problems = append(problems, ev.ExceptionDetails.Text)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+file), chromedp.WaitReady(chromedp.CSS("#causes"))); err != nil {
		t.Fatal(err)
	}
	order := text(`Array.from(document.querySelectorAll("main > section")).slice(0, 2).map(s => s.id).join(",")`)
	closed := text(`document.querySelector("#causes").innerText`)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#causes details.cause-specs summary"))); err != nil {
		t.Fatal(err)
	}
	opened := text(`document.querySelector("#causes details.cause-specs").innerText`)
	before := text(`document.getElementById("spec-count").textContent`)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`.spec-state[value="blocked"]`)), chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	after := text(`document.getElementById("spec-count").textContent`)

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("JavaScript: %s", p)
	}
	if order != "causes,failed" {
		t.Errorf("sections start %s; want causes, then failed", order)
	}
	if !strings.Contains(closed, "31 specs") || !strings.Contains(closed, "request the scope") || strings.Contains(closed, "blocked spec 00") {
		t.Errorf("causes section, collapsed:\n%s", closed)
	}
	if strings.Count(opened, "blocked spec ") != 30 || !strings.Contains(opened, rootSpec) {
		t.Errorf("the root cause's specs, opened:\n%s", opened)
	}
	if before != "63 of 63 shown" || after != "33 of 63 shown" {
		t.Errorf("spec filter %q, then %q without blocked; want 63 of 63, then 33 of 63", before, after)
	}
}
