package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Transport is the byte stream a pod talks over.
type Transport struct {
	io.Reader
	io.Writer
	close func() error
}

// Close releases the transport: for the socket transport it closes the
// connection and the listener and removes the port file. It is safe to
// call more than once.
func (t *Transport) Close() error {
	if t.close == nil {
		return nil
	}
	c := t.close
	t.close = nil
	return c()
}

// TransportFromEnv picks the transport babashka asked for: the socket
// transport when BABASHKA_POD_TRANSPORT is "socket", else stdio.
func TransportFromEnv(ctx context.Context, dir string) (*Transport, error) {
	if os.Getenv("BABASHKA_POD_TRANSPORT") == "socket" {
		return ListenSocket(ctx, dir)
	}
	return Stdio(), nil
}

// Stdio returns the stdio transport: requests on standard input, replies
// on standard output.
func Stdio() *Transport {
	return &Transport{Reader: os.Stdin, Writer: os.Stdout}
}

// PortFileName is the name of the file through which the socket transport
// tells babashka its port, in the working directory.
func PortFileName(pid int) string {
	return ".babashka-pod-" + strconv.Itoa(pid) + ".port"
}

// ListenSocket implements the socket transport: listen on 127.0.0.1 on a
// free port, write the port followed by a newline to the port file in dir,
// and accept exactly one connection. The port file is removed by Close, and
// also if no client connects before ctx ends.
func ListenSocket(ctx context.Context, dir string) (*Transport, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pod: socket transport: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	portFile := filepath.Join(dir, PortFileName(os.Getpid()))
	removePortFile := func() error {
		if err := os.Remove(portFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	// Write to a temporary name then rename, so the client never reads a
	// partial file.
	tmp := portFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		ln.Close()
		return nil, fmt.Errorf("pod: write port file: %w", err)
	}
	if err := os.Rename(tmp, portFile); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("pod: write port file: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	conn, err := ln.Accept()
	stop()
	ln.Close()
	if err != nil {
		removePortFile()
		return nil, fmt.Errorf("pod: socket transport: no client connected: %w", err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Without it every round trip pays the delayed-ACK penalty.
		tc.SetNoDelay(true)
	}
	return &Transport{Reader: conn, Writer: conn, close: func() error {
		conn.Close()
		return removePortFile()
	}}, nil
}

// AcceptTimeout bounds how long the socket transport waits for babashka to
// connect before giving up.
const AcceptTimeout = 60 * time.Second
