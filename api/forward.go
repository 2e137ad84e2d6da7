package api

import (
	"fmt"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// kinds are the forward kinds in the order their vars are registered.
var kinds = []bbssh.ForwardKind{bbssh.LocalForward, bbssh.RemoteForward, bbssh.DynamicForward}

// forwardKeys are the keys of a forward's option map, by kind.
var forwardKeys = map[bbssh.ForwardKind]map[string]bool{
	bbssh.LocalForward: {"bind-address": true, "local-port": true, "local-unix-socket": true, "remote-host": true,
		"remote-port": true, "remote-unix-socket": true, "connect-timeout": true, "connection-timeout": true},
	bbssh.RemoteForward: {"bind-address": true, "remote-port": true, "remote-unix-socket": true, "local-host": true,
		"local-port": true, "local-unix-socket": true, "connect-timeout": true, "connection-timeout": true, "dynamic": true},
	bbssh.DynamicForward: {"bind-address": true, "local-port": true, "connect-timeout": true, "connection-timeout": true},
}

// listenSide names the end that listens, whose keys say where: "local"
// for -L and -D, "remote" for -R.
func listenSide(kind bbssh.ForwardKind) string {
	if kind == bbssh.RemoteForward {
		return "remote"
	}
	return "local"
}

func targetSide(kind bbssh.ForwardKind) string {
	if kind == bbssh.RemoteForward {
		return "local"
	}
	return "remote"
}

// parseForwardArg reads a forward given as a map in bbssh's terms or as
// an OpenSSH spec string such as "8080:db:5432".
func parseForwardArg(kind bbssh.ForwardKind, v any) (bbssh.ForwardSpec, error) {
	if s, ok := v.(string); ok {
		spec, err := bbssh.ParseForwardSpec(kind, s)
		return spec, engineError(err)
	}
	m, err := pod.AsMap("forward", v)
	if err != nil {
		return bbssh.ForwardSpec{}, badOption("a forward is a map or a spec string such as \"8080:db:5432\", got %s", pod.Describe(v))
	}
	return parseForward(kind, m)
}

// parseForward reads a forward map in bbssh's terms: for a local or
// dynamic forward the local side listens; for a remote one the remote
// side does.
func parseForward(kind bbssh.ForwardKind, m pod.Map) (spec bbssh.ForwardSpec, err error) {
	defer asBadOption(&err)
	for _, k := range m.Keys() {
		if !forwardKeys[kind][k] {
			return spec, badOption("unknown %s forward option :%s", kind, k)
		}
	}
	spec, err = parseListen(kind, m)
	if err != nil {
		return spec, err
	}
	if kind == bbssh.RemoteForward {
		spec.Dynamic = m.Bool("dynamic", false)
	}
	if !spec.Dynamic {
		target := targetSide(kind)
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
		if kind == bbssh.LocalForward && spec.TargetUnix == "" && spec.TargetHost == "" {
			return spec, badOption("a local forward needs :remote-host (or :remote-unix-socket)")
		}
	} else if kind == bbssh.RemoteForward && (m.Has("local-host") || m.Has("local-port") || m.Has("local-unix-socket")) {
		return spec, badOption("a dynamic remote forward takes no :local-host, :local-port or :local-unix-socket: each SOCKS client names its target")
	}
	if spec.ConnectTimeout, err = forwardTimeout(m); err != nil {
		return spec, err
	}
	return spec, nil
}

// forwardTimeout reads :connect-timeout, or :connection-timeout, the
// spelling bbssh 0.6's tests and many of its scripts used (0.6 ignored
// it; here it counts, as the key its docs named).
func forwardTimeout(m pod.Map) (time.Duration, error) {
	key := "connect-timeout"
	if m.Has("connection-timeout") {
		if m.Has("connect-timeout") {
			return 0, badOption("give :connect-timeout or :connection-timeout (its bbssh 0.6 spelling), not both")
		}
		key = "connection-timeout"
	}
	ms, err := m.Int(key, 0)
	if err != nil {
		return 0, err
	}
	if ms < 0 {
		return 0, badOption(":%s must be >= 0 ms, got %d", key, ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// parseListen reads the listening end of a forward map: :bind-address and
// :<side>-port, or :<side>-unix-socket.
func parseListen(kind bbssh.ForwardKind, m pod.Map) (spec bbssh.ForwardSpec, err error) {
	spec.Remote = kind == bbssh.RemoteForward
	spec.Dynamic = kind == bbssh.DynamicForward
	listen := listenSide(kind)
	if spec.BindAddress, err = m.String("bind-address", ""); err != nil {
		return spec, err
	}
	if spec.BindAddress == "" && m.Has("bind-address") {
		spec.BindAddress = "*" // as OpenSSH: an empty address means every interface
	}
	port, err := m.Int(listen+"-port", -1)
	if err != nil {
		return spec, err
	}
	if spec.ListenUnix, err = m.String(listen+"-unix-socket", ""); err != nil {
		return spec, err
	}
	switch {
	case port < 0 && m.Has(listen+"-port"):
		return spec, badOption(":%s-port must be between 0 and 65535, got %d", listen, port)
	case port < 0 && spec.ListenUnix == "":
		return spec, badOption("a %s forward needs :%s-port or :%s-unix-socket", kind, listen, listen)
	case port >= 0 && spec.ListenUnix != "":
		return spec, badOption("a %s forward takes :%s-port or :%s-unix-socket, not both", kind, listen, listen)
	case port > 65535:
		return spec, badOption(":%s-port must be between 0 and 65535, got %d", listen, port)
	}
	spec.ListenPort = int(max(port, 0))
	return spec, nil
}

// describeForward renders a forward as get-port-forwarding-* shows it
// (:forward, in bbssh's shape) with its running figures (:stats), which the
// client attaches as metadata. A forward that died with its connection
// says so in :closed.
func describeForward(f *bbssh.Forward) map[any]any {
	s := f.Spec
	kind := bbssh.LocalForward
	switch {
	case s.Remote:
		kind = bbssh.RemoteForward
	case s.Dynamic:
		kind = bbssh.DynamicForward
	}
	listen, target := listenSide(kind), targetSide(kind)
	m := map[any]any{}
	if s.ListenUnix != "" {
		m[kw(listen+"-unix-socket")] = s.ListenUnix
	} else {
		m[kw(listen+"-port")] = f.Port
		if s.BindAddress != "" {
			m[kw("bind-address")] = s.BindAddress
		}
	}
	switch {
	case f.Handled():
		m[kw("handler")] = true
	case s.Dynamic && s.Remote:
		m[kw("dynamic")] = true
	case s.Dynamic:
	case s.TargetUnix != "":
		m[kw(target+"-unix-socket")] = s.TargetUnix
	default:
		host := s.TargetHost
		if host == "" {
			host = "127.0.0.1"
		}
		m[kw(target+"-host")] = host
		m[kw(target+"-port")] = s.TargetPort
	}
	st := f.Stats()
	stats := map[any]any{
		kw("state"):              kw("open"),
		kw("active-connections"): st.Active,
		kw("total-connections"):  st.Total,
		kw("bytes-in"):           st.BytesIn,
		kw("bytes-out"):          st.BytesOut,
	}
	if lost := f.Lost(); lost != "" {
		m[kw("closed")] = lost
		stats[kw("state")] = kw("closed")
	}
	if st.LastError != "" {
		stats[kw("last-error")] = st.LastError
	}
	if st.Refused > 0 {
		stats[kw("refused-connections")] = st.Refused
	}
	return map[any]any{kw("forward"): m, kw("stats"): stats}
}

func forwardKind(f *bbssh.Forward) bbssh.ForwardKind {
	switch {
	case f.Spec.Remote:
		return bbssh.RemoteForward
	case f.Spec.Dynamic:
		return bbssh.DynamicForward
	}
	return bbssh.LocalForward
}

// listedForwards returns the session's forwards of one kind that get
// lists, in the order they were made: the open ones, and the ones that
// died with their connection (until deleted, or the session is connected
// or disconnected again). Forwards closed on purpose are forgotten.
func (a *API) listedForwards(s *bbssh.Session, kind bbssh.ForwardKind) []*bbssh.Forward {
	a.mu.Lock()
	defer a.mu.Unlock()
	var listed, kept []*bbssh.Forward
	for _, f := range a.forwards[s] {
		if f.Closed() && f.Lost() == "" {
			continue
		}
		kept = append(kept, f)
		if forwardKind(f) == kind {
			listed = append(listed, f)
		}
	}
	a.forwards[s] = kept
	return listed
}

// addForward records f as one of the session's forwards.
func (a *API) addForward(s *bbssh.Session, f *bbssh.Forward) {
	a.mu.Lock()
	a.forwards[s] = append(a.forwards[s], f)
	a.mu.Unlock()
}

// forgetForwards drops every forward of s from the lists, after they
// were closed with its connection.
func (a *API) forgetForwards(s *bbssh.Session) {
	a.mu.Lock()
	delete(a.forwards, s)
	a.mu.Unlock()
}

func (a *API) registerForward(ns *pod.Namespace) {
	for _, kind := range kinds {
		kind := kind
		ns.Add(&pod.Var{Name: "forward-" + kind.String(), MinArgs: 2, MaxArgs: 2,
			Doc:      fmt.Sprintf("Starts a %s forward on the session from a map or an OpenSSH spec string; returns the port bound (0 for a unix socket). E.g. (forward-%s s %q)", kind, kind, kindExample[kind]),
			Arglists: []string{"[session spec]"},
			Fn: func(c *pod.Call) (any, error) {
				s, err := a.session(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				spec, err := parseForwardArg(kind, c.Args.Get(1))
				if err != nil {
					return nil, err
				}
				f, err := s.Forward(spec)
				if err != nil {
					return nil, engineError(err)
				}
				a.addForward(s, f)
				return f.Port, nil
			}})
		ns.Add(&pod.Var{Name: "forwards-" + kind.String(), MinArgs: 1, MaxArgs: 1,
			Doc:      fmt.Sprintf("Lists the session's %s forwards with their figures. E.g. (forwards-%s s)", kind, kind),
			Arglists: []string{"[session]"},
			Fn: func(c *pod.Call) (any, error) {
				s, err := a.session(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				out := []any{}
				for _, f := range a.listedForwards(s, kind) {
					out = append(out, describeForward(f))
				}
				return out, nil
			}})
		ns.Add(&pod.Var{Name: "unforward-" + kind.String(), MinArgs: 2, MaxArgs: 2,
			Doc:      fmt.Sprintf("Stops the session's %s forwards that listen where the map (or spec string) says; returns how many. E.g. (unforward-%s s %q)", kind, kind, kindExample[kind]),
			Arglists: []string{"[session opts]"},
			Fn: func(c *pod.Call) (any, error) {
				s, err := a.session(c.Args.Get(0))
				if err != nil {
					return nil, err
				}
				where, closeActive, err := parseUnforward(kind, c.Args.Get(1))
				if err != nil {
					return nil, err
				}
				n := 0
				for _, f := range a.listedForwards(s, kind) {
					if !listensAt(f, where) {
						continue
					}
					if closeActive {
						f.Close()
					} else {
						f.CloseListener()
					}
					a.dropForward(s, f)
					n++
				}
				if n == 0 {
					return nil, pod.Errorf(ErrorNS+"/no-such-forward", "no %s forward listens on %s", kind, forwardPlace(where))
				}
				return n, nil
			}})
	}
	a.registerHandledForward(ns)
}

// parseUnforward reads which forward to stop: a map with the listening
// keys (and :close-active), or a spec string whose listening end counts.
func parseUnforward(kind bbssh.ForwardKind, v any) (where bbssh.ForwardSpec, closeActive bool, err error) {
	if s, ok := v.(string); ok {
		where, err = bbssh.ParseForwardSpec(kind, s)
		return where, false, engineError(err)
	}
	m, err := pod.AsMap("forward", v)
	if err != nil {
		return where, false, badOption("say which forward with a map such as {:%s-port 8080} or a spec string, got %s", listenSide(kind), pod.Describe(v))
	}
	for _, k := range m.Keys() {
		if !forwardKeys[kind][k] && k != "close-active" && k != "handler" {
			return where, false, badOption("unknown %s forward option :%s", kind, k)
		}
	}
	where, err = parseListen(kind, m)
	if err != nil {
		return where, false, err
	}
	return where, m.Bool("close-active", false), nil
}

// listensAt reports whether f listens where says; a where without bind
// address matches any.
func listensAt(f *bbssh.Forward, where bbssh.ForwardSpec) bool {
	if where.ListenUnix != "" || f.Spec.ListenUnix != "" {
		return where.ListenUnix == f.Spec.ListenUnix
	}
	if where.ListenPort != f.Port {
		return false
	}
	bind := f.Spec.BindAddress
	return where.BindAddress == "" || where.BindAddress == bind ||
		(bind == "" && (where.BindAddress == "127.0.0.1" || where.BindAddress == "localhost"))
}

// dropForward removes f from the session's list.
func (a *API) dropForward(s *bbssh.Session, f *bbssh.Forward) {
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.forwards[s]
	for i, g := range list {
		if g == f {
			a.forwards[s] = append(list[:i:i], list[i+1:]...)
			return
		}
	}
}

func forwardPlace(where bbssh.ForwardSpec) string {
	switch {
	case where.ListenUnix != "":
		return where.ListenUnix
	case where.BindAddress == "":
		return fmt.Sprintf("port %d", where.ListenPort)
	}
	return fmt.Sprintf("%s:%d", where.BindAddress, where.ListenPort)
}
