// Package envskip skips a test whose environment is missing (not root, no
// pseudo-terminal, no network namespaces, no symbolic links), except in
// CI: there every environment is provided (.ci/run runs as root and
// installs what the tests need), so a missing one is a failure, and a
// skipped test can never pass CI by proving nothing.
package envskip

import (
	"fmt"
	"os"
	"testing"
)

// Skip skips t with the reason, or fails it when CI is set.
func Skip(t testing.TB, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run this test, but its environment is missing: %s", fmt.Sprint(args...))
	}
	t.Skip(args...)
}

// Skipf is Skip with a format.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	Skip(t, fmt.Sprintf(format, args...))
}
