package suites

import (
	"regexp"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// SpecInfo is one spec as the catalogue lists it.
type SpecInfo struct {
	Text   string   // the full text: flow and requirement
	Flow   string   // from the "flow:…" label
	Rules  []string // the rule IDs among its labels
	Labels []string
}

var ruleLabel = regexp.MustCompile(`^(FUL|WH|AUTH|STATE|NET)-[A-Z0-9-]+$`)

// IsRuleID reports whether a label names a contract rule.
func IsRuleID(label string) bool { return ruleLabel.MatchString(label) }

var catalogReport *types.Report

var _ = ReportAfterSuite("saasconform catalogue", func(r Report) {
	if catalogReport != nil {
		*catalogReport = r
	}
})

// Catalog lists every spec without running any (a Ginkgo dry run): no
// target is needed. Like Run and Execute it can be called once per process.
func Catalog() ([]SpecInfo, error) {
	once.Lock()
	defer once.Unlock()
	var r types.Report
	catalogReport = &r
	defer func() { catalogReport = nil }()
	suiteCfg, reporterCfg := GinkgoConfiguration()
	suiteCfg.DryRun = true
	reporterCfg.Succinct = true
	// A dry run has nothing to say; keep Ginkgo's progress off stdout.
	restore := quietStdout()
	RunSpecs(&failRecorder{}, "SaaS fulfillment conformance (catalogue)", suiteCfg, reporterCfg)
	restore()
	var out []SpecInfo
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		info := SpecInfo{Text: s.FullText(), Labels: s.Labels()}
		for _, l := range info.Labels {
			switch {
			case IsRuleID(l):
				info.Rules = append(info.Rules, l)
			case len(l) > 5 && l[:5] == "flow:":
				info.Flow = l[5:]
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Text < out[j].Text })
	return out, nil
}
