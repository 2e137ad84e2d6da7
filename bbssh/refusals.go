package bbssh

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// Servers say no in few words: "administratively prohibited", "request
// denied", "pty-req failed". The messages here name what the server
// refused and the server settings that commonly say so, so that a script's
// author knows where to look.

// ptyRefused is the message for a refused pseudo-terminal.
const ptyRefused = "the server refused a pseudo-terminal (sshd's PermitTTY no, or no-pty in authorized_keys)"

// openRefusal explains a server's refusal to open a forwarded connection
// (direct-tcpip, direct-streamlocal) to target, or returns err unchanged
// when it is not a refusal.
func openRefusal(err error, target string, unix bool) error {
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) {
		return err
	}
	switch oe.Reason {
	case ssh.Prohibited:
		settings := "sshd's AllowTcpForwarding, PermitOpen or DisableForwarding"
		if unix {
			settings = "sshd's AllowStreamLocalForwarding or DisableForwarding"
		}
		return fmt.Errorf("the server refused to open a connection to %s: forwarding there is prohibited (%s): %w", target, settings, err)
	case ssh.UnknownChannelType:
		return fmt.Errorf("the server refused to open a connection to %s: it does not support this kind of forwarding (dropbear has no unix-socket forwarding): %w", target, err)
	case ssh.ConnectionFailed:
		if unix {
			// OpenSSH gives the same answer for a missing socket and
			// for unix-socket forwarding it forbids.
			return fmt.Errorf("the server could not connect to %s: the socket is missing there, or the server forbids forwarding to unix sockets (sshd's AllowStreamLocalForwarding or DisableForwarding): %w", target, err)
		}
		return fmt.Errorf("the server could not connect to %s: %w", target, err)
	}
	return fmt.Errorf("the server refused to open a connection to %s: %w", target, err)
}

// listenRefusalHint names what may make a server refuse to listen for a
// remote forward on addr.
func listenRefusalHint(network string, port int) string {
	switch {
	case network == "unix":
		return "sshd's AllowStreamLocalForwarding or DisableForwarding may forbid it, the socket may exist there, or the server has no unix-socket forwarding (dropbear)"
	case port > 0 && port < 1024:
		return fmt.Sprintf("port %d is privileged: only root may listen on it on the server", port)
	}
	return "sshd's AllowTcpForwarding, PermitListen or DisableForwarding may forbid it, or the port is in use there"
}
