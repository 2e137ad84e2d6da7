// Package bbssh is the SSH engine of the bbssh pod: sessions, auth, host
// keys, remote commands and forwarding, on golang.org/x/crypto/ssh. It knows
// nothing of the pod protocol; the api package binds it to pod vars.
//
//	s := bbssh.NewSession(bbssh.Options{Host: "127.0.0.1", Port: 2222, User: "me",
//		IdentityFiles: []string{"/home/me/.ssh/id_ed25519"}})
//	if err := s.Connect(ctx); err != nil { ... }
//	defer s.Close()
//	p, err := s.Exec(ctx, bbssh.ExecOptions{Command: "echo hi", Stdout: bbssh.Capture})
//	res, err := p.Wait(ctx) // res.ExitCode, res.Stdout
package bbssh
