//go:build !linux

package bbssh

import "net"

// newRawSocket returns c: raw reads and writes are done on Linux only
// (rawsocket_linux.go).
func newRawSocket(c net.Conn) net.Conn { return c }
