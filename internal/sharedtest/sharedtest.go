// Package sharedtest finds the project's shared test data (the ../shared
// folder beside the checkout: golden tokenizer and preprocessing outputs,
// test images) for the tests that need it.
//
// Locally a missing folder skips the test with a message saying where the
// data should be. In CI (the CI environment variable set to true, 1 or
// yes, as CI services do) a missing folder fails the test: a CI run that
// silently skipped its golden tests would pass without checking anything.
package sharedtest

import (
	"os"
	"strings"
	"testing"
)

// Require returns path when it exists. Otherwise it skips the test, or
// fails it when the process runs in CI (see InCI). path is the file or
// folder the test reads, such as "../../../shared/golden/tokenizer.jsonl".
func Require(tb testing.TB, path string) string {
	tb.Helper()
	return require(tb, path, os.Getenv)
}

func require(tb testing.TB, path string, getenv func(string) string) string {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		if InCI(getenv) {
			tb.Fatalf("shared test data missing in CI (CI=%s): %v; the golden files live in ../shared beside the checkout and must be present in CI", getenv("CI"), err)
		}
		tb.Skipf("shared test data absent (%v); it lives in ../shared beside the checkout: skipping", err)
	}
	return path
}

// InCI reports whether getenv says the process runs in CI: CI is "true",
// "1" or "yes" (any case).
func InCI(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv("CI"))) {
	case "true", "1", "yes":
		return true
	}
	return false
}
