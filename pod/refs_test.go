package pod

import (
	"sync"
	"testing"
	"time"
)

// disposed records what the registry freed, in order.
type disposed struct {
	mu   sync.Mutex
	objs []any
}

func (d *disposed) hook(kind string, obj any) {
	d.mu.Lock()
	d.objs = append(d.objs, obj)
	d.mu.Unlock()
}

func (d *disposed) has(obj any) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range d.objs {
		if o == obj {
			return true
		}
	}
	return false
}

func newTestRegistry() (*Registry, *disposed, map[any]chan struct{}) {
	r := NewRegistry("bbssh")
	d := &disposed{}
	busy := map[any]chan struct{}{}
	var mu sync.Mutex
	r.SetFreeHooks(FreeHooks{
		Busy: func(kind string, obj any) <-chan struct{} {
			mu.Lock()
			defer mu.Unlock()
			if ch, ok := busy[obj]; ok {
				return ch
			}
			return nil
		},
		Dispose: d.hook,
	})
	return r, d, busy
}

func TestUnrefCountsEveryHandOut(t *testing.T) {
	r, d, _ := newTestRegistry()
	a := new(int)
	h := r.Put("thing", a)
	r.Put("thing", a) // handed out twice: two client registrations
	r.Unref(string(h))
	if d.has(a) || r.Len() != 1 {
		t.Fatal("freed after one of two references was dropped")
	}
	r.Unref(string(h))
	if !d.has(a) || r.Len() != 0 {
		t.Fatal("not freed after both references were dropped")
	}
	r.Unref(string(h)) // a late cleaner run is ignored
	r.Unref("bbssh/thing-99")
	r.Unref("not a handle")
}

func TestHoldTextKeepsCallArguments(t *testing.T) {
	r, d, _ := newTestRegistry()
	a, b := new(int), new(int)
	ha := r.Put("session", a)
	hb := r.Put("channel-exec", b)
	release := r.HoldText(`[` + ":" + string(ha) + ` {:in :` + string(hb) + `} "x" :other/session-1]`)
	r.Unref(string(ha))
	r.Unref(string(hb))
	if d.has(a) || d.has(b) {
		t.Fatal("freed an argument of a call in flight")
	}
	if _, holds, _ := r.Refs(ha); holds != 1 {
		t.Fatalf("holds = %d, want 1", holds)
	}
	release()
	if !d.has(a) || !d.has(b) {
		t.Fatal("not freed once the call ended")
	}
}

func TestDependHoldsParentUntilChildGoes(t *testing.T) {
	r, d, _ := newTestRegistry()
	session, channel, stream := new(int), new(int), new(int)
	hs := r.Put("session", session)
	hc := r.Put("channel", channel)
	hst := r.Put("stream", stream)
	r.Depend(channel, session)
	r.Depend(hc, hst)
	r.Depend(channel, session) // once only
	r.Unref(string(hs))
	r.Unref(string(hst))
	if d.has(session) || d.has(stream) {
		t.Fatal("freed what a live channel uses")
	}
	r.Unref(string(hc)) // frees the channel, then what it held
	for _, o := range []any{channel, session, stream} {
		if !d.has(o) {
			t.Fatalf("%p not freed after its last user went", o)
		}
	}
}

func TestUndependAndReleaseLetParentGo(t *testing.T) {
	r, d, _ := newTestRegistry()
	parent, child := new(int), new(int)
	hp := r.Put("session", parent)
	hc := r.Put("process", child)
	r.Depend(child, parent)
	r.Unref(string(hp))
	r.Undepend(child, parent)
	if !d.has(parent) {
		t.Fatal("Undepend did not free the unreferenced parent")
	}
	parent2 := new(int)
	hp2 := r.Put("session", parent2)
	r.Depend(hc, hp2)
	r.Unref(string(hp2))
	if _, err := r.Release(hc); err != nil {
		t.Fatal(err)
	}
	if !d.has(parent2) {
		t.Fatal("releasing the child explicitly did not free the unreferenced parent")
	}
	if d.has(child) {
		t.Fatal("an explicit release must leave disposal to the caller")
	}
}

func TestBusyObjectFreedWhenWorkEnds(t *testing.T) {
	r, d, busy := newTestRegistry()
	p := new(int)
	done := make(chan struct{})
	busy[p] = done
	h := r.Put("process", p)
	r.Unref(string(h))
	if d.has(p) || r.Len() != 1 {
		t.Fatal("freed a busy object")
	}
	delete(busy, p)
	close(done)
	deadline := time.Now().Add(5 * time.Second)
	for !d.has(p) {
		if time.Now().After(deadline) {
			t.Fatal("not freed after its work ended")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPutAfterDropKeepsHandle(t *testing.T) {
	r, d, _ := newTestRegistry()
	a := new(int)
	h := r.Put("stream", a)
	release := r.Hold(a)
	r.Unref(string(h))
	// The pod hands the handle out again before the hold ends: the new
	// arrival keeps it.
	if again := r.Put("stream", a); again != h {
		t.Fatalf("handle changed: %s", again)
	}
	release()
	if d.has(a) {
		t.Fatal("freed a handle the client received again")
	}
	if refs, holds, ok := r.Refs(h); !ok || refs != 1 || holds != 0 {
		t.Fatalf("refs, holds, ok = %d, %d, %v", refs, holds, ok)
	}
}

func TestLookupAnyKind(t *testing.T) {
	r := NewRegistry("bbssh")
	a := new(int)
	h := r.Put("byte-array-input-stream", a)
	kind, obj, err := r.Lookup(h)
	if err != nil || kind != "byte-array-input-stream" || obj != a {
		t.Fatalf("Lookup = %q, %v, %v", kind, obj, err)
	}
	for _, bad := range []any{"x", Handle("bbssh/x-9"), Handle("zz")} {
		if _, _, err := r.Lookup(bad); err == nil {
			t.Errorf("Lookup(%v) gave no error", bad)
		}
	}
}
