package api

import (
	"bbssh/bbssh"
	"bbssh/pod"
)

// What the objects of the lower-level namespaces hold (cleanup.go): a
// session uses the agent that made it and the repositories it was given;
// an agent its identity, host key and config repositories and the
// identities added to it; an agent's own repository its identities; a
// repository implemented in the script the pod objects it returned. Only
// objects implemented in the script are closed when freed, but any of
// them may sit behind one, so every link is declared with Depend: an
// object is freed only once nothing that could use it is left.

// holder is an object that uses other objects without a handle of its
// own for each, so that they are not freed while it is registered.
type holder interface {
	parts() []any
}

func (ag *agentObj) parts() []any {
	ag.mu.Lock()
	out := []any{ag.local, ag.idRepo, ag.hostKeys}
	if ag.configRepo != nil {
		out = append(out, ag.configRepo)
	}
	ag.mu.Unlock()
	return out
}

func (r *localRepo) parts() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]any, len(r.ids))
	for i, id := range r.ids {
		out[i] = id
	}
	return out
}

// holdParts makes h hold each of parts that is registered, and what an
// unregistered or registered holder among them holds in turn: h may use
// all of them directly (a session keeps the repository it was given even
// after its agent's is replaced). Depending is idempotent; the links last
// as long as h, which only ever delays a freeing.
func (a *API) holdParts(h any, parts ...any) {
	for _, p := range parts {
		if p == nil || p == h {
			continue
		}
		a.reg.Depend(h, p)
		if sub, ok := p.(holder); ok {
			a.holdParts(h, sub.parts()...)
		}
	}
}

// holdHandlesIn makes h hold every live handle in v (a script's answer:
// a handle, or a vector or map of them).
func (a *API) holdHandlesIn(h any, v any) {
	switch x := v.(type) {
	case pod.Handle:
		a.reg.Depend(h, x)
	case []any:
		for _, e := range x {
			a.holdHandlesIn(h, e)
		}
	case map[any]any:
		for _, e := range x {
			a.holdHandlesIn(h, e)
		}
	}
}

// holdLowerOptions makes session s hold the objects named by bbssh/ssh's
// :agent, :identity-repository and :host-key-repository.
func (a *API) holdLowerOptions(s *bbssh.Session, m pod.Map) {
	for _, k := range []string{"agent", "identity-repository", "host-key-repository"} {
		if v, ok := m.Get(k); ok && v != nil {
			if _, obj, err := a.reg.Lookup(v); err == nil {
				a.holdParts(s, obj)
			}
		}
	}
}

// addToLocal adds id to an agent's own repository, which holds it, as
// the agent does.
func (a *API) addToLocal(ag *agentObj, id identity) {
	ag.local.addIdentity(id)
	a.holdParts(ag, id)
	a.reg.Depend(ag.local, id)
}
