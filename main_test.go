package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestRunOutsideAPod(t *testing.T) {
	t.Setenv("BABASHKA_POD", "")
	os.Unsetenv("BABASHKA_POD")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no pod client", nil, 1, "bbssh needs to be run as a babashka pod"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, &stderr); code != tc.wantCode {
				t.Fatalf("exit code %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) || !strings.Contains(stderr.String(), "Load it from a babashka script") {
				t.Fatalf("stderr = %q", stderr.String())
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"-v", "--version"} {
		var stderr bytes.Buffer
		if code := run([]string{flag}, &stderr); code != 0 {
			t.Fatalf("%s: exit code %d", flag, code)
		}
	}
}
