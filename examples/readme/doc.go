// Package readme holds the Go snippets of the project's README, so that they compile and run.
//
// # Basics
//
// Each ```go block of README.md is the body of a function of this package, named by the HTML
// comment on the line before the block:
//
//	<!-- readme: func Records -->
//	```go
//	md, err := record.NewMetaDataBuilder(librarypb.File_library_proto).
//	...
//	```
//
// The function's body, less one tab of indentation, must be the block's text, character for
// character. Other markers tie the README to the tree in the same way:
//
//	<!-- readme: output Records -->     a block that is the // Output: of ExampleRecords
//	<!-- readme: file path/in/repo -->  a block that is that file, whole (the .proto, gen.go)
//	<!-- readme: run -->                shell commands that the test runs, each of which must
//	                                    succeed (go run ./x runs a binary built from ./x)
//	<!-- readme: setup -->              the set-up commands, checked to name the catalogue demo
//	                                    and the script .ci/run calls
//
// TestREADME fails on a marked block that differs from its source, on a marker that names
// nothing, on a ```go or ```proto block without a marker, and on an exported function of this
// package that no block shows. The Examples run each snippet on a new in-memory database and
// check what it prints; TestTourOnOneDatabase runs them all on one database with commit faults
// injected, followed by every consistency checker. So a snippet in the README can neither drift
// from the code nor stop compiling or working.
//
// To change a snippet, change the function here, then paste its body into the README (the
// test's failure message prints the body it expects).
//
// The snippets print with fmt.Println, as a reader's first program would; the functions that
// open FoundationDB (foundationdb.go) compile but only run with the fdb build tag and a cluster.
//
// # Caveats
//
// The functions are written to be read in the README, not called: their error handling is that
// of a short program, and they use fixed names in the keyspace.
package readme
