package suites

import (
	"net/http"

	"github.com/saasconform/saasconform/harness/driver"
)

// newBrowserVisitor is landing.mode: browser — a fresh headless Chromium for
// each visit. The client is not used: the browser has its own network stack
// (see driver.BrowserVisitor on certificates). A missing browser fails the
// run's setup, not every landing spec.
func newBrowserVisitor(_ *http.Client, confirm bool, click string) (driver.Visitor, error) {
	v, err := driver.NewBrowserVisitor(confirm)
	if err != nil {
		return nil, err
	}
	v.Click = click
	return v, nil
}
