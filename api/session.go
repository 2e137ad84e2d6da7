package api

import (
	"context"
	"fmt"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

func (a *API) registerSession(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new", MinArgs: 2, MaxArgs: 2,
		Doc:      "Creates an unconnected session to host with the options of bbssh/ssh; returns its handle. E.g. (new \"myhost\" {:port 2222 :username \"me\"}) ;; => :bbssh/session-1",
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
			if err := a.handleOptions(&opts, m); err != nil {
				return nil, err
			}
			logger, err := a.attachLogger(&opts, m)
			if err != nil {
				return nil, err
			}
			s := bbssh.NewSession(opts)
			if logger != "" {
				a.loggers.Store(s, logger)
			}
			h := a.reg.Put("session", s)
			// What the session uses lives as long as it (cleanup.go).
			if opts.Via != nil {
				a.reg.Depend(s, opts.Via)
			}
			if u, ok := opts.Prompter.(*userInfo); ok {
				a.reg.Depend(s, u)
			}
			a.holdLowerOptions(s, m) // :agent, :identity-repository... (holds.go)
			return h, nil
		}})
	ns.Add(&pod.Var{Name: "connect", MinArgs: 1, MaxArgs: 2,
		Doc:      "Connects the session; timeout in ms (nil or 0: none). Blocks until connected or failed. E.g. (connect s 10000)",
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
			// Forwards the ssh config file asks for, all or nothing as
			// with ExitOnForwardFailure.
			for _, spec := range s.ConfigForwards() {
				f, err := s.Forward(spec)
				if err != nil {
					s.Disconnect()
					a.forgetForwards(s)
					return nil, engineError(fmt.Errorf("a forward of the ssh config file failed: %w", err))
				}
				a.addForward(s, f)
			}
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "disconnect", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes the session's connection and everything on it. It can be connected again. E.g. (disconnect s)",
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
		Doc:      "True while the session has a live connection. E.g. (connected? s) ;; => true",
		Arglists: []string{"[session]"},
		Fn: func(c *pod.Call) (any, error) {
			s, err := a.session(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			return s.Connected(), nil
		}})
}

// handleOptions applies the options that name other handles (:user-info,
// :jump-host as a session) and chooses who is asked for passwords and
// host keys: the script's user-info, else the terminal when there is one.
func (a *API) handleOptions(opts *bbssh.Options, m pod.Map) error {
	silent := m.Bool("silence-messages", false)
	if !silent {
		opts.Messages = a.Stderr
	}
	opts.Prompter = bbssh.TerminalPrompter{}
	if v, ok := m.Get("user-info"); ok && v != nil {
		u, err := a.userInfo(v)
		if err != nil {
			return err
		}
		opts.Prompter = u
		if !silent && u.methods["show-message"] {
			opts.Messages = u
		}
	}
	if err := a.lowerOptions(opts, m); err != nil { // :agent, :identity-repository... (agent.go)
		return err
	}
	if v, ok := m.Get("jump-host"); ok && v != nil {
		if _, isString := v.(string); !isString {
			via, err := a.session(v)
			if err != nil {
				return badOption("option :jump-host must be a spec such as \"me@bastion:22\" or a session, got %s", pod.Describe(v))
			}
			opts.Via = via
		}
	}
	return nil
}

func (a *API) registerRegistry(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "release", MinArgs: 1, MaxArgs: 1,
		Doc:      "Frees a handle: a session is closed first, with everything on it. Later use of the handle is an error. E.g. (release :bbssh/session-1)",
		Arglists: []string{"[handle]"},
		Fn: func(c *pod.Call) (any, error) {
			obj, err := a.reg.Release(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			a.dispose(obj) // cleanup.go: also what a dropped handle gets
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "count", MinArgs: 0, MaxArgs: 0,
		Doc:      "Number of live handles, for leak checks. E.g. (count) ;; => 3",
		Arglists: []string{"[]"},
		Fn:       func(c *pod.Call) (any, error) { return a.reg.Len(), nil }})
}
