package contract

import (
	"testing"

	"github.com/saasconform/saasconform/spec"
)

var uuidSamples = []string{
	"", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40", "7E1A3C52-0B8F-4D6E-9A21-5C3F8E2D1B40",
	"7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b400",
	"7e1a3c52x0b8f-4d6e-9a21-5c3f8e2d1b40", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4g",
	"{7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40}", "7e1a3c520b8f4d6e9a215c3f8e2d1b40",
	"7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4\n", "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b4é",
	"------------------------------------", "7e1a3c52-0b8f-4d6e-9a215-c3f8e2d1b40",
	"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
}

// TestUUIDFormatIsTheSpecs: the fast "uuid" check gives spec.FormatUUID's
// verdict, and its error text when it refuses.
func TestUUIDFormatIsTheSpecs(t *testing.T) {
	for _, s := range uuidSamples {
		got, want := uuidFormat.Validate(s), spec.FormatUUID.Validate(s)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Errorf("%q: fast check says %v, spec.FormatUUID %v", s, got, want)
		}
		if isGUID(s) && want != nil {
			t.Errorf("%q: isGUID accepts what spec.FormatUUID refuses: %v", s, want)
		}
	}
}

func FuzzUUIDFormatIsTheSpecs(f *testing.F) {
	for _, s := range uuidSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := uuidFormat.Validate(s), spec.FormatUUID.Validate(s); (got == nil) != (want == nil) {
			t.Fatalf("%q: fast check says %v, spec.FormatUUID %v", s, got, want)
		}
	})
}
