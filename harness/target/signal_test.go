package target

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestStopOn(t *testing.T) {
	sig := make(chan os.Signal, 1)
	sig <- syscall.SIGINT
	called := 0
	stopOn(context.Background(), sig, func() { called++ })
	if called != 1 {
		t.Errorf("stop called %d times on a signal, want 1", called)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopOn(ctx, make(chan os.Signal), func() { called++ })
	if called != 1 {
		t.Error("stop called after the context ended")
	}
}

// A real signal to ourselves: StopOnSignal has registered by the time it
// returns, so the default action (exit) never runs.
func TestStopOnSignal(t *testing.T) {
	called := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	StopOnSignal(ctx, func() { close(called) }) // a second call would panic
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("stop was not called")
	}
}
