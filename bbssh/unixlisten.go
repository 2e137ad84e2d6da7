package bbssh

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// maxUnixPath is the longest socket path bind(2) takes on Linux (108
// bytes with the terminating NUL).
const maxUnixPath = 107

// listenUnix listens on a unix socket readable and writable by the owner
// only, replacing a stale socket file. bind(2) creates the socket with the
// process umask's permissions, so the socket is bound and chmod'ed in a
// private directory (0700) next to path, then linked into place: it is
// never reachable by others, not even for a moment. (OpenSSH sets its
// umask instead; a process-wide umask would race with the pod's other
// goroutines.) When the private name would be too long for bind, the
// socket is bound in place and chmod'ed at once.
func listenUnix(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".bbssh-")
	if err != nil || len(filepath.Join(dir, "s")) > maxUnixPath {
		if err == nil {
			os.Remove(dir)
		}
		return listenUnixInPlace(path)
	}
	defer os.RemoveAll(dir)
	private := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", private)
	if err != nil {
		return nil, err
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the forward removes path itself
	if err := os.Chmod(private, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	// A link, unlike a rename, never replaces what is already at path.
	if err := os.Link(private, path); err != nil {
		ln.Close()
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("listen unix %s: %w", path, syscall.EADDRINUSE)
		}
		return nil, err
	}
	return ln, nil
}

// listenUnixInPlace binds path itself, then makes it owner-only.
func listenUnixInPlace(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
