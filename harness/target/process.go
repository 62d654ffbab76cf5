package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running publisher and everything it spawned: it runs as the
// leader of its own process group, and Stop signals the whole group.
type Process struct {
	cmd  *exec.Cmd
	pgid int
	logs *tailBuffer

	exited  chan struct{} // closed once the leader has been reaped
	exitErr error         // set before exited is closed
	drained chan struct{} // closed once every writer to the output pipe is gone

	tree      *tracker      // what ran below the leader (Linux; nil elsewhere)
	stopping  chan struct{} // closed when Stop begins
	leftovers []Leftover    // set by Stop

	stopOnce sync.Once
	stopErr  error
}

// Holder is a process found holding a resource, such as a port.
type Holder struct {
	Pid     int
	Command string
}

// Leftover is a process the publisher started that had left its process
// group (setsid, setpgid), so signals to the group missed it, and that was
// still running when the publisher was stopped.
type Leftover struct {
	Pid     int
	Command string
	Stopped bool // Stop ended it too (SIGTERM, then SIGKILL)
}

func (l Leftover) String() string {
	s := fmt.Sprintf("process %d (%s), started by the publisher, left its process group (setsid or setpgid) and outlived it", l.Pid, l.Command)
	if l.Stopped {
		return s + "; saasconform stopped it"
	}
	return s + fmt.Sprintf("; saasconform could not stop it: it may still hold the app's port (kill %d)", l.Pid)
}

// Start launches s.Command in dir with the environment: the harness's own
// when s.InheritEnv, then s.Env (already rendered), then env — later entries
// win. Standard output and error both go to logs (may be nil) and to a
// buffer of the last LogLimit bytes (Logs). Cancelling ctx stops the process
// as Stop(s.StopTimeout) would.
func Start(ctx context.Context, s *StartSpec, dir string, env []string, logs io.Writer) (*Process, error) {
	if s == nil || len(s.Command) == 0 || s.Command[0] == "" {
		return nil, errors.New("target: start: no command")
	}
	if fi, err := os.Stat(dir); dir != "" && (err != nil || !fi.IsDir()) {
		return nil, fmt.Errorf("target: start %s: no folder %s (publisher.start.dir is relative to the target file's folder)", s.Command[0], dir)
	}
	cmd := exec.Command(s.Command[0], s.Command[1:]...)
	cmd.Dir = dir
	cmd.Env = environ(s, env)
	// Its own group, so Stop reaches children of go run / npm / a shell.
	// A terminal's Ctrl-C then no longer reaches the publisher: the CLI
	// forwards it with StopOnSignal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	// One pipe for both streams, read by our own goroutine: if exec copied
	// them, Wait would block until every grandchild holding the pipe exited.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("target: start: %w", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, startError(s.Command[0], dir, err)
	}
	w.Close()

	p := &Process{cmd: cmd, pgid: cmd.Process.Pid, logs: newTailBuffer(LogLimit, logs),
		exited: make(chan struct{}), drained: make(chan struct{}), stopping: make(chan struct{}),
		tree: newTracker(cmd.Process.Pid)}
	if p.tree != nil {
		go p.track()
	}
	go func() {
		defer close(p.drained)
		defer r.Close()
		_, _ = io.Copy(p.logs, r)
	}()
	go func() {
		err := cmd.Wait()
		// Let the last words reach Logs before anyone looks.
		p.waitDrained(500 * time.Millisecond)
		p.exitErr = err
		close(p.exited)
	}()
	stopTimeout := s.StopTimeout
	if stopTimeout <= 0 {
		stopTimeout = DefaultStopTimeout
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Stop(stopTimeout)
		case <-p.exited:
		}
	}()
	return p, nil
}

// trackEvery is how often the process tree is read while the publisher
// runs: a process that leaves the group and whose parent exits within it
// can be missed (the port check after the run still names it).
const trackEvery = 200 * time.Millisecond

// track records what runs below the leader until it exits or Stop begins.
func (p *Process) track() {
	t := time.NewTicker(trackEvery)
	defer t.Stop()
	for {
		p.tree.scan()
		select {
		case <-p.exited:
			return
		case <-p.stopping:
			return
		case <-t.C:
		}
	}
}

// environ builds the child's environment; exec keeps the last value of a
// repeated name, so the order is the precedence.
func environ(s *StartSpec, extra []string) []string {
	var env []string
	if s.InheritEnv {
		env = os.Environ()
	}
	names := make([]string, 0, len(s.Env))
	for k := range s.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		env = append(env, k+"="+s.Env[k])
	}
	env = append(env, extra...)
	if env == nil {
		env = []string{} // nil would mean "inherit" to exec
	}
	return env
}

// startError explains a failed launch in terms of the target file.
func startError(command, dir string, err error) error {
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("target: start: command %q not found in PATH (%s) — install it, put its folder on PATH, or give a path such as ./%s (relative to publisher.start.dir)",
			command, os.Getenv("PATH"), command)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("target: start: command %q does not exist (relative paths start from %s): %w", command, dir, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("target: start: command %q is not executable: %w", command, err)
	}
	return fmt.Errorf("target: start %q: %w", command, err)
}

// Pid is the process id of the publisher's leader (and its process group).
func (p *Process) Pid() int { return p.pgid }

// Exited is closed once the process has exited and been reaped, and its
// output has reached Logs (or half a second has passed — something it
// spawned may hold the output open).
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitErr is how the process ended (nil for status 0, an *exec.ExitError
// otherwise); nil until Exited is closed.
func (p *Process) ExitErr() error {
	select {
	case <-p.exited:
		return p.exitErr
	default:
		return nil
	}
}

// Logs returns the last LogLimit bytes of the process's output.
func (p *Process) Logs() []byte { return p.logs.Bytes() }

// LogTail returns the last n lines of output.
func (p *Process) LogTail(n int) string { return lastLines(p.Logs(), n) }

// Stop ends the process group: SIGTERM, up to timeout for the leader and
// whatever it spawned to exit, then SIGKILL. It always reaps the leader, is
// safe after the process died on its own, and only the first call acts
// (later calls return its result). How the process ended is ExitErr's
// business; Stop fails only if the group could not be signalled.
func (p *Process) Stop(timeout time.Duration) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(timeout) })
	return p.stopErr
}

func (p *Process) stop(timeout time.Duration) error {
	close(p.stopping)
	deadline := time.Now().Add(timeout)
	// The tree is whole now; after the signal parents die and children move
	// to init.
	var escaped []procEntry
	if p.tree != nil {
		p.tree.scan()
		escaped = p.tree.outside(p.pgid)
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	signalEach(escaped, syscall.SIGTERM)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		// The leader is gone; give what it spawned the rest of the time.
		for (groupAlive(p.pgid) || anyAlive(escaped)) && time.Now().Before(deadline) {
			select {
			case <-timer.C:
			case <-time.After(10 * time.Millisecond):
			}
		}
	case <-timer.C:
	}
	if groupAlive(p.pgid) {
		if err := p.signal(syscall.SIGKILL); err != nil {
			return err
		}
	}
	signalEach(escaped, syscall.SIGKILL)
	<-p.exited
	// SIGKILL takes effect at once, but a process leaves /proc (or turns
	// zombie) a moment later.
	for end := time.Now().Add(time.Second); anyAlive(escaped) && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	for _, e := range escaped {
		p.leftovers = append(p.leftovers, Leftover{Pid: e.pid, Command: e.command, Stopped: !e.alive()})
	}
	return nil
}

// Leftovers lists what the publisher started outside its process group and
// was still running at Stop, and whether Stop ended it; nil before Stop.
func (p *Process) Leftovers() []Leftover {
	select {
	case <-p.stopping:
	default:
		return nil
	}
	p.stopOnce.Do(func() {}) // wait for a Stop in progress
	return p.leftovers
}

// signalEach sends sig to each process that is still the one tracked.
func signalEach(ps []procEntry, sig syscall.Signal) {
	for _, e := range ps {
		if e.alive() {
			_ = syscall.Kill(e.pid, sig)
		}
	}
}

func anyAlive(ps []procEntry) bool {
	for _, e := range ps {
		if e.alive() {
			return true
		}
	}
	return false
}

// signal sends sig to the whole group; a group that is already gone is fine.
func (p *Process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.pgid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("target: stop: %s to process group %d: %w", sig, p.pgid, err)
	}
	return nil
}

// waitDrained waits, at most max, for the output pipe to close so Logs has
// the last words. Something that left the group (setsid) can hold it open
// for ever; hence the bound.
func (p *Process) waitDrained(max time.Duration) {
	select {
	case <-p.drained:
	case <-time.After(max):
	}
}

// groupAlive reports whether any process in group pgid still runs. Zombies
// do not count: once the leader is reaped, its children belong to init,
// which in a container may never reap them.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	members, ok := groupMembers(pgid)
	if !ok {
		return true // no /proc: trust kill
	}
	for _, pid := range members {
		if !zombie(pid) {
			return true
		}
	}
	return false
}

// groupMembers lists the processes of group pgid from /proc (Linux); ok is
// false where /proc is not available.
func groupMembers(pgid int) (pids []int, ok bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid <= 0 {
			continue
		}
		if g, ok := procStat(pid); ok && g.pgrp == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, true
}

type stat struct {
	state byte
	pgrp  int
}

// procStat reads state and process group from /proc/PID/stat. The command
// name in parentheses may hold spaces and ')' — fields are counted after the
// last ')'.
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return stat{}, false
	}
	var pgrp int
	if _, err := fmt.Sscan(f[2], &pgrp); err != nil {
		return stat{}, false
	}
	return stat{state: f[0][0], pgrp: pgrp}, true
}

func zombie(pid int) bool {
	st, ok := procStat(pid)
	return ok && (st.state == 'Z' || st.state == 'X')
}
