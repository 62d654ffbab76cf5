package statefile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func open(t testing.TB, path string, opts Options) *File {
	t.Helper()
	sf, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sf
}

func val(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// contents is the live state as kind/id → value text.
func contents(recs []Record) map[string]string {
	out := map[string]string{}
	for _, r := range recs {
		out[r.Kind+"/"+r.ID] = string(r.Value)
	}
	return out
}

func TestRoundTripKeepsTheLastValueAndDeletions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.jsonl")
	sf := open(t, path, Options{})
	if got := sf.Loaded(); len(got) != 0 {
		t.Fatalf("new file loaded %d records", len(got))
	}
	must(t, sf.Append(Record{Kind: "sub", ID: "a", Value: val(1)}, Record{Kind: "sub", ID: "b", Value: val("x\ny")}))
	must(t, sf.Append(Record{Kind: "sub", ID: "a", Value: val(2)}))
	must(t, sf.Append(Record{Kind: "op", ID: "a", Value: val(map[string]int{"n": 3})}))
	must(t, sf.Append(Record{Kind: "sub", ID: "b"})) // delete
	// A later process sees exactly the live records; Close compacted, so the
	// file holds the header and two lines.
	must(t, sf.Close())
	sf = open(t, path, Options{})
	defer sf.Close()
	got := contents(sf.Loaded())
	want := map[string]string{"sub/a": "2", "op/a": `{"n":3}`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("loaded %v, want %v", got, want)
	}
	if n := countLines(t, path); n != 3 {
		t.Errorf("after Close the file has %d lines, want 3 (header + 2 live)", n)
	}
	if sf.Loaded() != nil {
		t.Error("Loaded hands the records out once")
	}
}

func TestRefusesAFileThatIsNotAStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.go")
	orig := "package main\n\nfunc main() {}\n"
	must(t, os.WriteFile(path, []byte(orig), 0o644))
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "not a saasconform state file") {
		t.Fatalf("Open(main.go) = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(path); string(b) != orig {
		t.Fatal("the refused file was changed")
	}
}

func TestRefusesAnotherFormatVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	must(t, os.WriteFile(path, []byte(`{"k":"saasconform-state","id":"","v":99}`+"\n"), 0o600))
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("Open = %v, want a version error", err)
	}
}

func TestDamagedLineInTheMiddleIsAnErrorNamingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	sf := open(t, path, Options{})
	must(t, sf.Append(Record{Kind: "sub", ID: "a", Value: val(1)}))
	crash(sf) // no compaction: keep the lines as written
	b, _ := os.ReadFile(path)
	b = append(b, "garbage\n"...)
	b = append(b, `{"k":"sub","id":"b","v":2}`+"\n"...)
	must(t, os.WriteFile(path, b, 0o600))
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("Open = %v, want an error naming line 3", err)
	}
}

func TestTornLastLineIsDroppedAndWritingGoesOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	sf := open(t, path, Options{})
	must(t, sf.Append(Record{Kind: "sub", ID: "a", Value: val(1)}))
	crash(sf)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"k":"sub","id":"b","v":{"half`)
	f.Close()

	sf = open(t, path, Options{})
	if sf.Dropped() == 0 {
		t.Error("Dropped() = 0 after a torn line")
	}
	if got := contents(sf.Loaded()); len(got) != 1 || got["sub/a"] != "1" {
		t.Fatalf("loaded %v, want only sub/a", got)
	}
	must(t, sf.Append(Record{Kind: "sub", ID: "c", Value: val(3)}))
	crash(sf)
	sf = open(t, path, Options{})
	defer sf.Close()
	if got := contents(sf.Loaded()); len(got) != 2 || got["sub/c"] != "3" {
		t.Fatalf("after the torn line and one more append: %v", got)
	}
}

func TestCompactionBoundsTheFileAndKeepsEveryLiveRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	sf := open(t, path, Options{MinCompact: 64})
	for i := 0; i < 5000; i++ {
		must(t, sf.Append(Record{Kind: "sub", ID: strconv.Itoa(i % 50), Value: val(i)}))
	}
	st, _ := os.Stat(path)
	// 50 live records of ~30 bytes; without compaction it would be 5000 lines.
	if st.Size() > 50*40+64*2*40 {
		t.Errorf("file is %d bytes after 5000 overwrites of 50 records: not compacting", st.Size())
	}
	crash(sf)
	sf = open(t, path, Options{})
	defer sf.Close()
	got := contents(sf.Loaded())
	for i := 0; i < 50; i++ {
		if want := strconv.Itoa(4950 + i); got["sub/"+strconv.Itoa(i)] != want {
			t.Fatalf("sub/%d = %s, want %s", i, got["sub/"+strconv.Itoa(i)], want)
		}
	}
}

func TestWriteErrorIsReportedOnceAndSticks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	var reported []error
	sf := open(t, path, Options{OnError: func(err error) { reported = append(reported, err) }})
	sf.f.Close() // every write now fails
	err1 := sf.Append(Record{Kind: "sub", ID: "a", Value: val(1)})
	err2 := sf.Append(Record{Kind: "sub", ID: "b", Value: val(2)})
	if err1 == nil || err2 == nil || len(reported) != 1 || sf.Err() == nil {
		t.Fatalf("errors %v, %v; reported %v", err1, err2, reported)
	}
	if !strings.Contains(err1.Error(), "memory only") {
		t.Errorf("error %q does not say what happens next", err1)
	}
}

func TestReservedKindIsRefused(t *testing.T) {
	sf := open(t, filepath.Join(t.TempDir(), "state"), Options{})
	defer sf.Close()
	if err := sf.Append(Record{Kind: headerKind, Value: val(1)}); err == nil {
		t.Error("the header kind was accepted as a record")
	}
	if err := sf.Append(Record{ID: "x", Value: val(1)}); err == nil {
		t.Error("an empty kind was accepted")
	}
	if err := sf.Append(Record{Kind: "sub", ID: "x", Value: json.RawMessage("{bad")}); err == nil {
		t.Error("an invalid JSON value was accepted")
	}
}

// TestKillDuringWritesLosesNothing runs a writer process that appends and
// acknowledges records as fast as it can, kills it with SIGKILL mid-stream,
// restarts it on the same file, and checks after every kill that each
// acknowledged record holds at least its acknowledged value. Compaction is
// forced often, so kills land inside compactions too.
func TestKillDuringWritesLosesNothing(t *testing.T) {
	if os.Getenv("STATEFILE_WRITER") != "" {
		writer()
		return
	}
	path := filepath.Join(t.TempDir(), "state")
	acked := map[string]int{} // id → highest acknowledged value
	next := 0
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringWritesLosesNothing$")
		cmd.Env = append(os.Environ(), "STATEFILE_WRITER="+path, "STATEFILE_FROM="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		sc := bufio.NewScanner(out)
		seen := 0
		stopAt := 300 + round*250
		for sc.Scan() {
			var id string
			var v int
			if _, err := fmt.Sscan(sc.Text(), &id, &v); err != nil {
				continue
			}
			acked[id] = v
			next = v + 1
			if seen++; seen == stopAt {
				break
			}
		}
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		if seen < stopAt {
			t.Fatalf("round %d: the writer stopped after %d acknowledgements", round, seen)
		}

		sf := open(t, path, Options{})
		got := map[string]int{}
		for _, r := range sf.Loaded() {
			var v int
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("round %d: record %s holds %s", round, r.ID, r.Value)
			}
			got[r.ID] = v
		}
		crash(sf)
		var lost []string
		for id, v := range acked {
			if got[id] < v {
				lost = append(lost, fmt.Sprintf("%s: acked %d, file %d", id, v, got[id]))
			}
		}
		sort.Strings(lost)
		if len(lost) > 0 {
			t.Fatalf("round %d: %d acknowledged writes lost after kill -9, e.g. %v", round, len(lost), lost[:min(3, len(lost))])
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was written")
	}
}

// writer appends ever-growing values to 200 ids and prints "id value" after
// each Append returns, until it is killed.
func writer() {
	from, _ := strconv.Atoi(os.Getenv("STATEFILE_FROM"))
	sf, err := Open(os.Getenv("STATEFILE_WRITER"), Options{MinCompact: 100})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	sf.Loaded()
	w := bufio.NewWriter(os.Stdout)
	for v := from; ; v++ {
		id := "r" + strconv.Itoa(v%200)
		if err := sf.Append(Record{Kind: "n", ID: id, Value: val(v)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Fprintln(w, id, v)
		w.Flush()
	}
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	must(t, err)
	return strings.Count(string(b), "\n")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAppend measures one change (one record overwritten) with 100 and
// with 10,000 live records: the cost must not grow with the state's size.
func BenchmarkAppend(b *testing.B) {
	for _, live := range []int{100, 10000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			sf := open(b, filepath.Join(b.TempDir(), "state"), Options{})
			defer sf.Close()
			v := val(map[string]any{"id": "0b7c1f2e-3a0e-4bd6-9d3c-4f5f0c7a1a11", "planId": "gold", "status": "Subscribed", "quantity": 10})
			for i := 0; i < live; i++ {
				must(b, sf.Append(Record{Kind: "sub", ID: strconv.Itoa(i), Value: v}))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := sf.Append(Record{Kind: "sub", ID: strconv.Itoa(i % live), Value: v}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLinesAreJSONWhateverTheNames: kinds and ids with quotes, backslashes,
// control characters and non-ASCII, and values spread over lines, all come
// back as written.
func TestLinesAreJSONWhateverTheNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	sf := open(t, path, Options{})
	odd := []string{`a"b`, `c\d`, "e\nf", "gé", "<&>", "tab\t", "plain-id_1.2+/="}
	for i, id := range odd {
		must(t, sf.Append(Record{Kind: "k" + id, ID: id, Value: json.RawMessage(fmt.Sprintf("{\n  \"n\": %d\n}", i))}))
	}
	crash(sf)
	sf = open(t, path, Options{})
	defer sf.Close()
	got := contents(sf.Loaded())
	for i, id := range odd {
		if want := fmt.Sprintf(`{"n":%d}`, i); got["k"+id+"/"+id] != want {
			t.Errorf("%q came back as %q, want %q", id, got["k"+id+"/"+id], want)
		}
	}
}

// BenchmarkCompact rewrites a journal of 40,000 live records (about the
// state of 10,000 subscriptions with their tokens and operations) that
// also holds as many superseded lines.
func BenchmarkCompact(b *testing.B) {
	sf := open(b, filepath.Join(b.TempDir(), "state"), Options{MinCompact: 1 << 30})
	defer sf.Close()
	v := val(map[string]any{"subscription": strings.Repeat("x", 600), "seq": 1})
	for round := 0; round < 2; round++ {
		for i := 0; i < 40000; i++ {
			must(b, sf.Append(Record{Kind: "sub", ID: strconv.Itoa(i), Value: v}))
		}
	}
	b.ResetTimer()
	for b.Loop() {
		must(b, sf.Compact())
	}
}

// crash leaves sf as a killed process would: the lines as written, no
// compaction, the lock released.
func crash(sf *File) {
	sf.f.Close()
	sf.f = nil
	sf.lock.release(false)
	sf.lock = nil
}
