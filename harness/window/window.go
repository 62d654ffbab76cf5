// Package window keeps the newest n items of a growing list, for the logs
// and transcripts a long-lived fake must not let grow without end.
package window

// Append adds v to s and, with n > 0, drops the oldest items once s holds
// 2n of them, in one copy every n appends rather than one by one. It
// returns the new slice and how many items it dropped. Read the kept items
// through Newest.
func Append[T any](s []T, v T, n int) ([]T, int) {
	s = append(s, v)
	if n <= 0 || len(s) < 2*n {
		return s, 0
	}
	drop := len(s) - n
	return append(s[:0:0], s[drop:]...), drop
}

// Newest is the last n items of s (all of them when n <= 0).
func Newest[T any](s []T, n int) []T {
	if n > 0 && len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
