package api

import (
	"context"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

func (a *API) registerSession(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 2, MaxArgs: 2,
		Doc:      "Creates an unconnected session to host with the options of bbssh/ssh; returns its handle.",
		Arglists: []string{"[host opts]"},
		Fn: func(c *pod.Call) (any, error) {
			host, err := c.Args.String(0)
			if err != nil {
				return nil, err
			}
			if host == "" {
				return nil, badOption("host must not be empty")
			}
			m, err := c.Args.Map(1)
			if err != nil {
				return nil, err
			}
			opts, err := parseSSHOptions(host, m)
			if err != nil {
				return nil, err
			}
			if !m.Bool("silence-messages", false) {
				opts.Messages = a.Stderr
			}
			return a.reg.Put("session", bbssh.NewSession(opts)), nil
		}})
	ns.Add(&pod.Var{Name: "connect", MinArgs: 1, MaxArgs: 2,
		Doc:      "Connects the session; timeout in ms (nil or 0: none). Blocks until connected or failed.",
		Arglists: []string{"[session]", "[session timeout-ms]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			ctx := c.Ctx
			if v := c.Args.Get(1); v != nil {
				ms, err := pod.AsInt("timeout", v)
				if err != nil {
					return nil, err
				}
				if ms < 0 {
					return nil, badOption("timeout must be >= 0 ms, got %d", ms)
				}
				if ms > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
					defer cancel()
				}
			}
			if err := s.Connect(ctx); err != nil {
				return nil, engineError(err)
			}
			a.forgetForwards(s) // forwards that died with an earlier connection
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "disconnect", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes the session's connection and everything on it. It can be connected again.",
		Arglists: []string{"[session]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			err = s.Disconnect()
			a.releaseOwned(s)
			a.forgetForwards(s)
			return nil, engineError(err)
		}})
	ns.Add(&pod.Var{Name: "connected?", MinArgs: 1, MaxArgs: 1,
		Doc:      "True while the session has a live connection.",
		Arglists: []string{"[session]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return s.Connected(), nil
		}})
}

func (a *API) registerRegistry(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "release", MinArgs: 1, MaxArgs: 1,
		Doc:      "Frees a handle: a session is closed first, with everything on it. Later use of the handle is an error.",
		Arglists: []string{"[handle]"},
		Fn: func(c *pod.Call) (any, error) {
			obj, err := a.reg.Release(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			switch o := obj.(type) {
			case *bbssh.Session:
				o.Close()
				a.releaseOwned(o)
				a.forgetForwards(o)
			case *forwardedConn:
				o.Close()
			case *process:
				o.Close()
			}
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "count", MinArgs: 0, MaxArgs: 0,
		Doc:      "Number of live handles, for leak checks.",
		Arglists: []string{"[]"},
		Fn:       func(c *pod.Call) (any, error) { return a.reg.Len(), nil }})
}
