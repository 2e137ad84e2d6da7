package bbssh

import (
	"fmt"
	"strconv"
	"strings"
)

// ForwardKind says which ssh flag a forward spec string belongs to.
type ForwardKind int

// The kinds of forward spec, after ssh's -L, -R and -D flags.
const (
	LocalForward   ForwardKind = iota // ssh -L
	RemoteForward                     // ssh -R
	DynamicForward                    // ssh -D
)

func (k ForwardKind) String() string {
	switch k {
	case RemoteForward:
		return "remote"
	case DynamicForward:
		return "dynamic"
	default:
		return "local"
	}
}

// ParseForwardSpec parses a forward written as OpenSSH's command line
// does, for the flag that kind names:
//
//	-L [bind_address:]port:host:hostport    -L [bind_address:]port:remote_socket
//	-L local_socket:host:hostport           -L local_socket:remote_socket
//	-R [bind_address:]port:host:hostport    -R [bind_address:]port:local_socket
//	-R remote_socket:host:hostport          -R remote_socket:local_socket
//	-R [bind_address:]port                  (dynamic: a SOCKS proxy served from here)
//	-D [bind_address:]port
//
// A field holding a '/' is a unix socket path. IPv6 addresses go in
// brackets ("[::1]:8080:[::1]:80"). An empty bind address (":8080:db:80")
// or "*" means every interface; no bind address means loopback.
// Examples: "8080:db:5432", "127.0.0.1:0:db:5432",
// "0.0.0.0:9000:/var/run/docker.sock", "/tmp/d.sock:/var/run/docker.sock",
// "9000". Errors are of kind KindBadOption and quote the spec.
func ParseForwardSpec(kind ForwardKind, spec string) (ForwardSpec, error) {
	if err := checkLen(kind.String()+" forward spec", spec, MaxPathLen); err != nil {
		return ForwardSpec{}, err
	}
	out, err := parseForwardSpec(kind, spec)
	if err != nil {
		return ForwardSpec{}, errorf(KindBadOption, nil, "bad %s forward spec %q: %s", kind, spec, err)
	}
	if err := out.validateLengths(); err != nil {
		return ForwardSpec{}, err
	}
	return out, nil
}

func parseForwardSpec(kind ForwardKind, spec string) (ForwardSpec, error) {
	out := ForwardSpec{Remote: kind == RemoteForward, Dynamic: kind == DynamicForward}
	for _, r := range spec {
		if r <= ' ' || r == 0x7f {
			return out, fmt.Errorf("it contains a space or control character")
		}
	}
	fields, err := splitSpec(spec)
	if err != nil {
		return out, err
	}
	// listen reads the listening end from fields: a socket path, or an
	// optional bind address and a port.
	listen := func(fs []string) error {
		switch {
		case len(fs) == 1 && isPath(fs[0]):
			out.ListenUnix = fs[0]
			return nil
		case len(fs) == 1:
			out.ListenPort, err = parsePort(fs[0], 0)
			return err
		case len(fs) == 2 && !isPath(fs[0]) && !isPath(fs[1]):
			out.BindAddress = bindAddress(fs[0])
			out.ListenPort, err = parsePort(fs[1], 0)
			return err
		}
		return fmt.Errorf("the listening end must be [bind_address:]port or a socket path")
	}
	// target reads the connecting end: a socket path, or host and port.
	target := func(fs []string) error {
		switch {
		case len(fs) == 1 && isPath(fs[0]):
			out.TargetUnix = fs[0]
			return nil
		case len(fs) == 2 && !isPath(fs[0]) && !isPath(fs[1]):
			if fs[0] == "" {
				return fmt.Errorf("the host is empty")
			}
			out.TargetHost = fs[0]
			out.TargetPort, err = parsePort(fs[1], 1)
			return err
		}
		return fmt.Errorf("the target must be host:hostport or a socket path")
	}
	n := len(fields)
	switch {
	case kind == DynamicForward:
		if n > 2 || isPath(fields[n-1]) {
			return out, fmt.Errorf("want [bind_address:]port")
		}
		return out, listen(fields)
	case kind == RemoteForward && n <= 2 && !isPath(fields[n-1]):
		// -R [bind_address:]port: a remote dynamic forward.
		out.Dynamic = true
		return out, listen(fields)
	case n == 2:
		// port:socket or socket:socket
		if !isPath(fields[1]) {
			return out, fmt.Errorf("want %s", shapes(kind))
		}
		if err := listen(fields[:1]); err != nil {
			return out, err
		}
		return out, target(fields[1:])
	case n == 3 && isPath(fields[0]):
		// socket:host:hostport
		if err := listen(fields[:1]); err != nil {
			return out, err
		}
		return out, target(fields[1:])
	case n == 3 && isPath(fields[2]):
		// bind:port:socket
		if err := listen(fields[:2]); err != nil {
			return out, err
		}
		return out, target(fields[2:])
	case n == 3:
		// port:host:hostport
		if err := listen(fields[:1]); err != nil {
			return out, err
		}
		return out, target(fields[1:])
	case n == 4:
		if err := listen(fields[:2]); err != nil {
			return out, err
		}
		return out, target(fields[2:])
	}
	return out, fmt.Errorf("want %s", shapes(kind))
}

func shapes(kind ForwardKind) string {
	if kind == RemoteForward {
		return "[bind_address:]port:host:hostport, [bind_address:]port:local_socket, remote_socket:host:hostport, remote_socket:local_socket or [bind_address:]port"
	}
	return "[bind_address:]port:host:hostport, [bind_address:]port:remote_socket, local_socket:host:hostport or local_socket:remote_socket"
}

// splitSpec splits spec at colons outside brackets and strips the
// brackets of bracketed fields.
func splitSpec(spec string) ([]string, error) {
	if spec == "" {
		return nil, fmt.Errorf("it is empty")
	}
	var fields []string
	for rest := spec; ; {
		var field string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("an opening bracket is never closed")
			}
			field, rest = rest[1:end], rest[end+1:]
			if field == "" || strings.ContainsAny(field, "[]/") {
				return nil, fmt.Errorf("a bracketed field must hold an address")
			}
			if rest != "" && rest[0] != ':' {
				return nil, fmt.Errorf("a closing bracket must end its field")
			}
		} else {
			end := strings.IndexByte(rest, ':')
			if end < 0 {
				end = len(rest)
			}
			field, rest = rest[:end], rest[end:]
			if strings.ContainsAny(field, "[]") {
				return nil, fmt.Errorf("a bracket in the middle of a field")
			}
		}
		fields = append(fields, field)
		if len(fields) > 4 {
			return nil, fmt.Errorf("it has more than 4 fields (IPv6 addresses go in brackets)")
		}
		if rest == "" {
			return fields, nil
		}
		rest = rest[1:] // the colon
		if rest == "" {
			return nil, fmt.Errorf("it ends with a colon")
		}
	}
}

func isPath(field string) bool { return strings.Contains(field, "/") }

// bindAddress maps OpenSSH's bind address spellings: "" and "*" mean
// every interface.
func bindAddress(field string) string {
	if field == "" {
		return "*"
	}
	return field
}

func parsePort(field string, lowest int) (int, error) {
	if field == "" || strings.TrimLeft(field, "0123456789") != "" || len(field) > 5 {
		return 0, fmt.Errorf("port %q is not a number", field)
	}
	p, _ := strconv.Atoi(field)
	if p < lowest || p > 65535 {
		return 0, fmt.Errorf("port %d is out of range %d-65535", p, lowest)
	}
	return p, nil
}
