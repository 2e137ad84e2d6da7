package pod

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"olympos.io/encoding/edn"
)

// Handle is how the client sees a Go object: a keyword such as
// :bbssh/session-3 that names the object's kind and its registry id. The
// same object always gets the same handle, so handles are printable,
// comparable and usable as map keys on the client side.
type Handle = edn.Keyword

// UnknownHandle is the error type for a handle that is not (or no longer)
// in the registry, or that names another kind of object.
const UnknownHandle = "unknown-handle"

// Registry keeps Go objects behind integer ids. It is safe for concurrent
// use. Objects must be comparable (pointers are).
type Registry struct {
	ns    string
	mu    sync.Mutex
	next  uint64
	byID  map[uint64]*entry
	byObj map[any]uint64
	hooks FreeHooks // see refs.go
}

type entry struct {
	kind string
	obj  any
	// Reference counting (refs.go): references the client holds, holds
	// by calls and dependent entries, the entries this one depends on,
	// and whether a busy object is being waited for.
	refs    int
	holds   int
	deps    []uint64
	waiting bool
}

// NewRegistry returns an empty registry whose handles live in the keyword
// namespace ns (e.g. "bbssh").
func NewRegistry(ns string) *Registry {
	return &Registry{ns: ns, byID: map[uint64]*entry{}, byObj: map[any]uint64{}}
}

// Put registers obj under kind and returns its handle. An object already
// registered keeps its handle. Each Put counts one reference held by the
// client (see Unref).
func (r *Registry) Put(kind string, obj any) Handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.byObj[obj]; ok {
		r.byID[id].refs++
		return r.handle(r.byID[id].kind, id)
	}
	r.next++
	id := r.next
	r.byID[id] = &entry{kind: kind, obj: obj, refs: 1}
	r.byObj[obj] = id
	return r.handle(kind, id)
}

func (r *Registry) handle(kind string, id uint64) Handle {
	return edn.Keyword(r.ns + "/" + kind + "-" + strconv.FormatUint(id, 10))
}

// Get returns the object behind handle v, which must be of kind. v is the
// decoded argument as received (a keyword); anything else is an error that
// names what was expected.
func (r *Registry) Get(kind string, v any) (any, error) {
	kw, ok := v.(edn.Keyword)
	if !ok {
		return nil, Errorf(BadArgument, "expected a %s handle, got %s", kind, Describe(v))
	}
	id, gotKind, err := r.parse(kw)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	e, ok := r.byID[id]
	r.mu.Unlock()
	if !ok {
		return nil, Errorf(UnknownHandle, "unknown %s handle %s (released or never created)", kind, kw)
	}
	if e.kind != kind || gotKind != kind {
		return nil, Errorf(UnknownHandle, "handle %s is a %s, expected a %s", kw, e.kind, kind)
	}
	return e.obj, nil
}

func (r *Registry) parse(kw edn.Keyword) (id uint64, kind string, err error) {
	ns, name, ok := strings.Cut(string(kw), "/")
	dash := strings.LastIndexByte(name, '-')
	if ok && ns == r.ns && dash > 0 {
		if id, err := strconv.ParseUint(name[dash+1:], 10, 64); err == nil {
			return id, name[:dash], nil
		}
	}
	return 0, "", Errorf(UnknownHandle, "not a handle: %s", kw)
}

// Release removes the object behind handle v from the registry and returns
// it, so that the caller can close it. Releasing an unknown handle is an
// error.
func (r *Registry) Release(v any) (any, error) {
	kw, ok := v.(edn.Keyword)
	if !ok {
		return nil, Errorf(BadArgument, "expected a handle, got %s", Describe(v))
	}
	id, _, err := r.parse(kw)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	e, ok := r.byID[id]
	if !ok {
		r.mu.Unlock()
		return nil, Errorf(UnknownHandle, "unknown handle %s (released or never created)", kw)
	}
	deps := r.removeLocked(id)
	r.mu.Unlock()
	r.settle(deps...)
	return e.obj, nil
}

// Each calls fn for every registered object of kind (all kinds when kind is
// empty). fn runs without the registry lock held.
func (r *Registry) Each(kind string, fn func(obj any)) {
	r.mu.Lock()
	objs := make([]any, 0, len(r.byID))
	for _, e := range r.byID {
		if kind == "" || e.kind == kind {
			objs = append(objs, e.obj)
		}
	}
	r.mu.Unlock()
	for _, o := range objs {
		fn(o)
	}
}

// Len returns the number of registered objects.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// String describes the registry for debugging.
func (r *Registry) String() string {
	return fmt.Sprintf("pod.Registry{ns: %q, objects: %d}", r.ns, r.Len())
}
