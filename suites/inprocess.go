package suites

import (
	"errors"
	"net/http"

	"github.com/saasconform/saasconform/harness/target"
)

// PublisherHost is the in-process publisher's host name: its target config
// points landingPage, webhook, probe and actions at https://PublisherHost/….
const PublisherHost = "publisher.saasconform.test"

// InProcess runs a Go publisher inside the test process: the harness and the
// publisher reach each other through an in-memory transport (httpmock), so
// nothing listens on a port and nothing is started or stopped.
type InProcess struct {
	// Start builds the publisher for this run. vars carries Microsoft's
	// URLs and the app registration (tenant, client id, secret); client
	// reaches Microsoft in-process and must be used for every call the
	// publisher makes (Entra ID and the marketplace). It returns the
	// publisher's handler and a function that stops it.
	Start func(vars target.Vars, client *http.Client) (http.Handler, func(), error)
}

func (p *InProcess) start(e *Env) error {
	if p.Start == nil {
		return errors.New("suites: InProcess.Start is nil")
	}
	h, stop, err := p.Start(e.Vars, e.MS.HTTPClient())
	if err != nil {
		return err
	}
	if h == nil {
		return errors.New("suites: InProcess.Start returned no handler")
	}
	e.network.Handle(PublisherHost, h)
	e.stopInProcess = stop
	return nil
}
