package api

import "bbssh/pod"

// The lower-level namespaces of bbssh 0.6 (agent, key-pair, host-key,
// host-key-repository, identity, identity-repository, ssh-agent, config,
// config-repository): scripts that go below core/session build sessions
// from these parts.

// registerLower adds the pod vars of the lower-level namespaces.
func (a *API) registerLower(srv *pod.Server) {
	ns := func(name string) *pod.Namespace { return srv.Namespace("pod.epiccastle.bbssh.pod." + name) }
	a.registerKeyPair(ns("key-pair"))
	a.registerHostKey(ns("host-key"))
}
