// Command load drives the fake marketplace over loopback HTTPS, with the
// two-way contract validation and token checks on, and prints the measured
// throughput, latency and memory against the performance targets.
//
//	go run ./bench/load [-duration 10s] [-concurrency 8] [-subs 100] [-mix get|lifecycle|all]
//	go run ./bench/load -compare [-duration 5s]   # lifecycle rate at 100 vs 10,000 subscriptions
//	go run ./bench/load -mix get -bad 0.1 [-seed 1] [-duration 10m]   # robustness: malformed requests mixed in
//	go run ./bench/load -targets [-duration 5s]   # every target, in memory and with -state, in one table
//
// -targets runs four measurements, each in a process of its own (RSS never
// shrinks within a process): the GET and lifecycle mixes with 100 stored
// subscriptions, and the lifecycle mix with 10,000 (which gives the RSS
// figure), each without and with -state.
//
// With -bad F, a fraction F of the requests is replaced with malformed ones
// from a fixed catalogue (bad.go), chosen by a generator seeded with -seed;
// each must get a 4xx with an error body within -bad-timeout. The run also
// hosts a control API server (as serve does) for them, counts panics the
// servers log and compares the goroutine count before and after. It exits
// 1 when anything of that fails.
//
// Everything listens on 127.0.0.1 only, and the run stops by itself.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"text/tabwriter"
	"time"
)

// The targets, from the issue.
const (
	targetGetRate       = 25000 // req/s, get mix, concurrency 8
	targetProxyGetRate  = 15000 // req/s, get mix, concurrency 8, through the intercepting proxy (issue 13)
	targetLifecycleRate = 3000  // lifecycles/s
	targetScaleDrop     = 0.20  // rate at 10,000 subs within 20% of the rate at 100
	targetRSS           = 150 << 20
	targetRSSSubs       = 10000
)

func main() {
	cfg := Config{}
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long each mix is driven")
	flag.IntVar(&cfg.Concurrency, "concurrency", 8, "concurrent workers")
	flag.IntVar(&cfg.Subs, "subs", 100, "subscriptions seeded before the drive (half activated)")
	flag.StringVar(&cfg.Mix, "mix", "all", "get, lifecycle or all")
	flag.StringVar(&cfg.Client, "client", "lean", "the publisher's HTTP client: lean (keep-alive TLS connections, requests written by hand, one goroutine) or std (net/http's Transport)")
	compare := flag.Bool("compare", false, "measure the lifecycle rate at -small and -large subscriptions and print the ratio")
	small := flag.Int("small", 100, "-compare: the small store")
	large := flag.Int("large", 10000, "-compare: the large store")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile (allocs) of the whole run to this file at the end")
	flag.Float64Var(&cfg.Bad, "bad", 0, "fraction (0..1) of requests replaced with malformed ones; exits 1 unless every one gets a 4xx with an error body")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "-bad: seed of the choice of malformed requests (per worker, reproducible)")
	flag.DurationVar(&cfg.BadTimeout, "bad-timeout", 5*time.Second, "-bad: per-request timeout; no answer by then is a hang")
	flag.Int64Var(&cfg.BadMax, "bad-max", 2_000_000, "-bad: send at most this many malformed requests (0: no bound but -duration)")
	flag.BoolVar(&cfg.Proxy, "proxy", false, "send the publisher's calls through the intercepting proxy to Microsoft's host names (CONNECT, then TLS to the real name)")
	flag.BoolVar(&cfg.State, "state", false, "journal every change to a state file (in a temporary folder), as serve -state does")
	targets := flag.Bool("targets", false, "measure every target, in memory and with -state, each in a child process, and print one table")
	asJSON := flag.Bool("json", false, "print the result as JSON (for -targets)")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected argument %q (see -h)", flag.Arg(0)))
	}
	if *targets {
		if err := runTargets(os.Stdout, cfg); err != nil {
			fail(err)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// A hard bound on the whole run: seeding plus every phase, plus slack.
	ctx, cancel := context.WithTimeout(ctx, 4*cfg.Duration+2*time.Minute)
	defer cancel()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	if *memprofile != "" {
		defer func() {
			f, err := os.Create(*memprofile)
			if err != nil {
				fail(err)
			}
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fail(err)
			}
			f.Close()
		}()
	}

	if *compare {
		var rs []Result
		for _, n := range []int{*small, *large} {
			c := cfg
			c.Mix, c.Subs = "lifecycle", n
			r, err := Run(ctx, c)
			if err != nil {
				fail(err)
			}
			rs = append(rs, r)
		}
		printCompare(os.Stdout, rs[0], rs[1])
		return
	}
	r, err := Run(ctx, cfg)
	if err != nil {
		fail(err)
	}
	if *asJSON {
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			fail(err)
		}
		return
	}
	printResult(os.Stdout, r)
	if r.Bad != nil {
		fmt.Println()
		printBad(os.Stdout, r)
		if len(r.BadFailures()) > 0 {
			pprof.StopCPUProfile() // os.Exit skips the deferred stop
			os.Exit(1)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func printResult(w io.Writer, r Result) {
	c := r.Config
	fmt.Fprintf(w, "load: mix=%s concurrency=%d subs=%d duration=%s client=%s proxy=%v GOMAXPROCS=%d (HTTPS on 127.0.0.1, two-way validation on)\n",
		c.Mix, c.Concurrency, c.Subs, c.Duration, c.Client, c.Proxy, runtime.GOMAXPROCS(0))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tvalue\ttarget\t")
	fmt.Fprintln(tw, "------\t-----\t------\t")
	fmt.Fprintf(tw, "seeded subscriptions\t%d in %s\t\t\n", r.Seeded, r.SeedTime.Round(time.Millisecond))
	for _, p := range r.Phases {
		switch p.Mix {
		case "get":
			want := float64(targetGetRate)
			if c.Proxy {
				want = targetProxyGetRate
			}
			fmt.Fprintf(tw, "GET mix requests/s\t%.0f (%d in %s)\t≥ %.0f at concurrency 8: %s\t\n", p.Rate(), p.Ops,
				p.Elapsed.Round(time.Millisecond), want, verdict(p.Rate() >= want && p.Errors == 0))
			fmt.Fprintf(tw, "GET latency p50 / p99\t%s / %s\t\t\n", p.P50.Round(time.Microsecond), p.P99.Round(time.Microsecond))
			fmt.Fprintf(tw, "GET errors\t%d\t0\t\n", p.Errors)
		case "lifecycle":
			fmt.Fprintf(tw, "lifecycles/s\t%.0f (%d in %s, %d HTTP requests)\t≥ %d: %s\t\n", p.Rate(), p.Ops,
				p.Elapsed.Round(time.Millisecond), p.Requests, targetLifecycleRate, verdict(p.Rate() >= targetLifecycleRate && p.Errors == 0))
			fmt.Fprintf(tw, "lifecycle latency p50 / p99\t%s / %s\t\t\n", p.P50.Round(time.Microsecond), p.P99.Round(time.Microsecond))
			fmt.Fprintf(tw, "lifecycle errors\t%d\t0\t\n", p.Errors)
		}
		if p.FirstError != "" {
			fmt.Fprintf(tw, "first %s error\t%s\t\t\n", p.Mix, p.FirstError)
		}
	}
	rssTarget := fmt.Sprintf("≤ %s with %d subs", mb(targetRSS), targetRSSSubs)
	if r.Seeded >= targetRSSSubs {
		rssTarget += ": " + verdict(r.RSSSeeded <= targetRSS)
	}
	fmt.Fprintf(tw, "RSS after seeding (VmRSS)\t%s (Go heap in use %s)\t%s\t\n", mb(r.RSSSeeded), mb(int64(r.HeapSeeded)), rssTarget)
	fmt.Fprintf(tw, "RSS at end (VmRSS)\t%s (Go heap in use %s; %d subs stored, %d exchanges kept)\t\t\n",
		mb(r.RSSEnd), mb(int64(r.HeapEnd)), r.StoredAtEnd, r.Exchanges)
	fmt.Fprintf(tw, "goroutines start / drive end / after close\t%d / %d / %d\tno leak\t\n", r.GoroutinesStart, r.GoroutinesDrive, r.GoroutinesEnd)
	fmt.Fprintf(tw, "TCP connections opened (keep-alive)\t%d\t≈ concurrency\t\n", r.Connections)
	fmt.Fprintf(tw, "contract violations recorded\t%d\t0\t\n", r.Violations)
	tw.Flush()
}

func printBad(w io.Writer, r Result) {
	b := r.Bad
	fmt.Fprintf(w, "bad requests: fraction %.3g, seed %d, per-request timeout %s\n", b.Fraction, b.Seed, b.Timeout)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tkind\tsent\tstatuses\tfailures\t")
	fmt.Fprintln(tw, "------\t----\t----\t--------\t--------\t")
	for _, k := range b.Kinds {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t\n", k.Target, k.Kind, k.Sent, statusSummary(k.Statuses), k.Failures)
	}
	tw.Flush()
	fmt.Fprintf(w, "bad requests sent: %d; panics logged: %d; HarnessBug answers: %d; good requests failed: %d\n",
		b.Sent(), b.Panics, b.HarnessBugs, b.MixErrors)
	fmt.Fprintf(w, "goroutines with the servers up before the drive / after it, settled: %d / %d; before start / after close: %d / %d\n",
		b.GoroutinesUp, b.GoroutinesSettled, r.GoroutinesStart, r.GoroutinesEnd)
	fmt.Fprintf(w, "violations recorded (the log keeps the last 10,000, as serve does): %d; Go heap in use at the end: %s\n", r.Violations, mb(int64(r.HeapEnd)))
	if fs := r.BadFailures(); len(fs) > 0 {
		fmt.Fprintln(w, "robustness: FAILED")
		for _, f := range fs {
			fmt.Fprintln(w, "  -", f)
		}
		return
	}
	fmt.Fprintln(w, "robustness: passed (every bad request got a 4xx with an error body; no panic, no goroutine growth)")
}

func printCompare(w io.Writer, a, b Result) {
	printResult(w, a)
	fmt.Fprintln(w)
	printResult(w, b)
	fmt.Fprintln(w)
	ra, rb := a.Phases[0].Rate(), b.Phases[0].Rate()
	ratio := 0.0
	if ra > 0 {
		ratio = rb / ra
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tvalue\ttarget\t")
	fmt.Fprintln(tw, "------\t-----\t------\t")
	fmt.Fprintf(tw, "lifecycles/s at %d subs\t%.0f\t≥ %d\t\n", a.Config.Subs, ra, targetLifecycleRate)
	fmt.Fprintf(tw, "lifecycles/s at %d subs\t%.0f\t≥ %d\t\n", b.Config.Subs, rb, targetLifecycleRate)
	fmt.Fprintf(tw, "ratio (%d / %d)\t%.2f\t≥ %.2f (within 20%%): %s\t\n", b.Config.Subs, a.Config.Subs, ratio,
		1-targetScaleDrop, verdict(ratio >= 1-targetScaleDrop))
	tw.Flush()
	// VmRSS does not shrink between the runs of one process, so the second
	// run's RSS carries the first's: measure RSS with a run of its own.
	fmt.Fprintf(w, "note: RSS of the %d-subscription run includes the earlier run's; for the RSS target run -mix lifecycle -subs %d alone\n",
		b.Config.Subs, b.Config.Subs)
}
