package contract

import (
	"net/http"
	"testing"
)

func TestIDHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range []string{keyRequestID, keyCorrelationID, keyMarketplaceToken} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
}
