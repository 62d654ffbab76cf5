package suites

import (
	"errors"
	"net/http"

	"github.com/saasconform/saasconform/harness/driver"
)

// newBrowserVisitor is replaced when the browser visitor lands.
func newBrowserVisitor(_ *http.Client, _ bool) (driver.Visitor, error) {
	return nil, errors.New("suites: landing mode browser is not available in this build")
}
