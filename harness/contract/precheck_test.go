package contract

import (
	"net/http"
	"regexp"
	"testing"
)

// guidPattern is the regexp isGUID stands for.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func TestIsGUIDAgreesWithTheRegexp(t *testing.T) {
	for _, s := range []string{
		"", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40", "7E1A3C52-0B8F-4D6E-9A21-5C3F8E2D1B40",
		"7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b400",
		"7e1a3c52x0b8f-4d6e-9a21-5c3f8e2d1b40", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4g",
		"{7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40}", "7e1a3c520b8f4d6e9a215c3f8e2d1b40",
		"7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4\n", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4é",
		"------------------------------------", "7e1a3c52-0b8f-4d6e-9a215-c3f8e2d1b40",
	} {
		if got, want := isGUID(s), guidPattern.MatchString(s); got != want {
			t.Errorf("isGUID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

func FuzzIsGUID(f *testing.F) {
	f.Add("7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40")
	f.Add("7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4Z")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isGUID(s), guidPattern.MatchString(s); got != want {
			t.Fatalf("isGUID(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}

func TestIDHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range []string{keyRequestID, keyCorrelationID, keyMarketplaceToken} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
}
