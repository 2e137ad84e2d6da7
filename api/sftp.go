package api

import (
	"encoding/base64"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"bbssh/bbssh"
	"bbssh/pod"
)

// sftp vars: one SFTP client per connection, started on first use;
// get/put run in the pod with progress events; small contents travel as
// base64; remote files can also be read and written as streams.

// maxReadAll bounds read-all, which holds the whole file in memory.
const maxReadAll = 64 << 20

// describeEntry renders an SFTP entry for the client.
func describeEntry(e bbssh.SftpEntry) map[any]any {
	typ := "file"
	switch {
	case e.IsDir:
		typ = "directory"
	case e.IsSymlink:
		typ = "symlink"
	case !e.Mode.IsRegular():
		typ = "other"
	}
	return map[any]any{
		kw("name"): e.Name, kw("path"): e.Path, kw("size"): e.Size, kw("type"): kw(typ),
		kw("mode"):  int64(e.Mode.Perm() | e.Mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)),
		kw("mtime"): e.ModTime.Unix(), kw("uid"): e.UID, kw("gid"): e.GID,
	}
}

// remoteFile is an open remote file held by the client through a handle.
type remoteFile struct {
	mu        sync.Mutex
	r         io.ReadCloser
	w         io.WriteCloser
	channeled chan struct{} // closed when a data channel has finished with the file
	conn      net.Conn      // the data channel, while it carries the bytes
	closed    bool
}

// Close closes the data channel, if any, then the file. The channel goes
// first: a copy blocked on a client that neither sends nor reads holds
// the file's lock, and closing the file would wait for it for ever (a
// disconnect with a stream left open hung so).
func (f *remoteFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.conn != nil {
		f.conn.Close()
	}
	if f.r != nil {
		return f.r.Close()
	}
	return f.w.Close()
}

func (a *API) sftpOf(c *pod.Call) (*bbssh.Session, *bbssh.SftpClient, error) {
	s, err := a.session(c.Args.Get(0))
	if err != nil {
		return nil, nil, err
	}
	client, err := s.Sftp()
	if err != nil {
		return nil, nil, engineError(err)
	}
	return s, client, nil
}

// sftpVar adds a plain var whose first argument is the session and
// whose remaining arguments are read by fn.
func (a *API) sftpVar(ns *pod.Namespace, name string, min, max int, arglist, doc string,
	fn func(c *pod.Call, client *bbssh.SftpClient) (any, error)) {
	ns.Add(&pod.Var{Name: name, MinArgs: min, MaxArgs: max, Doc: doc, Arglists: []string{arglist},
		Fn: func(c *pod.Call) (any, error) {
			if err := checkPaths(c, 1); err != nil {
				return nil, err
			}
			_, client, err := a.sftpOf(c)
			if err != nil {
				return nil, err
			}
			v, err := fn(c, client)
			return v, engineError(err)
		}})
}

// checkPaths refuses path arguments (at the indexes given) longer than
// bbssh.MaxPathLen: OpenSSH's sftp-server ends the whole SFTP session,
// with every transfer on it, on a request over 256 KiB.
func checkPaths(c *pod.Call, idx ...int) error {
	for _, i := range idx {
		if p, ok := c.Args.Get(i).(string); ok && len(p) > bbssh.MaxPathLen {
			return badOption("path of %d bytes is too long (at most %d)", len(p), bbssh.MaxPathLen)
		}
	}
	return nil
}

// progressInterval is how often an SFTP copy, whose chunks are small and
// many, reports progress for one file; its first and last figures are
// always reported.
const progressInterval = 100 * time.Millisecond

func throttled(f func(name string, offset, size int64)) func(string, int64, int64) {
	var mu sync.Mutex
	last := map[string]time.Time{}
	return func(name string, offset, size int64) {
		mu.Lock()
		now := time.Now()
		due := offset == 0 || offset >= size || now.Sub(last[name]) >= progressInterval
		if due {
			last[name] = now
		}
		mu.Unlock()
		if due {
			f(name, offset, size)
		}
	}
}

func sftpOptions(m pod.Map) (o bbssh.SftpOptions, progress bool) {
	o.Recursive = m.Bool("recurse?", false)
	o.PreserveTimes = m.Bool("preserve-times?", true)
	o.PreserveMode = m.Bool("preserve-mode?", true)
	return o, m.Bool("progress?", false)
}

func modeArg(c *pod.Call, i int, def int64) (os.FileMode, error) {
	v := c.Args.Get(i)
	if v == nil {
		return os.FileMode(def), nil
	}
	mode, err := pod.AsInt("mode", v)
	if err != nil {
		return 0, err
	}
	if mode < 0 || mode > 0o7777 {
		return 0, badOption("mode must be between 0 and 07777, got %o", mode)
	}
	return os.FileMode(mode), nil
}

func (a *API) registerSftp(ns *pod.Namespace) {
	for _, dir := range []string{"download", "upload"} {
		ns.Add(&pod.Var{Name: dir, MinArgs: 4, MaxArgs: 4,
			Doc: "Copies " + map[string]string{"download": "remote to local", "upload": "local to remote"}[dir] + "; streams {:progress [name offset size]} (at most every 100 ms per file) when :progress? is set. " +
				map[string]string{"download": "E.g. (download s \"logs\" \"/tmp/logs\" {:recurse? true})", "upload": "E.g. (upload s \"dist\" \"releases/dist\" {:recurse? true})"}[dir],
			Arglists: []string{"[session from to opts]"},
			Stream: func(c *pod.Call) error {
				if err := checkPaths(c, 1, 2); err != nil {
					return err
				}
				s, client, err := a.sftpOf(c)
				if err != nil {
					return err
				}
				from, err := c.Args.String(1)
				if err != nil {
					return err
				}
				to, err := c.Args.String(2)
				if err != nil {
					return err
				}
				m, err := c.Args.Map(3)
				if err != nil {
					return err
				}
				o, progress := sftpOptions(m)
				progressEvents(c, progress, func(f func(string, int64, int64)) { o.Progress = throttled(f) })
				dead := s.Done()
				if dir == "download" {
					return engineError(s.LostDuring(dead, client.Get(c.Ctx, from, to, o)))
				}
				return engineError(s.LostDuring(dead, client.Put(c.Ctx, from, to, o)))
			}})
	}
	a.sftpVar(ns, "stat", 2, 2, "[session path]", "The attributes of path, following symlinks. E.g. (stat s \"apps/app.jar\") ;; => {:type :file :size 1234 :mode 0644 ...}",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			e, err := client.Stat(p)
			if err != nil {
				return nil, err
			}
			return describeEntry(e), nil
		})
	a.sftpVar(ns, "lstat", 2, 2, "[session path]", "The attributes of path itself (a symlink is not followed). E.g. (lstat s \"current\")",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			e, err := client.Lstat(p)
			if err != nil {
				return nil, err
			}
			return describeEntry(e), nil
		})
	a.sftpVar(ns, "ls", 2, 2, "[session path]", "The entries of a directory, sorted by name, with attributes. E.g. (ls s \"apps\")",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			entries, err := client.Ls(p)
			if err != nil {
				return nil, err
			}
			out := []any{}
			for _, e := range entries {
				out = append(out, describeEntry(e))
			}
			return out, nil
		})
	a.sftpVar(ns, "mkdir", 4, 4, "[session path mode parents?]", "Makes a directory (with its parents when parents? is true). E.g. (mkdir s \"a/b/c\" 0755 true)",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			mode, err := modeArg(c, 2, 0o755)
			if err != nil {
				return nil, err
			}
			parents, _ := c.Args.Get(3).(bool)
			return nil, client.Mkdir(p, mode, parents)
		})
	a.sftpVar(ns, "rm", 2, 2, "[session path]", "Removes a file. E.g. (rm s \"apps/old.jar\")",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			return nil, client.Remove(p)
		})
	a.sftpVar(ns, "rmdir", 3, 3, "[session path recursive?]", "Removes a directory (and everything in it when recursive? is true). E.g. (rmdir s \"build-cache\" true)",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			recursive, _ := c.Args.Get(2).(bool)
			return nil, client.RemoveDir(p, recursive)
		})
	a.sftpVar(ns, "rename", 3, 3, "[session from to]", "Renames (moves) a remote path. E.g. (rename s \"a.txt\" \"b.txt\")",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			if err := checkPaths(c, 2); err != nil {
				return nil, err
			}
			from, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			to, err := c.Args.String(2)
			if err != nil {
				return nil, err
			}
			return nil, client.Rename(from, to)
		})
	a.sftpVar(ns, "chmod", 3, 3, "[session path mode]", "Changes the mode of a remote path. E.g. (chmod s \"run.sh\" 0755)",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			mode, err := modeArg(c, 2, 0)
			if err != nil {
				return nil, err
			}
			return nil, client.Chmod(p, mode)
		})
	a.sftpVar(ns, "read-all", 2, 2, "[session path]", "The whole content of a remote file (at most 64 MiB), as base64. E.g. (read-all s \"notes.txt\") ;; => \"aGkK\"",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			data, err := client.ReadAll(p, maxReadAll)
			if err != nil {
				return nil, err
			}
			return base64.StdEncoding.EncodeToString(data), nil
		})
	a.sftpVar(ns, "write", 4, 4, "[session path base64 mode]", "Writes a remote file with the given content (replacing it). E.g. (write s \"notes.txt\" \"aGkK\" 0644)",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			data, err := bytesArg(c, 2)
			if err != nil {
				return nil, err
			}
			mode, err := modeArg(c, 3, 0o644)
			if err != nil {
				return nil, err
			}
			return nil, client.WriteFile(p, data, mode)
		})
	a.sftpVar(ns, "open", 4, 4, "[session path direction mode]", "Opens a remote file as a stream: direction :read or :write (created or truncated with mode); returns a handle. E.g. (open s \"logs/app.log\" :read 0)",
		func(c *pod.Call, client *bbssh.SftpClient) (any, error) {
			s, _ := a.session(c.Args.Get(0))
			p, err := c.Args.String(1)
			if err != nil {
				return nil, err
			}
			dir, err := pod.AsKeyword("direction", c.Args.Get(2))
			if err != nil {
				return nil, err
			}
			mode, err := modeArg(c, 3, 0o644)
			if err != nil {
				return nil, err
			}
			f := &remoteFile{}
			switch dir {
			case "read":
				f.r, err = client.Open(p)
			case "write":
				f.w, err = client.Create(p, mode)
			default:
				return nil, badOption("direction must be :read or :write, got :%s", dir)
			}
			if err != nil {
				return nil, err
			}
			h := a.reg.Put("remote-file", f)
			a.own(s, h)
			return h, nil
		})
	ns.Add(&pod.Var{Name: "file-channel", MinArgs: 1, MaxArgs: 1,
		Doc:      "Offers an open remote file on a loopback data channel: returns {:port :token}; the socket then carries the file's bytes (read: to the client; write: from it). Close with file-close, which waits for the channel to finish. E.g. (file-channel f) ;; => {:port 40123 :token \"9f...\"}",
		Arglists: []string{"[file]"},
		Fn: func(c *pod.Call) (any, error) {
			f, err := a.remoteFile(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.channeled != nil {
				return nil, badOption("the file already has a data channel")
			}
			done := make(chan struct{})
			f.channeled = done
			if f.r != nil {
				return offerDataChannel(func(conn net.Conn) {
					defer close(done)
					if f.carry(conn) {
						// No draining when the client stops early: a file,
						// unlike a command, is not blocked by unread bytes.
						io.CopyBuffer(conn, f.r, make([]byte, dataChannelBuf))
					}
				}, func() { close(done) })
			}
			return offerDataChannel(func(conn net.Conn) {
				defer close(done)
				if f.carry(conn) {
					io.CopyBuffer(f.w, conn, make([]byte, dataChannelBuf))
				}
			}, func() { close(done) })
		}})
	ns.Add(&pod.Var{Name: "file-read", MinArgs: 2, MaxArgs: 2,
		Doc:      "Reads up to n bytes (at most 1 MiB) from a remote file opened for :read; base64, or nil at the end. E.g. (file-read f 65536)",
		Arglists: []string{"[file n]"},
		Fn: func(c *pod.Call) (any, error) {
			f, err := a.remoteFile(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			n, err := c.Args.Int(1)
			if err != nil {
				return nil, err
			}
			if f.r == nil || n < 1 {
				return nil, badOption("file-read needs a file opened for :read and n >= 1")
			}
			buf := make([]byte, min(n, maxRead))
			f.mu.Lock()
			defer f.mu.Unlock()
			k, err := io.ReadFull(f.r, buf)
			if k > 0 {
				return base64.StdEncoding.EncodeToString(buf[:k]), nil
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, nil
			}
			return nil, engineError(err)
		}})
	ns.Add(&pod.Var{Name: "file-write", MinArgs: 2, MaxArgs: 2,
		Doc:      "Writes base64 bytes to a remote file opened for :write. E.g. (file-write f \"aGkK\")",
		Arglists: []string{"[file base64]"},
		Fn: func(c *pod.Call) (any, error) {
			f, err := a.remoteFile(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			data, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			if f.w == nil {
				return nil, badOption("file-write needs a file opened for :write")
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			_, err = f.w.Write(data)
			return nil, engineError(err)
		}})
	ns.Add(&pod.Var{Name: "file-close", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes a remote file (a written one is complete once this returns) and frees its handle. E.g. (file-close f)",
		Arglists: []string{"[file]"},
		Fn: func(c *pod.Call) (any, error) {
			obj, err := a.reg.Release(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			f := obj.(*remoteFile)
			f.mu.Lock()
			done := f.channeled
			f.mu.Unlock()
			// A written file is complete only once the channel has
			// delivered everything the client sent.
			awaitChannel(done)
			return nil, engineError(f.Close())
		}})
}

// carry records conn as the file's data channel; false when the file is
// already closed.
func (f *remoteFile) carry(conn net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conn = conn
	return !f.closed
}

func (a *API) remoteFile(v any) (*remoteFile, error) {
	obj, err := a.reg.Get("remote-file", v)
	if err != nil {
		return nil, err
	}
	return obj.(*remoteFile), nil
}
