package bbssh

import (
	"context"
	"fmt"
	"io"
	"net"
)

// dial opens the byte stream the SSH connection runs over: straight to
// the server, or through a session (Via), a chain of jump hosts, a proxy
// command or an HTTP/SOCKS proxy, in that order of precedence. Jump host
// sessions it opens are returned, to be closed with the connection.
func dial(ctx context.Context, o *Options) (net.Conn, []*Session, error) {
	addr := o.Addr()
	switch {
	case o.Via != nil:
		client, err := o.Via.Client()
		if err != nil {
			return nil, nil, errorf(KindConnect, err, "cannot tunnel to %s: the session to go through is not connected", addr)
		}
		conn, err := client.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, errorf(KindConnect, err, "cannot reach %s through %s", addr, o.Via.opts.Addr())
		}
		return conn, nil, nil
	case len(o.JumpHosts) > 0:
		return dialJumps(ctx, o)
	case o.ProxyCommand != "":
		// The command's stderr goes through a pipe, never as the pod's
		// own stderr descriptor, which a stray child could hold open.
		var stderr io.Writer
		if o.Messages != nil {
			stderr = struct{ io.Writer }{o.Messages}
		}
		conn, err := CommandConn(ctx, o.ProxyCommand, stderr)
		if err != nil {
			return nil, nil, errorf(KindConnect, err, "proxy command %q failed to start", o.ProxyCommand)
		}
		return conn, nil, nil
	case o.Proxy != nil:
		conn, err := o.Proxy.DialContext(ctx, "tcp", addr)
		return conn, nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, errorf(KindConnect, unwrapNetErr(err), "cannot connect to %s", addr)
	}
	return conn, nil, nil
}

// dialJumps connects to each jump host through the one before (ssh -J)
// and then reaches the server through the last. Each hop logs in with
// the same keys, agent, known_hosts and prompter as the server, but never
// with its password.
func dialJumps(ctx context.Context, o *Options) (net.Conn, []*Session, error) {
	var hops []*Session
	closeHops := func() {
		for i := len(hops) - 1; i >= 0; i-- {
			hops[i].Close()
		}
	}
	var via *Session
	for i, j := range o.JumpHosts {
		hop := Options{
			Host: j.Host, Port: j.Port, User: j.User,
			IdentityFiles: o.IdentityFiles, Passphrase: o.Passphrase, PrivateKey: o.PrivateKey,
			NoDefaultIdentities: o.NoDefaultIdentities, AgentSocket: o.AgentSocket, NoAgent: o.NoAgent,
			KnownHosts: o.KnownHosts, HostKeyPolicy: o.HostKeyPolicy, ConnectTimeout: o.ConnectTimeout,
			Messages: o.Messages, Prompter: o.Prompter, ConfigFile: o.ConfigFile, NoConfig: o.NoConfig, Log: o.Log,
			// The server's data crosses the hops' channels too.
			ReceiveWindow: o.ReceiveWindow,
			// A hop's own config never adds jumps: no loops.
			JumpHosts: []JumpHost{}, Via: via,
		}
		s := NewSession(hop)
		if err := s.Connect(ctx); err != nil {
			closeHops()
			return nil, nil, fmt.Errorf("bbssh: jump host %d (%s): %w", i+1, hop.Addr(), err)
		}
		hops = append(hops, s)
		via = s
	}
	client, err := via.Client()
	if err == nil {
		var conn net.Conn
		if conn, err = client.DialContext(ctx, "tcp", o.Addr()); err == nil {
			return conn, hops, nil
		}
	}
	closeHops()
	return nil, nil, errorf(KindConnect, err, "cannot reach %s through jump host %s", o.Addr(), via.opts.Addr())
}
