package bbssh

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// resolve completes o from the OpenSSH client config for o.Host, the way
// ssh does: what o sets explicitly wins, the file fills in the rest. It
// also returns what the file says, for its forwards.
func (o Options) resolve() (Options, HostConfig, error) {
	var hc HostConfig
	if o.NoConfig {
		return o, hc, nil
	}
	path := o.ConfigFile
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return o, hc, nil
		}
		path = filepath.Join(home, ".ssh", "config")
	}
	localUser := ""
	if u, err := user.Current(); err == nil {
		localUser = u.Username
	}
	var err error
	if o.ConfigSource != nil {
		hc, err = o.ConfigSource.HostConfig(o.Host, localUser)
	} else {
		hc, err = ReadSSHConfig(expandHome(path), o.Host, localUser)
	}
	if o.ConfigFile == "" && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
		// As ssh, a default config it cannot open is no config.
		return o, HostConfig{}, nil
	}
	if err != nil {
		return o, hc, err
	}
	for _, w := range hc.Warnings {
		if o.Messages != nil {
			fmt.Fprintf(o.Messages, "bbssh: %s\n", w)
		}
	}
	if hc.HostName != "" {
		o.Host = hc.HostName
	}
	if o.Port == 0 {
		o.Port = hc.Port
	}
	if o.User == "" {
		o.User = hc.User
	}
	o.IdentityFiles = append(slices.Clone(o.IdentityFiles), hc.IdentityFiles...)
	if hc.IdentitiesOnly != nil && *hc.IdentitiesOnly {
		o.NoDefaultIdentities = true
	}
	if o.KnownHosts == nil && hc.UserKnownHostsFiles != nil {
		o.KnownHosts = hc.UserKnownHostsFiles
	}
	if o.HostKeyPolicy.Strict == "" {
		o.HostKeyPolicy.Strict = hc.StrictHostKeyChecking
	}
	if o.Proxy == nil && o.ProxyCommand == "" && o.JumpHosts == nil && o.Via == nil {
		o.JumpHosts, o.ProxyCommand = hc.ProxyJump, hc.ProxyCommand
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = hc.ConnectTimeout
	}
	if o.ConnectionAttempts == 0 {
		o.ConnectionAttempts = hc.ConnectionAttempts
	}
	if o.KeepaliveInterval == 0 {
		o.KeepaliveInterval = hc.ServerAliveInterval
	}
	if o.KeepaliveCountMax == 0 {
		o.KeepaliveCountMax = hc.ServerAliveCountMax
	}
	for _, a := range []struct {
		field *[]string
		value string
	}{
		{&o.Algorithms.Ciphers, hc.Ciphers},
		{&o.Algorithms.KeyExchanges, hc.KexAlgorithms},
		{&o.Algorithms.MACs, hc.MACs},
		{&o.Algorithms.HostKeys, hc.HostKeyAlgorithms},
	} {
		if len(*a.field) == 0 && a.value != "" {
			*a.field = splitList(a.value)
		}
	}
	return o, hc, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// expand turns OpenSSH-style changes of the defaults ("+a,b" appends,
// "-a" removes, "^a" puts first) into full lists.
func (a Algorithms) expand() Algorithms {
	sup := ssh.SupportedAlgorithms()
	a.KeyExchanges = expandAlgorithms(a.KeyExchanges, sup.KeyExchanges)
	a.Ciphers = expandAlgorithms(a.Ciphers, sup.Ciphers)
	a.MACs = expandAlgorithms(a.MACs, sup.MACs)
	a.HostKeys = expandAlgorithms(a.HostKeys, sup.HostKeys)
	return a
}

func expandAlgorithms(list, defaults []string) []string {
	if len(list) == 0 || list[0] == "" || !strings.ContainsRune("+-^", rune(list[0][0])) {
		return list
	}
	op := list[0][0]
	items := slices.Clone(list)
	items[0] = items[0][1:]
	switch op {
	case '+':
		out := slices.Clone(defaults)
		for _, it := range items {
			if !slices.Contains(out, it) {
				out = append(out, it)
			}
		}
		return out
	case '-':
		return slices.DeleteFunc(slices.Clone(defaults), func(d string) bool { return slices.Contains(items, d) })
	default: // '^'
		rest := slices.DeleteFunc(slices.Clone(defaults), func(d string) bool { return slices.Contains(items, d) })
		return append(items, rest...)
	}
}
