package target

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// StopOnSignal calls stop once, in its own goroutine, on the first SIGINT or
// SIGTERM until ctx ends. The publisher runs in its own process group, so a
// terminal's Ctrl-C reaches only the harness; this forwards it as a clean
// teardown. After the first signal the default action is restored, so a
// second Ctrl-C quits at once (possibly leaving the publisher running).
func StopOnSignal(ctx context.Context, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(ch)
		stopOn(ctx, ch, func() {
			signal.Stop(ch)
			stop()
		})
	}()
}

// stopOn is StopOnSignal with the signals injected.
func stopOn(ctx context.Context, signals <-chan os.Signal, stop func()) {
	select {
	case <-signals:
		stop()
	case <-ctx.Done():
	}
}
