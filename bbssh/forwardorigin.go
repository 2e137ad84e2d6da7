package bbssh

import (
	"fmt"
	"net"
	"strings"
)

// A remote forward asked to listen on loopback only expects connections
// from the server's own machine. The server decides where it listens,
// though: sshd with GatewayPorts yes binds every interface whatever the
// client asked. Connections it then lets in from elsewhere are refused
// here and recorded, not silently carried to the target.

// loopbackOnly reports whether f is a TCP remote forward whose bind
// address is loopback: none given (127.0.0.1), "localhost", or a loopback
// IP.
func (f ForwardSpec) loopbackOnly() bool {
	if !f.Remote || f.ListenUnix != "" {
		return false
	}
	switch b := strings.Trim(f.BindAddress, "[]"); {
	case b == "", strings.EqualFold(b, "localhost"):
		return true
	default:
		ip := net.ParseIP(b)
		return ip != nil && ip.IsLoopback()
	}
}

// refuseOrigin closes conn and records why when it comes from outside
// the loopback that the forward was asked to listen on; it reports
// whether it did.
func (f *Forward) refuseOrigin(conn net.Conn) bool {
	if !f.Spec.loopbackOnly() {
		return false
	}
	from, ok := conn.RemoteAddr().(*net.TCPAddr)
	if ok && from.IP.IsLoopback() {
		return false
	}
	origin := "an unknown address"
	if ok {
		origin = from.String()
	}
	conn.Close()
	f.mu.Lock()
	f.stats.Refused++
	f.stats.LastError = fmt.Sprintf("refused a connection from %s: the forward listens on loopback only, but the server let it in (its GatewayPorts setting?)", origin)
	f.mu.Unlock()
	return true
}
