package api

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"

	"bbssh/pod"
)

// The debug namespace is a diagnostic, not part of bbssh's API: the load
// tests and the soak run read the pod's own resource figures through it to
// prove that closing sessions, forwards and commands gives back every
// goroutine, file descriptor and handle they took.

// registerDebug adds the diagnostic vars.
func (a *API) registerDebug(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "stats", MinArgs: 0, MaxArgs: 1,
		Doc: "Diagnostic: the pod's resource figures, for leak checks. " +
			"{:goroutines n :fds n :handles n :rss bytes :heap bytes}: live goroutines, open file descriptors " +
			"(entries of /proc/self/fd; -1 where there is none), live registry handles, resident memory " +
			"(-1 where unknown) and live heap. With {:gc true} a garbage collection runs first, so that :heap " +
			"is what is still reachable. E.g. (stats {:gc true}) ;; => {:goroutines 12 :fds 9 :handles 1 ...}",
		Arglists: []string{"[]", "[{:keys [gc]}]"},
		Fn: func(c *pod.Call) (any, error) {
			if c.Args.Len() > 0 {
				m, err := c.Args.Map(0)
				if err != nil {
					return nil, err
				}
				if m.Bool("gc", false) {
					runtime.GC()
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return map[any]any{
				kw("goroutines"): runtime.NumGoroutine(),
				kw("fds"):        openFDs(),
				kw("handles"):    a.reg.Len(),
				kw("rss"):        residentBytes(),
				kw("heap"):       int64(ms.HeapAlloc),
			}, nil
		}})
	ns.Add(&pod.Var{Name: "goroutines", MinArgs: 0, MaxArgs: 0,
		Doc:      "Diagnostic: the stacks of the pod's goroutines, grouped, as text; what a leak check prints when a count is off. E.g. (println (goroutines))",
		Arglists: []string{"[]"},
		Fn: func(c *pod.Call) (any, error) {
			var b strings.Builder
			if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
				return nil, err
			}
			return b.String(), nil
		}})
	ns.Add(&pod.Var{Name: "fds", MinArgs: 0, MaxArgs: 0,
		Doc:      "Diagnostic: what each open file descriptor of the pod is (the targets of /proc/self/fd), sorted. E.g. (fds) ;; => [\"/dev/null\" \"socket:[1234]\" ...]",
		Arglists: []string{"[]"},
		Fn: func(c *pod.Call) (any, error) {
			names, err := os.ReadDir("/proc/self/fd")
			if err != nil {
				return nil, err
			}
			targets := []any{}
			for _, e := range names {
				if t, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
					targets = append(targets, e.Name()+" "+t)
				}
			}
			return targets, nil
		}})
}

// openFDs counts the process's open file descriptors, -1 where /proc is
// missing. Reading the directory opens one descriptor itself, which is
// not counted.
func openFDs() int {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names) - 1
}

// residentBytes is the process's resident set size from
// /proc/self/status, -1 where unknown.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}
