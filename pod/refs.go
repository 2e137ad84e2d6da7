package pod

import (
	"slices"
	"strings"

	"olympos.io/encoding/edn"
)

// Freeing handles the client no longer holds.
//
// The client cannot say "free this" for a handle it merely dropped, but it
// can notice the drop: it registers every handle it receives with a
// java.lang.ref.Cleaner and calls Unref once per registration when the
// keyword is garbage collected. The registry counts the other side: every
// Put hands the handle out once more (Put is only called to return a
// handle), so a handle the client received twice needs two Unrefs. A
// handle whose keyword died and came back (the pod returned it again)
// therefore stays alive: the new arrival counted before the old Unref.
//
// A handle the client no longer holds is still not freed while the pod
// uses its object:
//   - a call in flight that got the handle as an argument holds it
//     (HoldText), so a keyword that dies during a blocking call on it
//     cannot close the object under the call;
//   - an object may depend on another (Depend: a command on its session, a
//     channel on the streams it writes to), which holds the other for as
//     long as the dependent object is registered;
//   - the owner's busy hook can report that the object is working by
//     itself (a command still running, a forward still listening); it
//     is freed once that ends.
//
// Handles the client never registers keep a count above zero and live
// until released explicitly, as before.

// FreeHooks connect the registry to the objects' owner.
type FreeHooks struct {
	// Busy reports whether obj is still working although no one holds
	// its handle; it returns nil when idle, else a channel closed when
	// the current work ends (the registry then looks again). It must not
	// call the registry.
	Busy func(kind string, obj any) <-chan struct{}
	// Dispose closes an object whose handle was freed. It runs without
	// the registry lock.
	Dispose func(kind string, obj any)
}

// SetFreeHooks installs the hooks used when a dropped handle is freed.
func (r *Registry) SetFreeHooks(h FreeHooks) {
	r.mu.Lock()
	r.hooks = h
	r.mu.Unlock()
}

// Unref records that the client dropped one reference to the handle
// named name ("bbssh/session-3"). The handle is freed once no reference,
// hold or work is left. Unknown or already freed handles are ignored: the
// client's cleaner may run after an explicit release.
func (r *Registry) Unref(name string) {
	id, _, err := r.parse(edn.Keyword(name))
	if err != nil {
		return
	}
	r.mu.Lock()
	e, ok := r.byID[id]
	if ok && e.refs > 0 {
		e.refs--
	}
	r.mu.Unlock()
	if ok {
		r.settle(id)
	}
}

// Refs returns how many references the client holds to handle v and how
// many holds (calls in flight, dependent objects) keep it; ok is false
// for an unknown handle. For diagnostics and tests.
func (r *Registry) Refs(v any) (refs, holds int, ok bool) {
	id, found := r.idOf(v)
	if !found {
		return 0, 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	if !ok {
		return 0, 0, false
	}
	return e.refs, e.holds, true
}

// Handles returns every live handle, oldest first.
func (r *Registry) Handles() []Handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]uint64, 0, len(r.byID))
	for id := range r.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Handle, len(ids))
	for i, id := range ids {
		out[i] = r.handle(r.byID[id].kind, id)
	}
	return out
}

// Lookup returns the kind and object behind handle v, whatever its kind.
func (r *Registry) Lookup(v any) (kind string, obj any, err error) {
	kw, isKw := v.(edn.Keyword)
	if !isKw {
		return "", nil, Errorf(BadArgument, "expected a handle, got %s", Describe(v))
	}
	id, _, err := r.parse(kw)
	if err != nil {
		return "", nil, err
	}
	r.mu.Lock()
	e, ok := r.byID[id]
	r.mu.Unlock()
	if !ok {
		return "", nil, Errorf(UnknownHandle, "unknown handle %s (released or never created)", kw)
	}
	return e.kind, e.obj, nil
}

// Depend records that child uses parent: parent is not freed while child
// is registered. Each may be a handle or a registered object; unknown
// ones are ignored. Depending twice on the same parent counts once.
func (r *Registry) Depend(child, parent any) {
	cid, ok1 := r.idOf(child)
	pid, ok2 := r.idOf(parent)
	if !ok1 || !ok2 || cid == pid {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok1 := r.byID[cid]
	p, ok2 := r.byID[pid]
	if !ok1 || !ok2 {
		return
	}
	for _, d := range c.deps {
		if d == pid {
			return
		}
	}
	c.deps = append(c.deps, pid)
	p.holds++
}

// Undepend removes a dependency recorded by Depend; parent may then be
// freed.
func (r *Registry) Undepend(child, parent any) {
	cid, ok1 := r.idOf(child)
	pid, ok2 := r.idOf(parent)
	if !ok1 || !ok2 {
		return
	}
	r.mu.Lock()
	c, ok := r.byID[cid]
	found := false
	if ok {
		for i, d := range c.deps {
			if d == pid {
				c.deps = append(c.deps[:i:i], c.deps[i+1:]...)
				found = true
				break
			}
		}
	}
	if found {
		if p, ok := r.byID[pid]; ok {
			p.holds--
		}
	}
	r.mu.Unlock()
	if found {
		r.settle(pid)
	}
}

// Hold keeps obj (a handle or a registered object) from being freed until
// the returned function is called, e.g. while a goroutine of the pod
// serves its bytes.
func (r *Registry) Hold(obj any) (release func()) {
	id, ok := r.idOf(obj)
	if !ok {
		return func() {}
	}
	return r.holdIDs([]uint64{id})
}

// HoldText holds every handle named in text, the raw EDN arguments of a
// call, until the returned function is called, so that nothing a call
// works on is freed under it. The server takes the hold as it reads the
// request, before any later message (such as the client's Unref of a
// handle it dropped meanwhile) can be handled. A handle-like word inside
// a string argument holds that handle for the call too, which only
// delays its freeing.
func (r *Registry) HoldText(text string) (release func()) {
	prefix := ":" + r.ns + "/"
	var ids []uint64
	for i := strings.Index(text, prefix); i >= 0; {
		rest := text[i+1:]
		end := strings.IndexFunc(rest, func(c rune) bool {
			return !(c == '/' || c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
		})
		if end < 0 {
			end = len(rest)
		}
		if id, _, err := r.parse(edn.Keyword(rest[:end])); err == nil {
			ids = append(ids, id)
		}
		text = rest[end:]
		i = strings.Index(text, prefix)
	}
	if len(ids) == 0 {
		return func() {}
	}
	return r.holdIDs(ids)
}

func (r *Registry) holdIDs(ids []uint64) func() {
	r.mu.Lock()
	held := ids[:0:0]
	for _, id := range ids {
		if e, ok := r.byID[id]; ok {
			e.holds++
			held = append(held, id)
		}
	}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		for _, id := range held {
			if e, ok := r.byID[id]; ok {
				e.holds--
			}
		}
		r.mu.Unlock()
		for _, id := range held {
			r.settle(id)
		}
	}
}

// idOf finds the id of a handle or of a registered object.
func (r *Registry) idOf(v any) (uint64, bool) {
	if kw, ok := v.(edn.Keyword); ok {
		id, _, err := r.parse(kw)
		return id, err == nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.byObj[v]
	return id, ok
}

// free reports whether e may be freed as far as counts go.
func (e *entry) free() bool { return e.refs <= 0 && e.holds <= 0 && !e.waiting }

// settle frees id if nothing needs it any more, and then whatever that
// released in turn.
func (r *Registry) settle(ids ...uint64) {
	for len(ids) > 0 {
		id := ids[len(ids)-1]
		ids = ids[:len(ids)-1]
		r.mu.Lock()
		e, ok := r.byID[id]
		if !ok || !e.free() {
			r.mu.Unlock()
			continue
		}
		hooks := r.hooks
		kind, obj := e.kind, e.obj
		r.mu.Unlock()
		if hooks.Busy != nil {
			if done := hooks.Busy(kind, obj); done != nil {
				r.mu.Lock()
				if e, ok := r.byID[id]; ok && !e.waiting {
					e.waiting = true
					go func() {
						<-done
						r.mu.Lock()
						if e, ok := r.byID[id]; ok {
							e.waiting = false
						}
						r.mu.Unlock()
						r.settle(id)
					}()
				}
				r.mu.Unlock()
				continue
			}
		}
		r.mu.Lock()
		// A new reference or hold may have come while Busy looked.
		if e, ok := r.byID[id]; !ok || !e.free() {
			r.mu.Unlock()
			continue
		}
		ids = append(ids, r.removeLocked(id)...)
		r.mu.Unlock()
		if hooks.Dispose != nil {
			hooks.Dispose(kind, obj)
		}
	}
}

// removeLocked deletes entry id and drops the holds it had on the
// entries it depended on, returning those so the caller can settle them.
func (r *Registry) removeLocked(id uint64) []uint64 {
	e := r.byID[id]
	delete(r.byID, id)
	delete(r.byObj, e.obj)
	for _, d := range e.deps {
		if p, ok := r.byID[d]; ok {
			p.holds--
		}
	}
	return e.deps
}
