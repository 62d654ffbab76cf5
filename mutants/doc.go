// Package mutants proves the harness: its test runs the suites against the
// reference publisher once as it is and once per mistake switch, and fails
// when the clean run reports anything or a mistake goes unnoticed.
//
//	go test -v ./mutants/        # prints the matrix
package mutants
