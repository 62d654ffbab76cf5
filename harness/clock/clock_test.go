package clock

import (
	"testing"
	"time"
)

func TestFakeAdvanceFiresDueWaitersOnly(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	soon := f.After(time.Second)
	later := f.After(time.Minute)
	if f.Waiters() != 2 {
		t.Fatalf("waiters = %d, want 2", f.Waiters())
	}
	f.Advance(2 * time.Second)
	select {
	case got := <-soon:
		if !got.Equal(start.Add(2 * time.Second)) {
			t.Fatalf("fired at %v", got)
		}
	default:
		t.Fatal("1s waiter did not fire after advancing 2s")
	}
	select {
	case <-later:
		t.Fatal("1m waiter fired after 2s")
	default:
	}
	f.Set(start.Add(time.Hour))
	select {
	case <-later:
	default:
		t.Fatal("1m waiter did not fire after Set past it")
	}
	if f.Waiters() != 0 {
		t.Fatalf("waiters left: %d", f.Waiters())
	}
}

func TestFakeAfterNonPositiveFiresAtOnce(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	select {
	case <-f.After(0):
	default:
		t.Fatal("After(0) did not fire")
	}
}
