package api

import (
	"errors"

	"bbssh/bbssh"
	"bbssh/pod"
)

// bbssh 0.6's terminal namespace: the pod shares babashka's terminal, so
// it can report the terminal's size and switch it into raw mode for a
// script that reads keys (raw-mode-readline, in the client code).

// rawTerminal is the controlling terminal; the process has one, so the
// mode is process-wide. Close restores it.
var rawTerminal bbssh.RawTerminal

func noTerminal(err error) error {
	return pod.Errorf(ErrorNS+"/no-terminal", "%v", err)
}

// quietArg reads the optional quiet argument: 0, nil or false is loud.
func quietArg(c *pod.Call) bool {
	switch v := c.Args.Get(0).(type) {
	case int64:
		return v != 0
	case bool:
		return v
	}
	return false
}

func (a *API) registerTerminal(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "is-terminal?", MinArgs: 0, MaxArgs: 0,
		Doc:      "True when the client's standard output is a terminal. E.g. (is-terminal?) ;; => true",
		Arglists: []string{"[]"},
		Fn:       func(c *pod.Call) (any, error) { return bbssh.ClientStdoutIsTerminal(), nil }})
	ns.Add(&pod.Var{Name: "get-width", MinArgs: 0, MaxArgs: 0,
		Doc:      "The terminal's width in characters; 0 without a terminal. E.g. (get-width) ;; => 120",
		Arglists: []string{"[]"},
		Fn: func(c *pod.Call) (any, error) {
			cols, _, _ := bbssh.TerminalSize()
			return cols, nil
		}})
	ns.Add(&pod.Var{Name: "get-height", MinArgs: 0, MaxArgs: 0,
		Doc:      "The terminal's height in lines; 0 without a terminal. E.g. (get-height) ;; => 40",
		Arglists: []string{"[]"},
		Fn: func(c *pod.Call) (any, error) {
			_, rows, _ := bbssh.TerminalSize()
			return rows, nil
		}})
	ns.Add(&pod.Var{Name: "enter-raw-mode", MinArgs: 0, MaxArgs: 1,
		Doc: "Puts the terminal in raw mode (no echo, no line editing, Ctrl-C as a byte); returns true. Without a terminal it throws " +
			":bbssh/no-terminal, or returns false when quiet is non-zero. E.g. (enter-raw-mode 0)",
		Arglists: []string{"[]", "[quiet]"},
		Fn: func(c *pod.Call) (any, error) {
			if err := rawTerminal.Enter(); err != nil {
				if quietArg(c) && errors.Is(err, bbssh.ErrNoTerminal) {
					return false, nil
				}
				return nil, noTerminal(err)
			}
			return true, nil
		}})
	ns.Add(&pod.Var{Name: "leave-raw-mode", MinArgs: 0, MaxArgs: 1,
		Doc:      "Restores the terminal's mode from before enter-raw-mode; does nothing when it is not raw. E.g. (leave-raw-mode 0)",
		Arglists: []string{"[]", "[quiet]"},
		Fn: func(c *pod.Call) (any, error) {
			if err := rawTerminal.Leave(); err != nil && !quietArg(c) {
				return nil, noTerminal(err)
			}
			return nil, nil
		}})
}
