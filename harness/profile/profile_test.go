package profile

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]Profile{"": Strict, "strict": Strict, " production ": Production} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"prod", "Strict", "lenient"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted an unknown profile", bad)
		}
	}
	if Profile("").OrStrict() != Strict || !Production.IsProduction() || Strict.IsProduction() {
		t.Error("OrStrict/IsProduction disagree with the constants")
	}
}
