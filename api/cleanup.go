package api

import (
	"bbssh/bbssh"
	"bbssh/pod"
)

// Handles the script dropped are freed (pod/refs.go): the client's
// pod.epiccastle.bbssh.impl.cleaner registers each handle it receives with
// a java.lang.ref.Cleaner and sends registry/unref when babashka has
// garbage collected the keyword. Here the API says what keeps an object
// alive without a handle, what links objects, and how a freed object is
// closed.
//
// What keeps what:
//   - a command (exec), a channel-exec, a handled forward's connection and
//     an sftp file hold their session; a session holds its jump host and
//     its user-info; a channel-exec holds the streams set on it;
//   - a session, an agent and a repository implemented in the script hold
//     the lower-level objects they use (holds.go);
//   - a session is busy while it has a forward open, a command while it
//     runs, a channel-exec while connected and running.
//
// So a session whose handle was dropped keeps serving its forwards, and
// is closed once the last of them and the last object using it are gone.

// installCleanup connects the registry's freeing to the API and makes
// every call hold the handles it was given.
func (a *API) installCleanup(srv *pod.Server) {
	a.reg.SetFreeHooks(pod.FreeHooks{Busy: a.busy, Dispose: func(_ string, obj any) { a.dispose(obj) }})
	srv.HoldHandles(a.reg)
}

// busy reports work an object does by itself (see pod.FreeHooks).
func (a *API) busy(_ string, obj any) <-chan struct{} {
	switch o := obj.(type) {
	case *bbssh.Session:
		return a.openForward(o)
	case *process:
		if done := o.Done(); !isDone(done) {
			return done
		}
	case *channelExec:
		if o.Busy() {
			return o.Done()
		}
	}
	return nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// openForward returns the Done channel of one of the session's forwards
// that is still open, or nil.
func (a *API) openForward(s *bbssh.Session) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.forwards[s] {
		if done := f.Done(); !isDone(done) {
			return done
		}
	}
	return nil
}

// dispose closes an object whose handle was released or freed.
func (a *API) dispose(obj any) {
	switch o := obj.(type) {
	case *bbssh.Session:
		o.Close()
		a.releaseOwned(o)
		a.forgetForwards(o)
		a.releaseLogger(o)
	case *forwardedConn:
		o.Close()
	case *userInfo:
		o.Close()
	case *process:
		o.Close()
	case *channelExec:
		o.Disconnect()
	case *pipeIn:
		o.Close() // no one can read it any more: its writer fails
	case *pipeOut:
		o.Close() // no one can write it any more: its reader ends
	case *proxyIn:
		o.release()
	case *proxyOut:
		o.release()
	case interface{ Close() error }: // the other lower-level namespaces' objects
		o.Close()
	}
}

func (a *API) registerCleanup(registry, cleaner *pod.Namespace) {
	registry.Add(&pod.Var{Name: "unref", MinArgs: 1, MaxArgs: 1,
		Doc: "Says that the client dropped one reference to each named handle (its cleaner saw the keywords garbage collected); " +
			"a handle is freed once no reference is left and nothing uses its object. E.g. (unref [\"bbssh/session-1\"])",
		Arglists: []string{"[handle-names]"},
		Fn: func(c *pod.Call) (any, error) {
			names, ok := c.Args.Get(0).([]any)
			if !ok {
				return nil, badOption("unref wants a vector of handle names, got %s", pod.Describe(c.Args.Get(0)))
			}
			for _, n := range names {
				if s, ok := n.(string); ok {
					a.reg.Unref(s)
				}
			}
			return nil, nil
		}})
	registry.Add(&pod.Var{Name: "refs", MinArgs: 1, MaxArgs: 1,
		Doc:      "Diagnostic: {:refs n :holds n} of a live handle (references the client holds; calls and objects using it), nil once freed. E.g. (refs :bbssh/session-1) ;; => {:refs 1 :holds 0}",
		Arglists: []string{"[handle]"},
		Fn: func(c *pod.Call) (any, error) {
			refs, holds, ok := a.reg.Refs(c.Args.Get(0))
			if !ok {
				return nil, nil
			}
			// This call itself holds the handle: leave it out.
			return map[any]any{kw("refs"): refs, kw("holds"): holds - 1}, nil
		}})
	registry.Add(&pod.Var{Name: "handles", MinArgs: 0, MaxArgs: 0,
		Doc:      "Diagnostic: every live handle. E.g. (handles) ;; => [:bbssh/session-1]",
		Arglists: []string{"[]"},
		Fn:       func(c *pod.Call) (any, error) { return handleList(a.reg.Handles()), nil }})

	// bbssh 0.6's pod.epiccastle.bbssh.pod.cleaner, for scripts that used it.
	cleaner.Add(&pod.Var{Name: "del-reference", MinArgs: 1, MaxArgs: 1,
		Doc:      "bbssh 0.6: drops one client reference to a handle, as the cleaner does. E.g. (del-reference :bbssh/session-1)",
		Arglists: []string{"[handle]"},
		Fn: func(c *pod.Call) (any, error) {
			switch v := c.Args.Get(0).(type) {
			case string:
				a.reg.Unref(v)
			case pod.Handle:
				a.reg.Unref(string(v))
			case []any: // [ns name]
				if len(v) == 2 {
					ns, _ := v[0].(string)
					name, _ := v[1].(string)
					a.reg.Unref(ns + "/" + name)
				}
			}
			return nil, nil
		}})
	cleaner.Add(&pod.Var{Name: "get-references", MinArgs: 0, MaxArgs: 0,
		Doc:      "bbssh 0.6: the live handles, nil when there are none. E.g. (get-references) ;; => (:bbssh/session-1)",
		Arglists: []string{"[]"},
		Fn: func(c *pod.Call) (any, error) {
			hs := a.reg.Handles()
			if len(hs) == 0 {
				return nil, nil
			}
			return handleList(hs), nil
		}})
}

func handleList(hs []pod.Handle) []any {
	out := make([]any, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}
