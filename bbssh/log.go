package bbssh

import (
	"fmt"
	"net"

	"golang.org/x/crypto/ssh"
)

// LogLevel says how much a debug message matters. The values are JSch's
// logger levels, which bbssh 0.6's set-debug-fn passed on, so a debug
// function written for it reads them the same way.
type LogLevel int

// Log levels.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

// logf sends one message to o.Log, when set: what the connection is
// doing, for the script's :debug-fn (the ssh -v of bbssh).
func (o *Options) logf(level LogLevel, format string, args ...any) {
	if o.Log != nil {
		o.Log(level, fmt.Sprintf(format, args...))
	}
}

// route says how the connection will reach the server, for the log.
func (o *Options) route() string {
	switch {
	case o.Via != nil:
		via := o.Via.Options()
		return " through the session to " + via.Addr()
	case len(o.JumpHosts) > 0:
		hops := make([]string, len(o.JumpHosts))
		for i, j := range o.JumpHosts {
			port := j.Port
			if port == 0 {
				port = 22
			}
			hops[i] = joinHostPort(j.Host, port)
		}
		return fmt.Sprintf(" through jump hosts %v", hops)
	case o.ProxyCommand != "":
		return fmt.Sprintf(" through proxy command %q", o.ProxyCommand)
	case o.Proxy != nil:
		return fmt.Sprintf(" through a %s proxy", o.Proxy.Type)
	}
	return ""
}

// loggedHostKeyCallback logs the server's host key and what the check
// decided about it.
func (o *Options) loggedHostKeyCallback(check ssh.HostKeyCallback) ssh.HostKeyCallback {
	if o.Log == nil {
		return check
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		if err != nil {
			o.logf(LogError, "server host key %s %s refused: %v", key.Type(), ssh.FingerprintSHA256(key), err)
		} else {
			o.logf(LogInfo, "server host key %s %s accepted", key.Type(), ssh.FingerprintSHA256(key))
		}
		return err
	}
}
