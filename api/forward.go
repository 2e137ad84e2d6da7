package api

import (
	"fmt"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// forwardKeys are the keys of a forward's option map, by direction.
var forwardKeys = map[bool]map[string]bool{
	false: {"bind-address": true, "local-port": true, "local-unix-socket": true, "remote-host": true,
		"remote-port": true, "remote-unix-socket": true, "connect-timeout": true, "close-active": true},
	true: {"bind-address": true, "remote-port": true, "remote-unix-socket": true, "local-host": true,
		"local-port": true, "local-unix-socket": true, "connect-timeout": true, "close-active": true},
}

// parseForward reads a forward map in bbssh's terms: for a local forward
// the local side listens; for a remote one the remote side does.
func parseForward(remote bool, m pod.Map) (spec bbssh.ForwardSpec, err error) {
	defer asBadOption(&err)
	spec.Remote = remote
	for _, k := range m.Keys() {
		if !forwardKeys[remote][k] {
			return spec, badOption("unknown forward option :%s", k)
		}
	}
	listen, target := "local", "remote"
	if remote {
		listen, target = "remote", "local"
	}
	if spec.BindAddress, err = m.String("bind-address", ""); err != nil {
		return spec, err
	}
	port, err := m.Int(listen+"-port", -1)
	if err != nil {
		return spec, err
	}
	if spec.ListenUnix, err = m.String(listen+"-unix-socket", ""); err != nil {
		return spec, err
	}
	if port < 0 && spec.ListenUnix == "" {
		return spec, badOption("a %s forward needs :%s-port or :%s-unix-socket", direction(remote), listen, listen)
	}
	if port > 65535 {
		return spec, badOption(":%s-port must be between 0 and 65535, got %d", listen, port)
	}
	spec.ListenPort = int(max(port, 0))
	if spec.TargetHost, err = m.String(target+"-host", ""); err != nil {
		return spec, err
	}
	tport, err := m.Int(target+"-port", 0)
	if err != nil {
		return spec, err
	}
	spec.TargetPort = int(tport)
	if spec.TargetUnix, err = m.String(target+"-unix-socket", ""); err != nil {
		return spec, err
	}
	if spec.TargetUnix == "" && (tport < 1 || tport > 65535) {
		return spec, badOption(":%s-port must be between 1 and 65535, got %d", target, tport)
	}
	if !remote && spec.TargetUnix == "" && spec.TargetHost == "" {
		return spec, badOption("a local forward needs :remote-host (or :remote-unix-socket)")
	}
	ms, err := m.Int("connect-timeout", 0)
	if err != nil {
		return spec, err
	}
	if ms < 0 {
		return spec, badOption(":connect-timeout must be >= 0 ms, got %d", ms)
	}
	spec.ConnectTimeout = time.Duration(ms) * time.Millisecond
	return spec, nil
}

func direction(remote bool) string {
	if remote {
		return "remote"
	}
	return "local"
}

// describeForward renders a forward as get-port-forwarding-* shows it
// (:forward, in bbssh's shape) with its running figures (:stats), which the
// client attaches as metadata.
func describeForward(f *bbssh.Forward) map[any]any {
	s := f.Spec
	listen, target := "local", "remote"
	if s.Remote {
		listen, target = "remote", "local"
	}
	m := map[any]any{}
	if s.ListenUnix != "" {
		m[kw(listen+"-unix-socket")] = s.ListenUnix
	} else {
		m[kw(listen+"-port")] = f.Port
		if s.BindAddress != "" {
			m[kw("bind-address")] = s.BindAddress
		}
	}
	if s.TargetUnix != "" {
		m[kw(target+"-unix-socket")] = s.TargetUnix
	} else {
		host := s.TargetHost
		if host == "" {
			host = "127.0.0.1"
		}
		m[kw(target+"-host")] = host
		m[kw(target+"-port")] = s.TargetPort
	}
	st := f.Stats()
	stats := map[any]any{
		kw("active-connections"): st.Active,
		kw("total-connections"):  st.Total,
		kw("bytes-in"):           st.BytesIn,
		kw("bytes-out"):          st.BytesOut,
	}
	if st.LastError != "" {
		stats[kw("last-error")] = st.LastError
	}
	return map[any]any{kw("forward"): m, kw("stats"): stats}
}

// liveForwards returns the session's open forwards of one direction, in
// the order they were made, forgetting closed ones.
func (a *API) liveForwards(s *bbssh.Session, remote bool) []*bbssh.Forward {
	a.mu.Lock()
	defer a.mu.Unlock()
	var live, all []*bbssh.Forward
	for _, f := range a.forwards[s] {
		if f.Closed() {
			continue
		}
		all = append(all, f)
		if f.Spec.Remote == remote {
			live = append(live, f)
		}
	}
	a.forwards[s] = all
	return live
}

func (a *API) registerForward(ns *pod.Namespace) {
	for _, remote := range []bool{false, true} {
		dir := direction(remote)
		ns.Add(&pod.Var{Name: "forward-" + dir, MinArgs: 2, MaxArgs: 2,
			Doc:      fmt.Sprintf("Starts a %s forward on the session; returns the port bound (0 for a unix socket).", dir),
			Arglists: []string{"[session spec]"},
			Fn: func(c *pod.Call) (any, error) {
				s, m, err := a.sessionAndMap(c, 1)
				if err != nil {
					return nil, err
				}
				spec, err := parseForward(remote, m)
				if err != nil {
					return nil, err
				}
				f, err := s.Forward(spec)
				if err != nil {
					return nil, engineError(err)
				}
				a.mu.Lock()
				a.forwards[s] = append(a.forwards[s], f)
				a.mu.Unlock()
				return f.Port, nil
			}})
		ns.Add(&pod.Var{Name: "forwards-" + dir, MinArgs: 1, MaxArgs: 1,
			Doc:      fmt.Sprintf("Lists the session's %s forwards with their figures.", dir),
			Arglists: []string{"[session]"},
			Fn: func(c *pod.Call) (any, error) {
				s, err := a.session(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				out := []any{}
				for _, f := range a.liveForwards(s, remote) {
					out = append(out, describeForward(f))
				}
				return out, nil
			}})
		ns.Add(&pod.Var{Name: "unforward-" + dir, MinArgs: 2, MaxArgs: 2,
			Doc:      fmt.Sprintf("Stops the session's %s forwards that listen where the map says; returns how many.", dir),
			Arglists: []string{"[session {:bind-address :port :unix-socket :close-active}]"},
			Fn: func(c *pod.Call) (any, error) {
				s, m, err := a.sessionAndMap(c, 1)
				if err != nil {
					return nil, err
				}
				listen := "local"
				if remote {
					listen = "remote"
				}
				port, err := m.Int(listen+"-port", -1)
				if err != nil {
					return nil, err
				}
				sock, err := m.String(listen+"-unix-socket", "")
				if err != nil {
					return nil, err
				}
				bind, err := m.String("bind-address", "")
				if err != nil {
					return nil, err
				}
				if port < 0 && sock == "" {
					return nil, badOption("say which forward: :%s-port or :%s-unix-socket", listen, listen)
				}
				n := 0
				for _, f := range a.liveForwards(s, remote) {
					match := (sock != "" && f.Spec.ListenUnix == sock) ||
						(sock == "" && f.Spec.ListenUnix == "" && int64(f.Port) == port &&
							(bind == "" || bind == f.Spec.BindAddress || (f.Spec.BindAddress == "" && bind == "127.0.0.1")))
					if !match {
						continue
					}
					if m.Bool("close-active", false) {
						f.Close()
					} else {
						f.CloseListener()
					}
					n++
				}
				if n == 0 {
					return nil, pod.Errorf(ErrorNS+"/no-such-forward", "no %s forward listens on %s", listen, forwardPlace(bind, port, sock))
				}
				return n, nil
			}})
	}
}

func forwardPlace(bind string, port int64, sock string) string {
	if sock != "" {
		return sock
	}
	if bind == "" {
		return fmt.Sprintf("port %d", port)
	}
	return fmt.Sprintf("%s:%d", bind, port)
}
