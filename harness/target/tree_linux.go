//go:build linux

package target

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// tracker remembers every process seen below the publisher while it runs,
// so one that leaves the process group (setsid, setpgid) — and so escapes
// Stop's signals — can still be found, proven ours and stopped. Linux only:
// it reads /proc.
type tracker struct {
	mu   sync.Mutex
	root int
	seen map[int]procEntry // pid → the process as first seen below root
}

func newTracker(root int) *tracker { return &tracker{root: root, seen: map[int]procEntry{}} }

// procEntry is what /proc/PID/stat says of a process.
type procEntry struct {
	pid, ppid, pgrp int
	state           byte
	start           uint64 // clock ticks after boot: tells a reused pid apart
	command         string // filled in when first tracked
}

// scan records the processes whose parent chain now leads to the root.
func (t *tracker) scan() {
	procs := allProcs()
	children := map[int][]int{}
	for pid, e := range procs {
		children[e.ppid] = append(children[e.ppid], pid)
	}
	queue := append([]int(nil), children[t.root]...)
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if old, ok := t.seen[pid]; !ok || old.start != procs[pid].start {
			e := procs[pid]
			e.command = commandOf(pid)
			t.seen[pid] = e
		}
		queue = append(queue, children[pid]...)
	}
}

// outside returns the tracked processes that still run (the same process:
// same start time) outside group pgid.
func (t *tracker) outside(pgid int) []procEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []procEntry
	for pid, was := range t.seen {
		now, ok := readProc(pid)
		if !ok || now.start != was.start || now.state == 'Z' || now.state == 'X' || now.pgrp == pgid {
			continue
		}
		now.command = was.command
		out = append(out, now)
	}
	return out
}

// alive reports whether e is still the running process it was.
func (e procEntry) alive() bool {
	now, ok := readProc(e.pid)
	return ok && now.start == e.start && now.state != 'Z' && now.state != 'X'
}

// allProcs reads every process's stat.
func allProcs() map[int]procEntry {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := make(map[int]procEntry, len(entries))
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if e, ok := readProc(pid); ok {
			procs[pid] = e
		}
	}
	return procs
}

// readProc parses /proc/PID/stat; the command in parentheses may hold spaces
// and ')', so fields are counted after the last ')'.
func readProc(pid int) (procEntry, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procEntry{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procEntry{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	// utime stime cutime cstime priority nice threads itrealvalue starttime
	if len(f) < 20 || len(f[0]) != 1 {
		return procEntry{}, false
	}
	e := procEntry{pid: pid, state: f[0][0]}
	var err1, err2, err3 error
	e.ppid, err1 = strconv.Atoi(f[1])
	e.pgrp, err2 = strconv.Atoi(f[2])
	e.start, err3 = strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procEntry{}, false
	}
	return e, true
}

// commandOf is pid's command line, shortened.
func commandOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	}
	s := strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// PortHolders lists the processes that hold a listening TCP socket on port
// (IPv4 or IPv6), from /proc/net/tcp* and /proc/*/fd. Only processes whose
// descriptors the harness may read are found.
func PortHolders(port int) []Holder {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		f.Close()
	}
	if len(inodes) == 0 {
		return nil
	}
	var out []Holder
	for pid := range allProcs() {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err == nil && inodes[link] {
				out = append(out, Holder{Pid: pid, Command: commandOf(pid)})
				break
			}
		}
	}
	return out
}
