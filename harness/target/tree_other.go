//go:build !linux

package target

// tracker is Linux only: elsewhere nothing is tracked.
type tracker struct{}

type procEntry struct {
	pid     int
	command string
}

func newTracker(int) *tracker              { return nil }
func (t *tracker) scan()                   {}
func (t *tracker) outside(int) []procEntry { return nil }
func (e procEntry) alive() bool            { return false }

// PortHolders is Linux only: elsewhere it finds nothing.
func PortHolders(port int) []Holder { return nil }
