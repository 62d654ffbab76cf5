package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestStateSectionSaysWhatWasCompared: "your app agreed" only when the
// app's view was read and compared; otherwise the report says nothing was
// compared, and why.
func TestStateSectionSaysWhatWasCompared(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks StateChecks
		want   string
	}{
		{"no probe", StateChecks{}, "Nothing was compared: the target file has no publisher.probe"},
		{"probe never ran", StateChecks{Probe: true}, "Nothing was compared: the target has a probe, but no spec that reads it ran"},
		{"compared", StateChecks{Probe: true, Compared: 7}, "None: in all 7 comparisons your app agreed with Microsoft"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := Build(Report0(), RunData{State: tc.checks})
			var h, m bytes.Buffer
			if err := WriteHTML(&h, rep); err != nil {
				t.Fatal(err)
			}
			if err := WriteMarkdown(&m, rep); err != nil {
				t.Fatal(err)
			}
			for name, out := range map[string]string{"HTML": h.String(), "Markdown": m.String()} {
				if !strings.Contains(out, tc.want) {
					t.Errorf("%s does not say %q", name, tc.want)
				}
				if tc.checks.Compared == 0 && strings.Contains(out, "agreed") {
					t.Errorf("%s says the app agreed though nothing was compared", name)
				}
			}
		})
	}
	r, d := synthetic()
	d.State = StateChecks{Probe: true, Compared: 5, Differed: 1}
	var h bytes.Buffer
	if err := WriteHTML(&h, Build(r, d)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.String(), "differed from Microsoft&#39;s in 1 of 5 comparisons") {
		t.Error("with a mismatch the HTML does not say how many comparisons differed")
	}
}
