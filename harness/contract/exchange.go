package contract

import (
	"bytes"
	"net/http"
	"time"

	"github.com/saasconform/saasconform/harness/violation"
)

// Exchange is one request the publisher sent and what the fake answered.
type Exchange struct {
	At             time.Time             `json:"at"`                  // wall time the request arrived
	Duration       time.Duration         `json:"duration"`            // wall time until the answer was ready
	Operation      string                `json:"operation,omitempty"` // operationId, "" when no operation matched
	Method         string                `json:"method"`
	URL            string                `json:"url"`
	RequestHeader  http.Header           `json:"requestHeader"`
	RequestBody    []byte                `json:"requestBody,omitempty"`
	Status         int                   `json:"status"`
	ResponseHeader http.Header           `json:"responseHeader"`
	ResponseBody   []byte                `json:"responseBody,omitempty"`
	SubscriptionID string                `json:"subscriptionId,omitempty"`
	CorrelationID  string                `json:"correlationId,omitempty"`
	RequestID      string                `json:"requestId,omitempty"`
	Violations     []violation.Violation `json:"violations,omitempty"`
	// ClockAt is the harness clock when the request arrived: the time the
	// fake acted on (token and grace windows), which a test may have moved.
	ClockAt time.Time `json:"clockAt"`
}

// recorder buffers a response so it can be validated before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) statusOrOK() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// reset forgets what was written so far.
func (r *recorder) reset() {
	r.header = http.Header{}
	r.status = 0
	r.body.Reset()
}

// flush sends the buffered response to w.
func (r *recorder) flush(w http.ResponseWriter) {
	for k, vs := range r.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(r.statusOrOK())
	_, _ = w.Write(r.body.Bytes())
}
