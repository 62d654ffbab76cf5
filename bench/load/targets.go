package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"
)

// measurement is one child run of -targets.
type measurement struct {
	mix   string
	subs  int
	state bool
}

// runTargets measures every target in child processes and prints them in
// one table, in memory and with -state side by side.
func runTargets(w io.Writer, cfg Config) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	results := map[measurement]Result{}
	for _, state := range []bool{false, true} {
		for _, m := range []measurement{{"get", 100, state}, {"lifecycle", 100, state}, {"lifecycle", targetRSSSubs, state}} {
			args := []string{"-json", "-mix", m.mix, "-subs", strconv.Itoa(m.subs), "-duration", cfg.Duration.String(),
				"-concurrency", strconv.Itoa(cfg.Concurrency), "-client", cfg.Client}
			if state {
				args = append(args, "-state")
			}
			fmt.Fprintf(os.Stderr, "load -targets: %s with %d subscriptions%s…\n", m.mix, m.subs, map[bool]string{true: ", -state"}[state])
			var out, errb bytes.Buffer
			cmd := exec.Command(self, args...)
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s %v: %v\n%s", self, args, err, errb.String())
			}
			var r Result
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				return fmt.Errorf("%s %v: reading its result: %v", self, args, err)
			}
			results[m] = r
		}
	}
	printTargets(w, cfg, results)
	return nil
}

func printTargets(w io.Writer, cfg Config, rs map[measurement]Result) {
	rate := func(m measurement) float64 {
		if p := rs[m].Phases; len(p) > 0 && p[0].Errors == 0 {
			return p[0].Rate()
		}
		return 0
	}
	fmt.Fprintf(w, "saasconform load targets: %s per measurement, concurrency %d, client %s, GOMAXPROCS %d, HTTPS on 127.0.0.1, two-way validation and token checks on\n",
		cfg.Duration, cfg.Concurrency, cfg.Client, runtime.GOMAXPROCS(0))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tin memory\twith -state\twanted\t")
	fmt.Fprintln(tw, "------\t---------\t-----------\t------\t")
	row := func(name string, f func(state bool) (string, bool), want string) {
		a, okA := f(false)
		b, okB := f(true)
		fmt.Fprintf(tw, "%s\t%s %s\t%s %s\t%s\t\n", name, a, verdict(okA), b, verdict(okB), want)
	}
	row("GET mix, requests/s (100 subs)", func(s bool) (string, bool) {
		r := rate(measurement{"get", 100, s})
		return fmt.Sprintf("%.0f", r), r >= targetGetRate
	}, fmt.Sprintf("≥ %d", targetGetRate))
	row("lifecycles/s (100 subs)", func(s bool) (string, bool) {
		r := rate(measurement{"lifecycle", 100, s})
		return fmt.Sprintf("%.0f", r), r >= targetLifecycleRate
	}, fmt.Sprintf("≥ %d", targetLifecycleRate))
	row(fmt.Sprintf("lifecycles/s (%d subs)", targetRSSSubs), func(s bool) (string, bool) {
		r := rate(measurement{"lifecycle", targetRSSSubs, s})
		return fmt.Sprintf("%.0f", r), r >= targetLifecycleRate
	}, fmt.Sprintf("≥ %d", targetLifecycleRate))
	row(fmt.Sprintf("rate at %d / rate at 100", targetRSSSubs), func(s bool) (string, bool) {
		small, large := rate(measurement{"lifecycle", 100, s}), rate(measurement{"lifecycle", targetRSSSubs, s})
		if small == 0 {
			return "n/a", false
		}
		return fmt.Sprintf("%.2f", large/small), large/small >= 1-targetScaleDrop
	}, fmt.Sprintf("≥ %.2f", 1-targetScaleDrop))
	row(fmt.Sprintf("RSS with %d subs (+2 ops each on half)", targetRSSSubs), func(s bool) (string, bool) {
		r := rs[measurement{"lifecycle", targetRSSSubs, s}]
		return mb(r.RSSSeeded), r.RSSSeeded > 0 && r.RSSSeeded <= targetRSS
	}, "≤ "+mb(targetRSS))
	row("errors, all runs", func(s bool) (string, bool) {
		var n int64
		for m, r := range rs {
			if m.state == s {
				for _, p := range r.Phases {
					n += p.Errors
				}
			}
		}
		return strconv.FormatInt(n, 10), n == 0
	}, "0")
	row("goroutines left after close, all runs", func(s bool) (string, bool) {
		left := 0
		for m, r := range rs {
			if m.state == s {
				left = max(left, r.GoroutinesEnd-r.GoroutinesStart)
			}
		}
		return strconv.Itoa(left), left <= 0
	}, "0")
	tw.Flush()
	if r := rs[measurement{"lifecycle", targetRSSSubs, true}]; r.StateBytes > 0 {
		fmt.Fprintf(w, "state file after the %d-subscription run: %s for %d subscriptions\n", targetRSSSubs, mb(r.StateBytes), r.StoredAtEnd)
	}
	fmt.Fprintf(w, "runs vary by ±15%% on a shared 2-core VM; a lifecycle is a purchase through the control API, then resolve and activate through the Fulfillment API. %s\n",
		time.Now().UTC().Format(time.RFC3339))
}
