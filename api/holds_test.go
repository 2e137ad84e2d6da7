package api

import (
	"testing"

	"bbssh/bbssh"
	"bbssh/pod"
)

// TestHolds checks the links of holds.go on the registry alone: the
// objects a holder uses outlive their dropped handles, and are freed
// with the holder.
func TestHolds(t *testing.T) {
	bbID := func() identity {
		return &bbIdentity{&bbObject{what: "identity", done: make(chan struct{})}}
	}
	tests := []struct {
		name string
		// build registers objects and links them; it returns the handles
		// dropped first (which must stay alive) and the holder's handle.
		build func(a *API) (dropped []pod.Handle, holder pod.Handle)
	}{
		{"a session holds its agent and the agent's identities", func(a *API) ([]pod.Handle, pod.Handle) {
			ag := newAgent()
			hAg := a.reg.Put("agent", ag)
			id := bbID()
			hID := a.reg.Put("identity", id)
			a.addToLocal(ag, id)
			s := bbssh.NewSession(bbssh.Options{Host: "127.0.0.1"})
			hS := a.reg.Put("session", s)
			a.holdParts(s, ag)
			return []pod.Handle{hAg, hID}, hS
		}},
		{"a session holds an identity added to its agent after it was made", func(a *API) ([]pod.Handle, pod.Handle) {
			ag := newAgent()
			hAg := a.reg.Put("agent", ag)
			s := bbssh.NewSession(bbssh.Options{Host: "127.0.0.1"})
			hS := a.reg.Put("session", s)
			a.holdParts(s, ag)
			id := bbID()
			hID := a.reg.Put("identity", id)
			a.addToLocal(ag, id)
			return []pod.Handle{hAg, hID}, hS
		}},
		{"an agent's own repository holds identities added later", func(a *API) ([]pod.Handle, pod.Handle) {
			ag := newAgent() // not registered: only its repository holds
			hRepo := a.reg.Put("identity-repository", ag.local)
			id := bbID()
			hID := a.reg.Put("identity", id)
			a.addToLocal(ag, id)
			return []pod.Handle{hID}, hRepo
		}},
		{"a bb repository holds the handles of its answers", func(a *API) ([]pod.Handle, pod.Handle) {
			repo := &bbIdentityRepo{bbObject: &bbObject{what: "identity-repository", done: make(chan struct{})}, a: a}
			hRepo := a.reg.Put("identity-repository", repo)
			hID := a.reg.Put("identity", bbID())
			a.holdHandlesIn(repo, []any{hID, kw("running"), map[any]any{kw("k"): kw("bbssh/unknown-99")}})
			return []pod.Handle{hID}, hRepo
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New()
			freed := map[any]bool{}
			a.reg.SetFreeHooks(pod.FreeHooks{Dispose: func(_ string, obj any) { freed[obj] = true; a.dispose(obj) }})
			dropped, holder := tt.build(a)
			for _, h := range dropped {
				a.reg.Unref(string(h))
			}
			for _, h := range dropped {
				if _, _, ok := a.reg.Refs(h); !ok {
					t.Fatalf("%s was freed while its holder lives", h)
				}
			}
			a.reg.Unref(string(holder))
			if n := a.reg.Len(); n != 0 {
				t.Fatalf("after dropping the holder %d handles are left: %v", n, a.reg.Handles())
			}
			if len(freed) != len(dropped)+1 {
				t.Fatalf("disposed %d objects, want %d", len(freed), len(dropped)+1)
			}
		})
	}
}
