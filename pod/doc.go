// Package pod implements the babashka pod protocol: bencode framing over a
// byte stream, the describe, invoke, load-ns and shutdown operations, EDN
// payloads, asynchronous replies, out/err messages, error replies with
// ex-data, the stdio and socket transports, and a registry that gives Go
// objects stable integer handles.
//
// The package knows nothing of SSH. A program registers Vars (a name, its
// arity and a Go function) in namespaces, then serves:
//
//	srv := pod.NewServer(pod.Options{ID: "pod.example"})
//	srv.Namespace("pod.example.core").Func("add", 2, 2, doc, func(c *pod.Call) (any, error) {
//		a, err := c.Args.Int(0)
//		...
//	})
//	err := srv.Serve(ctx, conn) // returns on shutdown or when the client goes away
//
// See https://github.com/babashka/pods for the protocol.
package pod
