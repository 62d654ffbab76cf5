package statefile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen hands Open arbitrary file contents. Whatever the bytes, Open
// either refuses them, leaving the file as it was, or accepts them; an
// accepted file then takes one more record, and reopening it (after Close
// compacted it) gives back what was loaded plus that record.
func FuzzOpen(f *testing.F) {
	// A valid journal from the real writer, with an overwrite and a deletion
	// left in place (no compaction), and cuts and damage of it.
	dir := f.TempDir()
	path := filepath.Join(dir, "seed")
	sf, err := Open(path, Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range []Record{
		{Kind: "sub", ID: "a", Value: val(map[string]any{"status": "Subscribed", "n": 1})},
		{Kind: "sub", ID: "b", Value: val("x\ny")},
		{Kind: "sub", ID: "a", Value: val(2)},
		{Kind: "sub", ID: "b"},
		{Kind: "k\"é", ID: "<&>", Value: val([]int{1, 2})},
	} {
		if err := sf.Append(r); err != nil {
			f.Fatal(err)
		}
	}
	crash(sf)
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	hdr := headerLine()
	f.Add(valid)
	f.Add(valid[:len(valid)-7]) // torn last line
	f.Add(valid[:len(hdr)-1])   // header without its newline
	f.Add(hdr)                  // header only
	f.Add([]byte{})             // empty
	f.Add(bytes.Replace(valid, []byte(`"v":2`), []byte(`"v":2x`), 1))
	f.Add(append(append([]byte{}, hdr...), "\n\n"...)) // blank lines
	f.Add(append(append([]byte{}, hdr...), `{"k":"","id":"x","v":1}`+"\n"...))
	f.Add(append(append([]byte{}, hdr...), `{"k":"a","id":"x","v":null}`+"\r\n"...))
	f.Add([]byte(`{"k":"saasconform-state","id":"","v":2}` + "\n"))
	f.Add([]byte("package main\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sf, err := Open(path, Options{MinCompact: 2})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(after, data) {
				t.Fatalf("Open refused the file (%v) but changed it: %q → %q (%v)", err, data, after, rerr)
			}
			return
		}
		want := map[string]string{}
		for _, r := range sf.Loaded() {
			if r.Kind == "" || r.Kind == headerKind || r.Value == nil || !json.Valid(r.Value) {
				t.Fatalf("loaded a record that cannot have been written: %+v", r)
			}
			want[r.Kind+"\x00"+r.ID] = string(r.Value)
		}
		if err := sf.Append(Record{Kind: "fuzz", ID: "new", Value: json.RawMessage(`"v"`)}); err != nil {
			t.Fatalf("Append after opening %q: %v", data, err)
		}
		want["fuzz\x00new"] = `"v"`
		if err := sf.Close(); err != nil {
			t.Fatalf("Close after opening %q: %v", data, err)
		}
		sf, err = Open(path, Options{})
		if err != nil {
			b, _ := os.ReadFile(path)
			t.Fatalf("the file Open accepted and Append wrote cannot be reopened: %v\nfirst contents %q\nnow %q", err, data, b)
		}
		defer sf.Close()
		got := map[string]string{}
		for _, r := range sf.Loaded() {
			var c bytes.Buffer
			if err := json.Compact(&c, r.Value); err != nil {
				t.Fatalf("reloaded an invalid value %q", r.Value)
			}
			got[r.Kind+"\x00"+r.ID] = string(r.Value)
		}
		if len(got) != len(want) {
			t.Fatalf("reopened %d records, want %d: %q vs %q (from %q)", len(got), len(want), got, want, data)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("record %q: reopened %q, want %q (from %q)", k, got[k], v, data)
			}
		}
	})
}
