package api

import (
	"encoding/base64"
	"sync"

	"bbssh/pod"
)

// The lower-level namespaces of bbssh 0.6 (agent, key-pair, host-key,
// host-key-repository, identity, identity-repository, ssh-agent, config,
// config-repository): scripts that go below core/session build sessions
// from these parts.

// lowerState is what the lower-level namespaces share: the routing of
// answers to objects implemented in the script, and the defaults
// agent/set-config and agent/set-debug-fn give new sessions.
type lowerState struct {
	hub callbackHub

	mu       sync.Mutex
	defaults map[string]string // agent/set-config, by normalised key
	debugLog pod.Handle        // agent/set-debug-fn's logger, "" when none
}

func newLowerState() lowerState {
	return lowerState{hub: callbackHub{pending: map[string]chan callbackResult{}}, defaults: map[string]string{}}
}

// registerLower adds the pod vars of the lower-level namespaces.
func (a *API) registerLower(srv *pod.Server) {
	ns := func(name string) *pod.Namespace { return srv.Namespace("pod.epiccastle.bbssh.pod." + name) }
	a.registerKeyPair(ns("key-pair"))
	a.registerHostKey(ns("host-key"))
	a.registerHostKeyRepo(ns("host-key-repository"))
	a.registerConfig(ns("config"), ns("config-repository"))
	a.registerIdentity(ns("identity"), ns("identity-repository"))
	a.registerSSHAgent(ns("ssh-agent"))
	a.registerAgent(ns("agent"), ns("session"))
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
