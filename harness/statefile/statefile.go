// Package statefile keeps a long-lived fake's state in one file so a restart
// loses nothing.
//
// The file is an append-only journal of JSON lines. Each line is the latest
// value of one record, named by a kind and an id; a line without a value
// deletes its record. A change appends only the records it touched, so its
// cost does not depend on how many records the file holds. When the
// superseded lines outnumber the live ones, the live lines are copied into a
// fresh file which then replaces the journal by rename: each copy costs
// O(live records) and happens at most once per O(live records) appends.
//
// What survives what: every Append is written to the operating system before
// it returns, so killing the process (kill -9 included) loses nothing that was
// appended. Appends are not fsynced one by one, so a power cut may lose the
// last ones; compaction fsyncs the new file and its folder before and after
// the rename, so it never leaves a half-written journal behind. A line cut
// short at the very end of the file (the process died inside a write) is
// dropped when the file is opened, and Open says so.
package statefile

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Record is one named value. A Record without a Value deletes its name.
type Record struct {
	Kind  string          `json:"k"`
	ID    string          `json:"id"`
	Value json.RawMessage `json:"v,omitempty"`
}

// header is the first line of every state file: it tells a state file from
// any other file the flag may point at by mistake, and versions the format.
const (
	headerKind = "saasconform-state"
	version    = 1
)

// Options tune a File. The zero value is the default.
type Options struct {
	// OnError is called once, with the first write error; after it the File
	// keeps the state in memory only and Err returns that error.
	OnError func(error)
	// MinCompact is how many superseded lines are tolerated before a
	// compaction is considered at all (default 1024).
	MinCompact int
}

// File is an open state file. It is safe for concurrent use.
type File struct {
	path string
	opts Options

	mu     sync.Mutex
	f      *os.File
	size   int64
	live   map[name]span
	dead   int
	err    error
	buf    []byte
	loaded []Record
	// dropped is the length in bytes of a torn last line Open cut off, 0
	// when the file ended cleanly.
	dropped int
	lock    *holdLock
}

type name struct{ kind, id string }

// span is where a live record's line sits in the file, newline included.
type span struct {
	off int64
	n   int
}

// Open opens the state file at path, creating it when it does not exist,
// and reads every live record. Only a regular file or a new name is taken:
// a symbolic link, a device, a pipe or a folder is refused, as is a file
// that is not a state file, and a refusal changes nothing on disk. While the
// File is open it holds an exclusive lock (path.lock, which names its
// process), so a second Open of the same journal, in this process or
// another, is refused until Close or the holder's death.
func Open(path string, opts Options) (*File, error) {
	if opts.MinCompact <= 0 {
		opts.MinCompact = 1024
	}
	// Everything that can refuse the path by looking runs before anything
	// is written, the lock file included.
	if err := check(path); err != nil {
		return nil, err
	}
	lk, err := lock(path)
	if err != nil {
		return nil, err
	}
	sf, err := openLocked(path, opts)
	if err != nil {
		lk.release(false)
		return nil, err
	}
	if err := lk.claim(); err != nil {
		sf.f.Close()
		lk.release(true)
		return nil, err
	}
	sf.lock = lk
	return sf, nil
}

// check refuses, by reading only, a path that is neither a new name nor a
// regular file starting with a state file header of this version.
func check(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return notRegular(path, st.Mode())
	}
	if st.Size() == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	// The header is a few dozen bytes: a first line longer than this is
	// no header, and reading it whole would only cost memory.
	first := make([]byte, 512)
	n, err := io.ReadFull(f, first)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	first = first[:n]
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i+1]
	}
	return checkHeader(path, first)
}

// checkHeader refuses a first line that is not this version's header.
func checkHeader(path string, line []byte) error {
	var rec Record
	if err := json.Unmarshal(line, &rec); err != nil || rec.Kind != headerKind {
		return fmt.Errorf("state file %s: not a saasconform state file (its first line is not a %q header); pick another path or remove it", path, headerKind)
	}
	var v int
	if err := json.Unmarshal(rec.Value, &v); err != nil || v != version {
		return fmt.Errorf("state file %s: format version %s, this saasconform reads version %d", path, rec.Value, version)
	}
	return nil
}

// notRegular says what is at path instead of a regular file.
func notRegular(path string, mode fs.FileMode) error {
	what := "not a regular file"
	switch {
	case mode&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		return fmt.Errorf("state file %s: is a symbolic link (to %s); the journal is replaced by rename, which would replace the link rather than write through it: give the file's own path", path, target)
	case mode.IsDir():
		what = "a folder"
	case mode&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case mode&fs.ModeDevice != 0:
		what = "a device"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("state file %s: is %s, not a regular file; give the path of a state file or of a file to create", path, what)
}

// openLocked opens or creates the journal once the lock is held, checking
// again what check saw: the path may have changed since.
func openLocked(path string, opts Options) (*File, error) {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && st.Mode().IsRegular() && st.Size() == 0):
		// A new journal gets its header through a rename, so no reader
		// ever sees a file with half a header.
		if err := clearLeftover(path); err != nil {
			return nil, err
		}
		if err := create(path); err != nil {
			return nil, fmt.Errorf("state file %s: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("state file %s: %w", path, err)
	case !st.Mode().IsRegular():
		return nil, notRegular(path, st.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDWR|oNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if fst, err := f.Stat(); err != nil || !fst.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("state file %s: %w", path, err)
		}
		return nil, notRegular(path, fst.Mode())
	}
	sf := &File{path: path, opts: opts, f: f, live: map[name]span{}}
	if err := sf.load(); err != nil {
		f.Close()
		return nil, err
	}
	if err := clearLeftover(path); err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

// clearLeftover removes path.tmp when it is what a compaction that did not
// finish leaves: a regular file holding the header or a beginning of it.
// Anything else there is not ours to delete, and the journal needs the name.
func clearLeftover(path string) error {
	tmp := tmpPath(path)
	st, err := os.Lstat(tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	ours := false
	if st.Mode().IsRegular() {
		if f, err := os.OpenFile(tmp, os.O_RDONLY|oNoFollow, 0); err == nil {
			hdr := headerLine()
			b := make([]byte, len(hdr))
			n, _ := io.ReadFull(f, b)
			f.Close()
			ours = bytes.Equal(b[:n], hdr[:n])
		}
	}
	if !ours {
		return fmt.Errorf("state file %s: %s exists and is not a file saasconform left there; the journal needs that name for its compactions: move it away", path, tmp)
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state file %s: removing the unfinished compaction %s: %w", path, tmp, err)
	}
	return nil
}

// create writes a journal holding only the header.
func create(path string) error {
	tmp, err := createTmp(path)
	if err != nil {
		return err
	}
	_, err = tmp.Write(headerLine())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmpPath(path), path)
	}
	if err != nil {
		os.Remove(tmpPath(path))
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// createTmp makes a new path.tmp. Under the lock a file there is a dead
// compaction's; it is removed rather than opened, so a link put in its
// place is never written through.
func createTmp(path string) (*os.File, error) {
	if err := os.Remove(tmpPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(tmpPath(path), os.O_RDWR|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
}

func headerLine() []byte {
	line, _ := json.Marshal(Record{Kind: headerKind, Value: json.RawMessage(fmt.Sprint(version))})
	return append(line, '\n')
}

func tmpPath(path string) string { return path + ".tmp" }

// load reads the journal, keeping the last value of every name.
func (sf *File) load() error {
	if _, err := sf.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("state file %s: %w", sf.path, err)
	}
	r := bufio.NewReaderSize(sf.f, 64<<10)
	values := map[name]json.RawMessage{}
	var off int64
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("state file %s: %w", sf.path, err)
		}
		torn := err == io.EOF // no newline: the process died inside this write
		var rec Record
		bad := json.Unmarshal(b, &rec)
		if bad == nil && rec.Kind == "" {
			bad = errors.New(`no "k" (kind)`)
		}
		if line == 1 {
			if err := checkHeader(sf.path, b); err != nil {
				return err
			}
			if torn {
				// A whole header without its newline (a hand edit): end the
				// line, or the next record would be glued onto the header.
				if _, err := sf.f.WriteAt([]byte{'\n'}, int64(len(b))); err != nil {
					return fmt.Errorf("state file %s: ending the header line: %w", sf.path, err)
				}
				off += int64(len(b)) + 1
				break // the file ends here; reading on would read that newline
			}
			off += int64(len(b))
			continue
		}
		if torn {
			// Whatever the last, unterminated line holds, it was never
			// acknowledged: drop it so the next append starts a clean line.
			if err := sf.f.Truncate(off); err != nil {
				return fmt.Errorf("state file %s: dropping a torn last line: %w", sf.path, err)
			}
			sf.dropped = len(b)
			break
		}
		if bad != nil {
			return fmt.Errorf("state file %s: line %d is not a state record (%v); the file is damaged — restore it from a copy or remove it", sf.path, line, bad)
		}
		n := name{rec.Kind, rec.ID}
		if _, ok := sf.live[n]; ok {
			sf.dead++
		}
		if rec.Value == nil {
			delete(sf.live, n)
			delete(values, n)
			sf.dead++ // the deletion line itself is dead weight
		} else {
			sf.live[n] = span{off: off, n: len(b)}
			values[n] = rec.Value
		}
		off += int64(len(b))
	}
	sf.size = off
	if _, err := sf.f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("state file %s: %w", sf.path, err)
	}
	sf.loaded = make([]Record, 0, len(values))
	for n, v := range values {
		sf.loaded = append(sf.loaded, Record{Kind: n.kind, ID: n.id, Value: v})
	}
	return nil
}

// Path is the file's path.
func (sf *File) Path() string { return sf.path }

// Dropped is the size in bytes of the torn last line Open cut off (0: none).
func (sf *File) Dropped() int { return sf.dropped }

// Loaded returns the live records read by Open, in no particular order, and
// forgets them: the caller restores its state from them once.
func (sf *File) Loaded() []Record {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	out := sf.loaded
	sf.loaded = nil
	return out
}

// Err is the first write error, nil while the file is healthy.
func (sf *File) Err() error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return sf.err
}

// Append writes recs as one write, so a kill leaves all of them or a torn
// last line that Open drops. It returns the first write error, then the same
// error on every later call without writing.
func (sf *File) Append(recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.err != nil {
		return sf.err
	}
	if sf.f == nil {
		return sf.fail(errors.New("closed"))
	}
	sf.buf = sf.buf[:0]
	spans := make([]span, len(recs))
	for i, rec := range recs {
		if rec.Kind == "" || rec.Kind == headerKind {
			return fmt.Errorf("state file: record %d: kind %q is reserved or empty", i, rec.Kind)
		}
		start := len(sf.buf)
		var err error
		if sf.buf, err = appendJSON(sf.buf, rec); err != nil {
			return fmt.Errorf("state file: record %s %q: %w", rec.Kind, rec.ID, err)
		}
		spans[i] = span{off: sf.size + int64(start), n: len(sf.buf) - start}
	}
	if _, err := sf.f.Write(sf.buf); err != nil {
		return sf.fail(err)
	}
	sf.size += int64(len(sf.buf))
	for i, rec := range recs {
		n := name{rec.Kind, rec.ID}
		if _, ok := sf.live[n]; ok {
			sf.dead++
		}
		if rec.Value == nil {
			delete(sf.live, n)
			sf.dead++
		} else {
			sf.live[n] = spans[i]
		}
	}
	if sf.dead >= sf.opts.MinCompact && sf.dead > len(sf.live) {
		if err := sf.compactLocked(); err != nil {
			return sf.fail(err)
		}
	}
	return nil
}

// appendJSON appends rec as one line. The value is checked and, only when
// it spans lines, compacted, so a stray newline cannot split the record.
func appendJSON(buf []byte, rec Record) ([]byte, error) {
	v := []byte(rec.Value)
	if v != nil {
		if bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
			var c bytes.Buffer
			if err := json.Compact(&c, v); err != nil {
				return buf, err
			}
			v = c.Bytes()
		} else if !json.Valid(v) {
			return buf, errors.New("value is not valid JSON")
		}
	}
	buf = append(buf, `{"k":`...)
	buf = appendString(buf, rec.Kind)
	buf = append(buf, `,"id":`...)
	buf = appendString(buf, rec.ID)
	if v != nil {
		buf = append(append(buf, `,"v":`...), v...)
	}
	return append(buf, "}\n"...), nil
}

// appendString appends s as a JSON string: directly when it needs no
// escaping (ids, tokens), through encoding/json otherwise.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(buf, q...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

func (sf *File) fail(err error) error {
	if sf.err == nil {
		sf.err = fmt.Errorf("state file %s: %w (changes from now on are kept in memory only)", sf.path, err)
		if sf.opts.OnError != nil {
			sf.opts.OnError(sf.err)
		}
	}
	return sf.err
}

// Compact rewrites the file with the live records only.
func (sf *File) Compact() error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.err != nil {
		return sf.err
	}
	if sf.f == nil {
		return errors.New("state file: closed")
	}
	if err := sf.compactLocked(); err != nil {
		return sf.fail(err)
	}
	return nil
}

// compactLocked copies the live lines into path.tmp, makes it durable, and
// renames it over the journal; the old journal stays whole until the rename.
func (sf *File) compactLocked() error {
	tmp, err := createTmp(sf.path)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpPath(sf.path))
		}
	}()
	w := bufio.NewWriterSize(tmp, 256<<10)
	hdr := headerLine()
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	size := int64(len(hdr))
	// One sequential pass over the old journal, copying the live lines in
	// file order and skipping the rest.
	type entry struct {
		name
		span
	}
	order := make([]entry, 0, len(sf.live))
	for n, sp := range sf.live {
		order = append(order, entry{n, sp})
	}
	slices.SortFunc(order, func(a, b entry) int { return cmp.Compare(a.off, b.off) })
	r := bufio.NewReaderSize(io.NewSectionReader(sf.f, 0, sf.size), 1<<20)
	live := make(map[name]span, len(sf.live))
	var pos int64
	var line []byte
	for _, e := range order {
		if _, err := r.Discard(int(e.off - pos)); err != nil {
			return fmt.Errorf("compaction: reading the journal: %w", err)
		}
		if cap(line) < e.n {
			line = make([]byte, e.n)
		}
		line = line[:e.n]
		if _, err := io.ReadFull(r, line); err != nil {
			return fmt.Errorf("compaction: reading a live record: %w", err)
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		pos = e.off + int64(e.n)
		live[e.name] = span{off: size, n: e.n}
		size += int64(e.n)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmpPath(sf.path), sf.path); err != nil {
		return err
	}
	syncDir(filepath.Dir(sf.path))
	ok = true
	sf.f.Close()
	sf.f, sf.size, sf.live, sf.dead = tmp, size, live, 0
	return nil
}

// syncDir makes a rename in dir durable where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Close compacts the file when it holds superseded lines, then closes it.
func (sf *File) Close() error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.f == nil {
		return nil
	}
	var err error
	if sf.err == nil && sf.dead > 0 {
		err = sf.compactLocked()
	}
	if cerr := sf.f.Close(); err == nil {
		err = cerr
	}
	sf.f = nil
	if sf.lock != nil {
		sf.lock.release(true)
		sf.lock = nil
	}
	return err
}
