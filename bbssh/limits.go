package bbssh

// Limits on strings that travel in one SSH request. A request larger than
// the server's maximum packet (256 KiB for OpenSSH) makes the server drop
// the whole connection, with every command and forward on it, so such
// strings are refused before anything is sent, by an error naming them.
const (
	// MaxCommandLen bounds a command line and each NAME=value of its
	// environment: a POSIX server runs the command as one argument of
	// the user's shell, and Linux takes no argument of 128 KiB or more.
	MaxCommandLen = 128<<10 - 1
	// MaxHostLen bounds host names, addresses, user names and terminal
	// types (DNS names have at most 253 characters).
	MaxHostLen = 1024
	// MaxPathLen bounds unix socket paths (PATH_MAX) and spec strings.
	MaxPathLen = 4096
)

// checkLen reports a string longer than max as a KindBadOption error
// naming what, without quoting the long value.
func checkLen(what, s string, max int) error {
	if len(s) > max {
		return errorf(KindBadOption, nil, "%s of %d bytes is too long (at most %d)", what, len(s), max)
	}
	return nil
}
