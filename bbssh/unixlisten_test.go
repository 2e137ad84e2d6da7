package bbssh

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestListenUnix checks the local unix-socket listener: owner-only even
// under umask 0, reachable at its path, nothing left beside it, an
// existing file kept (address in use), a stale socket replaced, and a
// path too long for the private directory still owner-only.
func TestListenUnix(t *testing.T) {
	old := syscall.Umask(0) // the loosest: bind would make the socket 0777
	defer syscall.Umask(old)
	dir := t.TempDir()
	check := func(path string) {
		t.Helper()
		ln, err := listenUnix(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
			t.Fatalf("%s: mode %v (%v), want an 0600 socket", path, st.Mode(), err)
		}
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Write([]byte("hi"))
				c.Close()
			}
		}()
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 2)
		if _, err := c.Read(b); err != nil || string(b) != "hi" {
			t.Errorf("read %q, %v", b, err)
		}
		c.Close()
	}
	check(filepath.Join(dir, "a.sock"))
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries beside the socket, want none", len(entries)-1)
	}

	t.Run("existing file", func(t *testing.T) {
		p := filepath.Join(dir, "file")
		os.WriteFile(p, []byte("keep"), 0o644)
		if _, err := listenUnix(p); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("listen on a file = %v, want address in use", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "keep" {
			t.Errorf("the file now holds %q", b)
		}
	})
	t.Run("stale socket", func(t *testing.T) {
		p := filepath.Join(dir, "stale.sock")
		ln, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		check(p)
	})
	t.Run("long path", func(t *testing.T) {
		long := filepath.Join(dir, strings.Repeat("d", 100-len(dir)))
		if err := os.Mkdir(long, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(long, "s")
		if len(p) > maxUnixPath || len(filepath.Join(long, ".bbssh-1234567890", "s")) <= maxUnixPath {
			t.Fatalf("path of %d bytes does not exercise the fallback", len(p))
		}
		check(p)
	})
}
