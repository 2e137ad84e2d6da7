// Package resources holds what the pod ships as data: the client-side
// Clojure namespaces sent in describe, and the version.
package resources

import (
	"embed"
	"strings"
)

//go:embed BBSSH_VERSION pod
var files embed.FS

// Version is the pod's version, e.g. "0.1.0".
var Version = strings.TrimSpace(mustRead("BBSSH_VERSION"))

// ClientNamespace is one client-side namespace and its source.
type ClientNamespace struct {
	Name string
	Code string
}

// clientOrder lists the client namespaces in load order: each may require
// only the ones before it.
var clientOrder = []string{
	"pod.epiccastle.bbssh.impl.utils",
	"pod.epiccastle.bbssh.impl.cleaner",
	"pod.epiccastle.bbssh.impl.invoker",
	"pod.epiccastle.bbssh.terminal",
	"pod.epiccastle.bbssh.user-info",
	"pod.epiccastle.bbssh.session",
	"pod.epiccastle.bbssh.input-stream",
	"pod.epiccastle.bbssh.output-stream",
	"pod.epiccastle.bbssh.byte-array-input-stream",
	"pod.epiccastle.bbssh.byte-array-output-stream",
	"pod.epiccastle.bbssh.channel-exec",
	"pod.epiccastle.bbssh.core",
	"pod.epiccastle.bbssh.scp",
	"pod.epiccastle.bbssh.sftp",
	"pod.epiccastle.bbssh.key-pair",
	"pod.epiccastle.bbssh.host-key",
	"pod.epiccastle.bbssh.impl.callbacks",
	"pod.epiccastle.bbssh.host-key-repository",
	"pod.epiccastle.bbssh.known-hosts",
	"pod.epiccastle.bbssh.identity",
	"pod.epiccastle.bbssh.identity-repository",
	"pod.epiccastle.bbssh.ssh-agent",
	"pod.epiccastle.bbssh.config",
	"pod.epiccastle.bbssh.config-repository",
	"pod.epiccastle.bbssh.agent",
}

// ClientNamespaces returns the client-side namespaces in load order.
func ClientNamespaces() []ClientNamespace {
	out := make([]ClientNamespace, 0, len(clientOrder))
	for _, ns := range clientOrder {
		out = append(out, ClientNamespace{Name: ns, Code: mustRead(nsPath(ns))})
	}
	return out
}

// nsPath maps a namespace to its file, as Clojure does.
func nsPath(ns string) string {
	return strings.ReplaceAll(strings.ReplaceAll(ns, ".", "/"), "-", "_") + ".clj"
}

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("resources: missing embedded file " + name)
	}
	return string(b)
}
