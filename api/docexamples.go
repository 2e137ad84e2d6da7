package api

import "bbssh/bbssh"

// kindExample is an OpenSSH spec string of each forward kind, for the
// examples in the forward vars' docstrings.
var kindExample = map[bbssh.ForwardKind]string{
	bbssh.LocalForward:   "8080:db:5432",
	bbssh.RemoteForward:  "8080:localhost:3000",
	bbssh.DynamicForward: "1080",
}
