package bbssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Error kinds for SFTP operations.
const (
	KindNotFound   Kind = "not-found"
	KindPermission Kind = "permission-denied"
	KindExists     Kind = "already-exists"
	KindSftp       Kind = "sftp-failed"
)

// SFTP status codes beyond the three the sftp package exports as errors;
// newer protocol versions define them and some servers send them anyway.
const (
	sshFxNoSuchFile       = 2
	sshFxPermissionDenied = 3
	sshFxNoSuchPath       = 10
	sshFxFileExists       = 11
	sshFxWriteProtect     = 12
)

// SftpClient is an SFTP session over one SSH connection. It is safe for
// concurrent use; it holds no state beyond the session.
type SftpClient struct {
	sc      *sftp.Client
	sess    *ssh.Session // nil when built over a pipe
	release func()       // gives back the channel's place under the server's limit; may be nil
}

// sftpClientOptions are the options every SftpClient uses: requests of
// requestSize bytes (sftplimits.go), and pipelined reads and writes, so
// that File.WriteTo and File.ReadFrom keep sftpInFlight bytes of requests
// in flight instead of paying one round trip per request. 16 MiB in
// flight let a transfer fill a receive window grown to the path
// (window.go): pkg/sftp's default of 64 requests of 32 KiB (2 MiB) is the
// same one-window-per-round-trip wall as a fixed window.
func sftpClientOptions(requestSize int) []sftp.ClientOption {
	return []sftp.ClientOption{
		sftp.MaxPacketUnchecked(requestSize),
		sftp.UseConcurrentReads(true),
		sftp.UseConcurrentWrites(true),
		sftp.MaxConcurrentRequestsPerFile(min(max(sftpInFlight/requestSize, 1), sftpMaxRequests)),
	}
}

// sftpInFlight is the number of bytes of requests one file transfer keeps
// in flight (fetch, for downloads of regular files, keeps fetchInFlight),
// in at most sftpMaxRequests requests (a server that takes only small
// ones gets fewer bytes in flight rather than thousands of requests).
const (
	sftpInFlight    = 16 << 20
	sftpMaxRequests = 1024
)

// NewSftpClient starts the sftp subsystem on client, with concurrent reads
// and writes enabled for speed. The session is opened here rather than by
// sftp.NewClient so that it is closed again when the subsystem is refused.
func NewSftpClient(client *ssh.Client) (*SftpClient, error) {
	if client == nil {
		return nil, errorf(KindBadOption, nil, "sftp: no ssh client")
	}
	sess, err := client.NewSession()
	if err != nil {
		return nil, errorf(KindSftp, err, "sftp: open session")
	}
	return startSftp(sess)
}

// startSftp starts the sftp subsystem on a new session channel, which it
// closes when the subsystem does not start.
func startSftp(sess *ssh.Session) (*SftpClient, error) {
	w, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, errorf(KindSftp, err, "sftp: open session")
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, errorf(KindSftp, err, "sftp: open session")
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		sess.Close()
		return nil, errorf(KindSftp, err, "sftp: start subsystem")
	}
	sc, _, err := newSftpClient(r, w)
	if err != nil {
		sess.Close()
		return nil, errorf(KindSftp, err, "sftp: start subsystem: the server did not answer as an sftp server (a ForceCommand, or a login script that prints)")
	}
	return &SftpClient{sc: sc, sess: sess}, nil
}

// newSftpClient starts SFTP on r and w: the handshake, with the server's
// limits, then pkg/sftp with requests as large as they allow. It returns
// the request size too.
func newSftpClient(r io.Reader, w io.WriteCloser) (*sftp.Client, int, error) {
	version, lim, err := sftpHandshake(r, w)
	if err != nil {
		w.Close()
		return nil, 0, err
	}
	size := sftpRequestSize(lim)
	rw := newSftpReplay(r, w, version)
	sc, err := sftp.NewClientPipe(rw, rw, sftpClientOptions(size)...)
	return sc, size, err
}

// newSftpClientPipe builds an SftpClient over a reader and writer that
// speak the SFTP protocol, such as pipes to an in-process sftp.Server.
func newSftpClientPipe(r io.Reader, w io.WriteCloser) (*SftpClient, error) {
	sc, _, err := newSftpClient(r, w)
	if err != nil {
		return nil, errorf(KindSftp, err, "sftp: start")
	}
	return &SftpClient{sc: sc}, nil
}

// Close ends the SFTP session. The SSH connection stays open.
func (c *SftpClient) Close() error {
	err := c.sc.Close()
	if c.sess != nil {
		c.sess.Close()
	}
	if c.release != nil {
		c.release()
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
		return errorf(KindSftp, err, "sftp close")
	}
	return nil
}

// SftpEntry describes one remote file.
type SftpEntry struct {
	Name      string      // base name
	Path      string      // full remote path
	Size      int64       // bytes
	Mode      os.FileMode // permission bits and type bits
	ModTime   time.Time   // second precision
	IsDir     bool
	IsSymlink bool
	UID, GID  int
}

func entryOf(fi os.FileInfo, p string) SftpEntry {
	e := SftpEntry{
		Name:      fi.Name(),
		Path:      p,
		Size:      fi.Size(),
		Mode:      fi.Mode(),
		ModTime:   fi.ModTime(),
		IsDir:     fi.IsDir(),
		IsSymlink: fi.Mode()&os.ModeSymlink != 0,
	}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		e.UID, e.GID = int(st.UID), int(st.GID)
	}
	return e
}

// Stat describes path, following symlinks.
func (c *SftpClient) Stat(p string) (SftpEntry, error) {
	fi, err := c.sc.Stat(p)
	if err != nil {
		return SftpEntry{}, sftpError("stat", p, err)
	}
	return entryOf(fi, p), nil
}

// Lstat describes path; a symlink is described itself, not its target.
func (c *SftpClient) Lstat(p string) (SftpEntry, error) {
	fi, err := c.sc.Lstat(p)
	if err != nil {
		return SftpEntry{}, sftpError("lstat", p, err)
	}
	return entryOf(fi, p), nil
}

// Ls lists the directory p, sorted by name, without "." and "..". Like ls,
// a p that is not a directory gives a list of just itself. Entries are
// described as by Lstat.
func (c *SftpClient) Ls(p string) ([]SftpEntry, error) {
	e, err := c.Stat(p)
	if err != nil {
		return nil, err
	}
	if !e.IsDir {
		return []SftpEntry{e}, nil
	}
	fis, err := c.sc.ReadDir(p)
	if err != nil {
		return nil, sftpError("ls", p, err)
	}
	out := make([]SftpEntry, 0, len(fis))
	for _, fi := range fis {
		out = append(out, entryOf(fi, path.Join(p, fi.Name())))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Mkdir creates the directory p. With parents it acts like mkdir -p:
// missing parents are made and an existing directory is not an error (nor
// is its mode changed). A nonzero mode is applied with a chmod after
// creation, so it is not subject to the server's umask.
func (c *SftpClient) Mkdir(p string, mode os.FileMode, parents bool) error {
	if p == "" {
		return errorf(KindBadOption, nil, "sftp mkdir: empty path")
	}
	if parents {
		if fi, err := c.sc.Stat(p); err == nil {
			if fi.IsDir() {
				return nil
			}
			return errorf(KindExists, nil, "sftp mkdir %s: exists and is not a directory", p)
		}
		if err := c.sc.MkdirAll(p); err != nil {
			return sftpError("mkdir", p, err)
		}
	} else if err := c.sc.Mkdir(p); err != nil {
		// SFTP v3 has no "exists" status; OpenSSH says only "failure".
		if _, lerr := c.sc.Lstat(p); lerr == nil {
			return errorf(KindExists, fs.ErrExist, "sftp mkdir %s", p)
		}
		return sftpError("mkdir", p, err)
	}
	if mode != 0 {
		return c.Chmod(p, mode)
	}
	return nil
}

// Remove removes the file (or symlink) p; it refuses a directory.
func (c *SftpClient) Remove(p string) error {
	fi, err := c.sc.Lstat(p)
	if err != nil {
		return sftpError("remove", p, err)
	}
	if fi.IsDir() {
		return errorf(KindSftp, nil, "sftp remove %s: is a directory", p)
	}
	if err := c.sc.Remove(p); err != nil {
		return sftpError("remove", p, err)
	}
	return nil
}

// RemoveDir removes the directory p, which must be empty unless recursive.
// A recursive removal does not follow symlinks: they are removed, not
// their targets.
func (c *SftpClient) RemoveDir(p string, recursive bool) error {
	fi, err := c.sc.Lstat(p)
	if err != nil {
		return sftpError("rmdir", p, err)
	}
	if !fi.IsDir() {
		return errorf(KindSftp, nil, "sftp rmdir %s: not a directory", p)
	}
	if recursive {
		fis, err := c.sc.ReadDir(p)
		if err != nil {
			return sftpError("rmdir", p, err)
		}
		for _, fi := range fis {
			if !safeName(fi.Name()) {
				continue
			}
			child := path.Join(p, fi.Name())
			if fi.IsDir() {
				err = c.RemoveDir(child, true)
			} else if err = c.sc.Remove(child); err != nil {
				err = sftpError("remove", child, err)
			}
			if err != nil {
				return err
			}
		}
	}
	if err := c.sc.RemoveDirectory(p); err != nil {
		return sftpError("rmdir", p, err)
	}
	return nil
}

// Rename renames from to to. When the server has the
// posix-rename@openssh.com extension an existing to is replaced
// atomically; otherwise the plain SFTP rename fails if to exists.
func (c *SftpClient) Rename(from, to string) error {
	var err error
	if _, ok := c.sc.HasExtension("posix-rename@openssh.com"); ok {
		err = c.sc.PosixRename(from, to)
	} else {
		err = c.sc.Rename(from, to)
	}
	if err != nil {
		return sftpError("rename", from+" to "+to, err)
	}
	return nil
}

// Chmod sets the permission bits of p, including setuid, setgid and
// sticky, which may be given either as os.ModeSetuid and so on or as the
// Unix bits 04000, 02000 and 01000 (so os.FileMode(0o4755) works); other
// bits of mode are ignored.
func (c *SftpClient) Chmod(p string, mode os.FileMode) error {
	if err := c.sc.Chmod(p, chmodBits(mode)); err != nil {
		return sftpError("chmod", p, err)
	}
	return nil
}

// chmodBits keeps the bits of mode that chmod sets, as an os.FileMode:
// the special bits may come as Go's flags or as raw 07000 bits.
func chmodBits(mode os.FileMode) os.FileMode {
	return scpFileMode(uint32(mode&0o7777)) | mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
}

var errTooLarge = errors.New("file too large")

// capBuffer collects at most limit bytes, then fails.
type capBuffer struct {
	buf   bytes.Buffer
	limit int64
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if b.limit > 0 && int64(b.buf.Len())+int64(len(p)) > b.limit {
		return 0, errTooLarge
	}
	return b.buf.Write(p)
}

// ReadAll reads the whole remote file p. It fails, without reading the
// rest, when the file is larger than limit bytes; limit <= 0 means no
// limit.
func (c *SftpClient) ReadAll(p string, limit int64) ([]byte, error) {
	f, err := c.sc.Open(p)
	if err != nil {
		return nil, sftpError("read", p, err)
	}
	defer f.Close()
	b := &capBuffer{limit: limit}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && (limit <= 0 || fi.Size() <= limit) {
		b.buf.Grow(int(fi.Size()))
	}
	if _, err := f.WriteTo(b); err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, errorf(KindSftp, nil, "sftp read %s: larger than the limit of %d bytes", p, limit)
		}
		return nil, sftpError("read", p, err)
	}
	return b.buf.Bytes(), nil
}

// WriteFile creates or truncates the remote file p and writes data to it.
// A nonzero mode is applied before the data is written.
func (c *SftpClient) WriteFile(p string, data []byte, mode os.FileMode) error {
	w, err := c.Create(p, mode)
	if err != nil {
		return err
	}
	if _, err := w.(io.ReaderFrom).ReadFrom(bytes.NewReader(data)); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// sftpReader is a remote file open for reading whose errors are *Error.
// Its WriteTo keeps io.Copy on the pipelined path.
type sftpReader struct {
	f *sftp.File
	p string
}

func (r *sftpReader) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	if err != nil && err != io.EOF {
		err = sftpError("read", r.p, err)
	}
	return n, err
}

func (r *sftpReader) WriteTo(w io.Writer) (int64, error) {
	n, err := r.f.WriteTo(w)
	if err != nil {
		err = sftpError("read", r.p, err)
	}
	return n, err
}

func (r *sftpReader) Close() error {
	if err := r.f.Close(); err != nil {
		return sftpError("close", r.p, err)
	}
	return nil
}

// Open opens the remote file p for a streaming read. The reader
// implements io.WriterTo, so io.Copy from it pipelines requests.
func (c *SftpClient) Open(p string) (io.ReadCloser, error) {
	f, err := c.sc.Open(p)
	if err != nil {
		return nil, sftpError("open", p, err)
	}
	return &sftpReader{f: f, p: p}, nil
}

// sftpWriter is a remote file open for writing whose errors are *Error.
// Its ReadFrom keeps io.Copy on the pipelined path.
type sftpWriter struct {
	f *sftp.File
	p string
}

func (w *sftpWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		err = sftpError("write", w.p, err)
	}
	return n, err
}

func (w *sftpWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.f.ReadFrom(r)
	if err != nil {
		err = sftpError("write", w.p, err)
	}
	return n, err
}

func (w *sftpWriter) Close() error {
	if err := w.f.Close(); err != nil {
		return sftpError("close", w.p, err)
	}
	return nil
}

// Create creates or truncates the remote file p for a streaming write.
// A nonzero mode is applied at once, before any data is written. The
// writer implements io.ReaderFrom, so io.Copy to it pipelines requests;
// the caller must Close it and check the error.
func (c *SftpClient) Create(p string, mode os.FileMode) (io.WriteCloser, error) {
	f, err := c.sc.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return nil, sftpError("create", p, err)
	}
	if mode != 0 {
		if err := c.Chmod(p, mode); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &sftpWriter{f: f, p: p}, nil
}

// SftpOptions control Get and Put.
type SftpOptions struct {
	// Recursive allows copying a directory tree.
	Recursive bool
	// PreserveTimes copies modification times (to files and directories).
	PreserveTimes bool
	// PreserveMode copies permission bits (not setuid, setgid or sticky).
	PreserveMode bool
	// Progress, when set, is called after each chunk of a file with the
	// bytes copied so far and the file's size, and once for an empty
	// file; name is the local path. Calls for one copy never overlap but
	// may come from another goroutine.
	Progress func(name string, offset, size int64)
}

// progress counts bytes through a copy, reports them and stops the copy
// when ctx is done.
type progress struct {
	ctx    context.Context
	name   string
	off    int64
	size   int64
	fn     func(name string, offset, size int64)
	called bool
}

func (p *progress) add(n int) {
	p.off += int64(n)
	if p.fn != nil && n > 0 {
		p.called = true
		p.fn(p.name, p.off, p.size)
	}
}

// done makes the one call an empty file gets.
func (p *progress) done() {
	if p.fn != nil && !p.called {
		p.fn(p.name, p.off, p.size)
	}
}

type progressWriter struct {
	*progress
	w io.Writer
}

func (w progressWriter) Write(b []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.w.Write(b)
	w.add(n)
	return n, err
}

type progressReader struct {
	*progress
	r io.Reader
}

func (r progressReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(b)
	r.add(n)
	return n, err
}

// Size tells sftp.File.ReadFrom how much is coming so that it pipelines
// the writes.
func (r progressReader) Size() int64 { return r.size }

// safeName reports whether a directory entry name can be joined to a
// local directory without escaping it.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." &&
		!strings.ContainsRune(name, '/') && !strings.ContainsRune(name, filepath.Separator) &&
		!strings.ContainsRune(name, 0)
}

// Get copies remote to local. A remote directory needs o.Recursive. When
// local is an existing directory the copy goes inside it, under the
// remote base name. A top-level remote symlink is followed; symlinks and
// special files inside a tree are skipped, so a recursive Get never leaves
// the remote tree. Entry names the server lists that could escape local
// ("..", "a/b", ...) are skipped and reported in the error, after the rest
// is copied. ctx is checked between files and between chunks; a file cut
// short stays behind partial.
func (c *SftpClient) Get(ctx context.Context, remote, local string, o SftpOptions) error {
	if remote == "" || local == "" {
		return errorf(KindBadOption, nil, "sftp get: empty path")
	}
	if err := ctx.Err(); err != nil {
		return errorf(KindSftp, err, "sftp get %s", remote)
	}
	fi, err := c.sc.Stat(remote)
	if err != nil {
		return sftpError("get", remote, err)
	}
	if fi.IsDir() && !o.Recursive {
		return errorf(KindBadOption, nil, "sftp get %s: is a directory and recursive is not set", remote)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return errorf(KindSftp, nil, "sftp get %s: not a regular file", remote)
	}
	if lfi, err := os.Stat(local); err == nil && lfi.IsDir() {
		base := path.Base(remote)
		if !safeName(base) {
			if real, err := c.sc.RealPath(remote); err == nil {
				base = path.Base(real)
			}
		}
		if !safeName(base) {
			return errorf(KindBadOption, nil, "sftp get %s: no name to give it inside %s", remote, local)
		}
		local = filepath.Join(local, base)
	}
	g := &getter{c: c, ctx: ctx, o: o}
	if fi.IsDir() {
		err = g.dir(remote, local, fi)
	} else {
		err = g.file(remote, local, fi)
	}
	if err != nil {
		return err
	}
	if g.nskip > 0 {
		return errorf(KindSftp, nil, "sftp get %s: skipped %d unsafe names: %q", remote, g.nskip, g.skipped)
	}
	return nil
}

type getter struct {
	c       *SftpClient
	ctx     context.Context
	o       SftpOptions
	skipped []string // the first unsafe names from listings
	nskip   int      // how many there were
}

func (g *getter) dir(remote, local string, fi os.FileInfo) error {
	// Create it writable for us; its own mode comes at the end.
	perm := os.FileMode(0o777)
	if g.o.PreserveMode {
		perm = 0o700
	}
	if err := os.Mkdir(local, perm); err != nil {
		if lfi, lerr := os.Stat(local); lerr != nil || !lfi.IsDir() {
			return sftpError("get", remote, fmt.Errorf("mkdir local %s: %w", local, err))
		}
	}
	fis, err := g.c.sc.ReadDirContext(g.ctx, remote)
	if err == nil {
		err = g.ctx.Err()
	}
	if err != nil {
		return sftpError("get", remote, err)
	}
	sort.Slice(fis, func(i, j int) bool { return fis[i].Name() < fis[j].Name() })
	for _, e := range fis {
		if err := g.ctx.Err(); err != nil {
			return errorf(KindSftp, err, "sftp get %s", remote)
		}
		name := e.Name()
		if !safeName(name) {
			g.nskip++
			if len(g.skipped) < 10 {
				g.skipped = append(g.skipped, remote+"/"+name)
			}
			continue
		}
		r, l := path.Join(remote, name), filepath.Join(local, name)
		switch {
		case e.IsDir():
			err = g.dir(r, l, e)
		case e.Mode().IsRegular():
			err = g.file(r, l, e)
		default: // symlinks, devices, sockets, pipes
			continue
		}
		if err != nil {
			return err
		}
	}
	return g.finish(remote, local, fi)
}

func (g *getter) file(remote, local string, fi os.FileInfo) error {
	rf, err := g.c.sc.Open(remote)
	if err != nil {
		return sftpError("get", remote, err)
	}
	// Closing a handle read from cannot lose data, and its answer is one
	// more round trip: the handle is closed while the download goes on.
	defer func() { go rf.Close() }()
	lf, err := os.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return sftpError("get", remote, fmt.Errorf("create local %s: %w", local, err))
	}
	defer lf.Close()
	if g.o.PreserveMode {
		if err := lf.Chmod(fi.Mode().Perm()); err != nil {
			return sftpError("get", remote, fmt.Errorf("chmod local %s: %w", local, err))
		}
	}
	p := &progress{ctx: g.ctx, name: local, size: fi.Size(), fn: g.o.Progress}
	var copyErr error
	if fi.Mode().IsRegular() {
		_, copyErr = fetch(g.ctx, rf, progressWriter{p, lf})
	} else {
		_, copyErr = rf.WriteTo(progressWriter{p, lf})
	}
	if err := copyErr; err != nil {
		if ctxErr := g.ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return sftpError("get", remote, fmt.Errorf("to %s: %w", local, err))
	}
	if err := lf.Close(); err != nil {
		return sftpError("get", remote, fmt.Errorf("close local %s: %w", local, err))
	}
	p.done()
	return g.finish(remote, local, fi)
}

// finish sets the mode of a directory and the times of either.
func (g *getter) finish(remote, local string, fi os.FileInfo) error {
	if g.o.PreserveMode && fi.IsDir() {
		if err := os.Chmod(local, fi.Mode().Perm()); err != nil {
			return sftpError("get", remote, fmt.Errorf("chmod local %s: %w", local, err))
		}
	}
	if g.o.PreserveTimes {
		mtime, atime := fi.ModTime(), fi.ModTime()
		if st, ok := fi.Sys().(*sftp.FileStat); ok && st.Atime != 0 {
			atime = time.Unix(int64(st.Atime), 0)
		}
		if err := os.Chtimes(local, atime, mtime); err != nil {
			return sftpError("get", remote, fmt.Errorf("set times on local %s: %w", local, err))
		}
	}
	return nil
}

// Put copies local to remote, by the same rules as Get: a directory needs
// o.Recursive, an existing remote directory receives the copy inside it,
// a top-level local symlink is followed and symlinks and special files
// inside a tree are skipped. With PreserveTimes the access time is set to
// the modification time.
func (c *SftpClient) Put(ctx context.Context, local, remote string, o SftpOptions) error {
	if remote == "" || local == "" {
		return errorf(KindBadOption, nil, "sftp put: empty path")
	}
	if err := ctx.Err(); err != nil {
		return errorf(KindSftp, err, "sftp put %s", local)
	}
	fi, err := os.Stat(local)
	if err != nil {
		return sftpError("put", local, err)
	}
	if fi.IsDir() && !o.Recursive {
		return errorf(KindBadOption, nil, "sftp put %s: is a directory and recursive is not set", local)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return errorf(KindSftp, nil, "sftp put %s: not a regular file", local)
	}
	if rfi, err := c.sc.Stat(remote); err == nil && rfi.IsDir() {
		base := filepath.Base(local)
		if !safeName(base) {
			if abs, err := filepath.Abs(local); err == nil {
				base = filepath.Base(abs)
			}
		}
		if !safeName(base) {
			return errorf(KindBadOption, nil, "sftp put %s: no name to give it inside %s", local, remote)
		}
		remote = path.Join(remote, base)
	}
	p := &putter{c: c, ctx: ctx, o: o}
	if fi.IsDir() {
		return p.dir(local, remote, fi)
	}
	return p.file(local, remote, fi)
}

type putter struct {
	c   *SftpClient
	ctx context.Context
	o   SftpOptions
}

func (p *putter) dir(local, remote string, fi os.FileInfo) error {
	if err := p.c.sc.Mkdir(remote); err != nil {
		if rfi, serr := p.c.sc.Stat(remote); serr != nil || !rfi.IsDir() {
			return sftpError("put", local, fmt.Errorf("mkdir remote %s: %w", remote, stripPathError(err)))
		}
	}
	entries, err := os.ReadDir(local)
	if err != nil {
		return sftpError("put", local, err)
	}
	for _, e := range entries {
		if err := p.ctx.Err(); err != nil {
			return errorf(KindSftp, err, "sftp put %s", local)
		}
		if !e.IsDir() && !e.Type().IsRegular() {
			continue // symlinks, devices, sockets, pipes
		}
		efi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone since the listing
			}
			return sftpError("put", filepath.Join(local, e.Name()), err)
		}
		l, r := filepath.Join(local, e.Name()), path.Join(remote, e.Name())
		if e.IsDir() {
			err = p.dir(l, r, efi)
		} else {
			err = p.file(l, r, efi)
		}
		if err != nil {
			return err
		}
	}
	return p.finish(local, remote, fi)
}

func (p *putter) file(local, remote string, fi os.FileInfo) error {
	lf, err := os.Open(local)
	if err != nil {
		return sftpError("put", local, err)
	}
	defer lf.Close()
	rf, err := p.c.sc.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return sftpError("put", local, fmt.Errorf("create remote %s: %w", remote, stripPathError(err)))
	}
	defer rf.Close()
	if p.o.PreserveMode {
		if err := p.c.sc.Chmod(remote, fi.Mode().Perm()); err != nil {
			return sftpError("put", local, fmt.Errorf("chmod remote %s: %w", remote, stripPathError(err)))
		}
	}
	pr := &progress{ctx: p.ctx, name: local, size: fi.Size(), fn: p.o.Progress}
	if _, err := rf.ReadFrom(progressReader{pr, lf}); err != nil {
		if ctxErr := p.ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return sftpError("put", local, fmt.Errorf("to %s: %w", remote, stripPathError(err)))
	}
	if err := rf.Close(); err != nil {
		return sftpError("put", local, fmt.Errorf("close remote %s: %w", remote, stripPathError(err)))
	}
	pr.done()
	return p.finish(local, remote, fi)
}

// finish sets the mode of a directory and the times of either.
func (p *putter) finish(local, remote string, fi os.FileInfo) error {
	if p.o.PreserveMode && fi.IsDir() {
		if err := p.c.sc.Chmod(remote, fi.Mode().Perm()); err != nil {
			return sftpError("put", local, fmt.Errorf("chmod remote %s: %w", remote, stripPathError(err)))
		}
	}
	if p.o.PreserveTimes {
		if err := p.c.sc.Chtimes(remote, fi.ModTime(), fi.ModTime()); err != nil {
			return sftpError("put", local, fmt.Errorf("set times on remote %s: %w", remote, stripPathError(err)))
		}
	}
	return nil
}

// stripPathError drops *fs.PathError and *os.LinkError wrappers, whose
// text repeats a path the message already names.
func stripPathError(err error) error {
	for {
		switch e := err.(type) {
		case *fs.PathError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		default:
			return err
		}
	}
}

// sftpError wraps err from operation op on p (a path, or a description
// naming the paths) as an *Error whose kind comes from sftpKind. An err
// that is already an *Error is returned as it is.
func sftpError(op, p string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	cause := stripPathError(err)
	return errorf(sftpKind(cause), cause, "sftp %s %s", op, p)
}

// sftpKind classifies an error from the sftp package or the local file
// system: missing, permission denied, already exists, or else KindSftp.
func sftpKind(err error) Kind {
	var st *sftp.StatusError
	if errors.As(err, &st) {
		switch st.Code {
		case sshFxNoSuchFile, sshFxNoSuchPath:
			return KindNotFound
		case sshFxPermissionDenied, sshFxWriteProtect:
			return KindPermission
		case sshFxFileExists:
			return KindExists
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, sftp.ErrSSHFxNoSuchFile):
		return KindNotFound
	case errors.Is(err, fs.ErrPermission), errors.Is(err, sftp.ErrSSHFxPermissionDenied):
		return KindPermission
	case errors.Is(err, fs.ErrExist):
		return KindExists
	}
	return KindSftp
}
