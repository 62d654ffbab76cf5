package window

import (
	"fmt"
	"testing"
)

func TestAppendKeepsTheNewestAndBoundsTheSlice(t *testing.T) {
	var s []int
	dropped := 0
	for i := 0; i < 100; i++ {
		var d int
		s, d = Append(s, i, 10)
		dropped += d
		if len(s) >= 20 {
			t.Fatalf("after %d appends the slice holds %d", i+1, len(s))
		}
	}
	if got := fmt.Sprint(Newest(s, 10)); got != "[90 91 92 93 94 95 96 97 98 99]" {
		t.Fatalf("newest = %s", got)
	}
	if dropped+len(s) != 100 {
		t.Errorf("dropped %d + held %d != 100", dropped, len(s))
	}
	all, _ := Append([]int{1, 2}, 3, 0)
	if fmt.Sprint(Newest(all, 0)) != "[1 2 3]" {
		t.Error("n = 0 does not keep everything")
	}
}
