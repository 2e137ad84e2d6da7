package bbssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// pipeEnd is one end of a connection made of two io.Pipes.
type pipeEnd struct {
	io.Reader
	io.WriteCloser
}

// newTestSftp starts pkg/sftp's server in-process, rooted at a fresh
// temporary directory, and returns a client to it and that directory.
func newTestSftp(t *testing.T) (*SftpClient, string) {
	t.Helper()
	root := t.TempDir()
	cr, sw := io.Pipe() // server → client
	sr, cw := io.Pipe() // client → server
	srv, err := sftp.NewServer(pipeEnd{sr, sw}, sftp.WithServerWorkingDirectory(root))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		srv.Serve()
		sw.Close() // lets the client's Close finish
	}()
	c, err := newSftpClientPipe(cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, root
}

// newTestSftpHandlers is newTestSftp over a request server with h.
func newTestSftpHandlers(t *testing.T, h sftp.Handlers) *SftpClient {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	srv := sftp.NewRequestServer(pipeEnd{sr, sw}, h)
	go func() {
		srv.Serve()
		sw.Close()
	}()
	c, err := newSftpClientPipe(cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestSftpStatLstatLs(t *testing.T) {
	c, root := newTestSftp(t)
	writeFile(t, filepath.Join(root, "f"), []byte("hello"), 0o640)
	if err := os.Mkdir(filepath.Join(root, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "f"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		lstat     bool
		path      string
		size      int64
		mode      os.FileMode
		dir, link bool
	}{
		{"file", false, "f", 5, 0o640, false, false},
		{"dir", false, "d", -1, os.ModeDir | 0o750, true, false},
		{"stat symlink", false, "link", 5, 0o640, false, false},
		{"lstat symlink", true, "link", -1, os.ModeSymlink | 0o777, false, true},
		{"lstat file", true, "f", 5, 0o640, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(root, tt.path)
			stat := c.Stat
			if tt.lstat {
				stat = c.Lstat
			}
			e, err := stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != tt.path || e.Path != p {
				t.Errorf("name, path = %q, %q; want %q, %q", e.Name, e.Path, tt.path, p)
			}
			if tt.size >= 0 && e.Size != tt.size {
				t.Errorf("size = %d, want %d", e.Size, tt.size)
			}
			if e.Mode != tt.mode || e.IsDir != tt.dir || e.IsSymlink != tt.link {
				t.Errorf("mode, dir, link = %v, %v, %v; want %v, %v, %v", e.Mode, e.IsDir, e.IsSymlink, tt.mode, tt.dir, tt.link)
			}
			if e.UID != os.Getuid() || e.GID != os.Getgid() {
				t.Errorf("uid, gid = %d, %d; want %d, %d", e.UID, e.GID, os.Getuid(), os.Getgid())
			}
		})
	}

	e, err := c.Stat(filepath.Join(root, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if !e.ModTime.Equal(mtime) {
		t.Errorf("mtime = %v, want %v", e.ModTime, mtime)
	}

	list, err := c.Ls(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
		if e.Path != path.Join(root, e.Name) {
			t.Errorf("path of %s = %s", e.Name, e.Path)
		}
		if e.Name == "link" && !e.IsSymlink {
			t.Errorf("ls does not mark link as a symlink: %+v", e)
		}
	}
	if want := []string{"d", "f", "link"}; !reflect.DeepEqual(names, want) {
		t.Errorf("ls = %q, want %q", names, want)
	}
	list, err = c.Ls(filepath.Join(root, "f"))
	if err != nil || len(list) != 1 || list[0].Name != "f" {
		t.Errorf("ls of a file = %+v, %v; want just it", list, err)
	}
}

func TestSftpErrorsNotFound(t *testing.T) {
	c, root := newTestSftp(t)
	missing := filepath.Join(root, "missing")
	tests := []struct {
		name string
		call func() error
	}{
		{"stat", func() error { _, err := c.Stat(missing); return err }},
		{"lstat", func() error { _, err := c.Lstat(missing); return err }},
		{"ls", func() error { _, err := c.Ls(missing); return err }},
		{"readall", func() error { _, err := c.ReadAll(missing, 0); return err }},
		{"open", func() error { _, err := c.Open(missing); return err }},
		{"remove", func() error { return c.Remove(missing) }},
		{"rmdir", func() error { return c.RemoveDir(missing, true) }},
		{"chmod", func() error { return c.Chmod(missing, 0o600) }},
		{"rename", func() error { return c.Rename(missing, missing+"2") }},
		{"get", func() error { return c.Get(context.Background(), missing, t.TempDir(), SftpOptions{}) }},
		{"put", func() error {
			return c.Put(context.Background(), filepath.Join(t.TempDir(), "nope"), root, SftpOptions{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if KindOf(err) != KindNotFound {
				t.Fatalf("kind of %v = %q, want %q", err, KindOf(err), KindNotFound)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v: not an *Error wrapping fs.ErrNotExist", err)
			}
			if !strings.HasPrefix(err.Error(), "bbssh: sftp ") || !strings.Contains(err.Error(), "missing") && !strings.Contains(err.Error(), "nope") {
				t.Errorf("message %q does not name the operation and path", err)
			}
		})
	}
	_, err := c.Stat("/no/such/thing")
	if got, want := err.Error(), "bbssh: sftp stat /no/such/thing: file does not exist"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

func TestSftpErrorKindMapping(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{&sftp.StatusError{Code: 2}, KindNotFound},  // no such file
		{&sftp.StatusError{Code: 10}, KindNotFound}, // no such path
		{&sftp.StatusError{Code: 3}, KindPermission},
		{&sftp.StatusError{Code: 12}, KindPermission}, // write protect
		{&sftp.StatusError{Code: 11}, KindExists},
		{&sftp.StatusError{Code: 4}, KindSftp}, // failure
		{&sftp.StatusError{Code: 8}, KindSftp}, // unsupported
		{sftp.ErrSSHFxNoSuchFile, KindNotFound},
		{sftp.ErrSSHFxPermissionDenied, KindPermission},
		{sftp.ErrSSHFxConnectionLost, KindSftp},
		{os.ErrNotExist, KindNotFound},
		{os.ErrPermission, KindPermission},
		{os.ErrExist, KindExists},
		{&fs.PathError{Op: "open", Path: "/x", Err: os.ErrPermission}, KindPermission},
		{fmt.Errorf("wrapped: %w", &sftp.StatusError{Code: 3}), KindPermission},
		{errors.New("other"), KindSftp},
		{context.Canceled, KindSftp},
	}
	for _, tt := range tests {
		err := sftpError("open", "/x", tt.err)
		if got := KindOf(err); got != tt.want {
			t.Errorf("kind of %v = %q, want %q", tt.err, got, tt.want)
		}
		if !strings.HasPrefix(err.Error(), "bbssh: sftp open /x: ") {
			t.Errorf("message %q", err)
		}
	}
	// An *Error is passed through, not wrapped again.
	inner := errorf(KindBadOption, nil, "x")
	if got := sftpError("get", "/y", inner); got != error(inner) {
		t.Errorf("re-wrapped %v as %v", inner, got)
	}
	// A path error loses its repeated path.
	err := sftpError("stat", "/x", &fs.PathError{Op: "stat", Path: "/x", Err: os.ErrNotExist})
	if got, want := err.Error(), "bbssh: sftp stat /x: file does not exist"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

func TestSftpMkdir(t *testing.T) {
	c, root := newTestSftp(t)
	tests := []struct {
		name    string
		path    string
		mode    os.FileMode
		parents bool
		kind    Kind // "" for success
	}{
		{"simple", "a", 0o700, false, ""},
		{"existing", "a", 0o700, false, KindExists},
		{"existing parents", "a", 0o755, true, ""},
		{"parents", "b/c/d", 0o750, true, ""},
		{"missing parent", "x/y", 0, false, KindNotFound},
		{"file in the way", "f", 0, true, KindExists},
		{"empty", "", 0, false, KindBadOption},
	}
	writeFile(t, filepath.Join(root, "f"), nil, 0o644)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(root, tt.path)
			if tt.path == "" {
				p = ""
			}
			err := c.Mkdir(p, tt.mode, tt.parents)
			if KindOf(err) != tt.kind {
				t.Fatalf("Mkdir: %v, want kind %q", err, tt.kind)
			}
			if err != nil {
				return
			}
			fi, err := os.Stat(p)
			if err != nil || !fi.IsDir() {
				t.Fatalf("not a directory: %v", err)
			}
			if tt.name != "existing parents" && fi.Mode().Perm() != tt.mode {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tt.mode)
			}
		})
	}
	// mkdir -p leaves an existing directory's mode alone.
	if fi, _ := os.Stat(filepath.Join(root, "a")); fi.Mode().Perm() != 0o700 {
		t.Errorf("existing dir mode changed to %v", fi.Mode().Perm())
	}
}

func TestSftpRemoveRenameChmod(t *testing.T) {
	c, root := newTestSftp(t)
	j := func(p string) string { return filepath.Join(root, p) }
	for _, d := range []string{"tree/a/b", "tree/empty", "dir"} {
		if err := os.MkdirAll(j(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"tree/x", "tree/a/y", "tree/a/b/z", "dir/f", "file", "old", "other"} {
		writeFile(t, j(f), []byte(f), 0o644)
	}
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "keep"), []byte("keep"), 0o644)
	if err := os.Symlink(outside, j("tree/a/out")); err != nil {
		t.Fatal(err)
	}

	if err := c.Remove(j("dir")); KindOf(err) != KindSftp {
		t.Errorf("Remove of a dir: %v", err)
	}
	if err := c.Remove(j("file")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(j("file")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if err := c.RemoveDir(j("dir"), false); err == nil {
		t.Error("RemoveDir of a non-empty dir without recursive succeeded")
	}
	if err := c.RemoveDir(j("other"), false); KindOf(err) != KindSftp {
		t.Errorf("RemoveDir of a file: %v", err)
	}
	if err := c.RemoveDir(j("tree/empty"), false); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDir(j("tree"), true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(j("tree")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("recursive remove followed a symlink: %v", err)
	}

	// Rename replaces an existing target (posix-rename).
	if err := c.Rename(j("old"), j("other")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(j("other")); err != nil || string(b) != "old" {
		t.Errorf("after rename other = %q, %v", b, err)
	}
	if _, err := os.Stat(j("old")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old still there: %v", err)
	}

	for _, mode := range []os.FileMode{0o600, 0o755, 0o4711, 0o1777, os.ModeSetgid | 0o750, os.ModeDir | 0o700} {
		if err := c.Chmod(j("other"), mode); err != nil {
			t.Fatal(err)
		}
		e, err := c.Stat(j("other"))
		if err != nil {
			t.Fatal(err)
		}
		want := mode & (os.ModePerm | os.ModeSetgid)
		if mode&0o4000 != 0 {
			want |= os.ModeSetuid
		}
		if mode&0o1000 != 0 {
			want |= os.ModeSticky
		}
		if e.Mode != want {
			t.Errorf("chmod %o: mode = %v, want %v", mode, e.Mode, want)
		}
	}
}

func TestSftpWriteFileReadAll(t *testing.T) {
	c, root := newTestSftp(t)
	tests := []struct {
		name  string
		size  int
		mode  os.FileMode
		limit int64
		err   bool
	}{
		{"empty", 0, 0o600, 10, false},
		{"small", 100, 0o640, 100, false},
		{"no limit", 200 << 10, 0o644, 0, false},
		{"over limit", 101, 0o600, 100, true},
		{"large over limit", 1 << 20, 0o600, 64 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(root, strings.ReplaceAll(tt.name, " ", "_"))
			data := randomBytes(t, tt.size)
			if err := c.WriteFile(p, data, tt.mode); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != tt.mode {
				t.Errorf("mode = %v, %v; want %v", fi.Mode().Perm(), err, tt.mode)
			}
			got, err := c.ReadAll(p, tt.limit)
			if tt.err {
				if KindOf(err) != KindSftp || !strings.Contains(err.Error(), "limit") {
					t.Fatalf("ReadAll = %d bytes, %v; want a limit error", len(got), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, not the %d written", len(got), len(data))
			}
		})
	}
	// WriteFile truncates.
	p := filepath.Join(root, "small")
	if err := c.WriteFile(p, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "x" {
		t.Errorf("after rewrite = %q", b)
	}
}

func TestSftpOpenCreateStreaming(t *testing.T) {
	c, root := newTestSftp(t)
	data := randomBytes(t, 3<<20)
	want := sha256.Sum256(data)
	p := filepath.Join(root, "big")

	w, err := c.Create(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// Through a plain reader, so that io.Copy uses the writer's ReadFrom.
	if _, err := io.Copy(w, io.MultiReader(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); sha256.Sum256(b) != want {
		t.Fatal("remote content differs")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", fi.Mode().Perm())
	}

	r, err := c.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Error("streamed content differs")
	}

	// Plain Reads work too.
	r, err = c.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, 10)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, data[:10]) {
		t.Errorf("read head: %v", err)
	}
}

// treeFile describes one entry of a test tree.
type treeFile struct {
	path string // slash-separated, relative
	dir  bool
	size int
	mode os.FileMode
}

var testTree = []treeFile{
	{"top", true, 0, 0o755},
	{"top/empty dir", true, 0, 0o700},
	{"top/sub", true, 0, 0o750},
	{"top/sub/deeper", true, 0, 0o755},
	{"top/sub/deeper/big.bin", false, 3 << 20, 0o600},
	{"top/sub/script.sh", false, 100, 0o755},
	{"top/empty file", false, 0, 0o644},
	{"top/naïve 日本語 file.txt", false, 1000, 0o600},
	{"top/with spaces.txt", false, 70000, 0o640},
}

var treeTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// makeTree writes testTree under dir with distinct mtimes and returns the
// sha256 of each file.
func makeTree(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	for _, f := range testTree {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if f.dir {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data := randomBytes(t, f.size)
		writeFile(t, p, data, f.mode)
		sums[f.path] = sha256.Sum256(data)
	}
	// Modes and times last, deepest first, so that writing does not
	// disturb them.
	for i := len(testTree) - 1; i >= 0; i-- {
		f := testTree[i]
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
		mt := treeTime.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	return sums
}

// checkTree compares the tree under dir with testTree.
func checkTree(t *testing.T, dir string, sums map[string][32]byte, times bool) {
	t.Helper()
	for i, f := range testTree {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if fi.IsDir() != f.dir {
			t.Errorf("%s: dir = %v", f.path, fi.IsDir())
		}
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode = %v, want %v", f.path, fi.Mode().Perm(), f.mode)
		}
		if mt := treeTime.Add(time.Duration(i) * time.Hour); times && !fi.ModTime().Equal(mt) {
			t.Errorf("%s: mtime = %v, want %v", f.path, fi.ModTime(), mt)
		}
		if !f.dir {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("%s: %v", f.path, err)
			} else if sha256.Sum256(b) != sums[f.path] {
				t.Errorf("%s: content differs", f.path)
			}
		}
	}
	// Nothing extra.
	n := 0
	filepath.WalkDir(filepath.Join(dir, "top"), func(string, fs.DirEntry, error) error { n++; return nil })
	if n != len(testTree) {
		t.Errorf("%d entries under %s, want %d", n, dir, len(testTree))
	}
}

func TestSftpPutGetTree(t *testing.T) {
	c, root := newTestSftp(t)
	src, dst := t.TempDir(), t.TempDir()
	sums := makeTree(t, src)
	// A symlink in the tree is not copied.
	sub := filepath.Join(src, "top", "sub")
	fi, err := os.Stat(sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(sub, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(sub, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	o := SftpOptions{Recursive: true, PreserveMode: true, PreserveTimes: true}
	ctx := context.Background()

	// Into an existing directory: lands at root/top.
	if err := c.Put(ctx, filepath.Join(src, "top"), root, o); err != nil {
		t.Fatal(err)
	}
	checkTree(t, root, sums, true)
	if err := c.Get(ctx, path.Join(root, "top"), dst, o); err != nil {
		t.Fatal(err)
	}
	checkTree(t, dst, sums, true)

	// Again: the copy overwrites in place.
	if err := c.Get(ctx, path.Join(root, "top"), dst, o); err != nil {
		t.Fatal(err)
	}
	checkTree(t, dst, sums, true)

	// To a new name, without preserving: content only.
	dst2 := filepath.Join(t.TempDir(), "renamed")
	if err := c.Get(ctx, path.Join(root, "top"), dst2, SftpOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range testTree {
		if f.dir {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dst2, strings.TrimPrefix(f.path, "top/")))
		if err != nil || sha256.Sum256(b) != sums[f.path] {
			t.Errorf("%s: %v or content differs", f.path, err)
		}
	}

	// A single file to a new name, and into a directory.
	one := path.Join(root, "top", "sub", "script.sh")
	if err := c.Get(ctx, one, filepath.Join(dst, "copy.sh"), o); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, one, dst, SftpOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"copy.sh", "script.sh"} {
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || sha256.Sum256(b) != sums["top/sub/script.sh"] {
			t.Errorf("%s: %v or content differs", p, err)
		}
	}
	if err := c.Put(ctx, filepath.Join(dst, "copy.sh"), path.Join(root, "top"), o); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "top", "copy.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("put file into dir: %v %v", fi, err)
	}
}

func TestSftpDirNeedsRecursive(t *testing.T) {
	c, root := newTestSftp(t)
	local := t.TempDir()
	ctx := context.Background()
	if err := c.Get(ctx, root, filepath.Join(local, "x"), SftpOptions{}); KindOf(err) != KindBadOption {
		t.Errorf("Get of a dir: %v", err)
	}
	if err := c.Put(ctx, local, path.Join(root, "x"), SftpOptions{}); KindOf(err) != KindBadOption {
		t.Errorf("Put of a dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(local, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Get created something")
	}
	if err := c.Get(ctx, "", local, SftpOptions{}); KindOf(err) != KindBadOption {
		t.Errorf("Get of an empty path: %v", err)
	}
}

type progressCall struct {
	name         string
	offset, size int64
}

func TestSftpProgress(t *testing.T) {
	c, root := newTestSftp(t)
	local := t.TempDir()
	sizes := map[string]int{"empty": 0, "small": 10, "big": 1<<20 + 17}
	for name, n := range sizes {
		writeFile(t, filepath.Join(local, name), randomBytes(t, n), 0o644)
	}
	for _, dir := range []string{"put", "get"} {
		for name, n := range sizes {
			t.Run(dir+" "+name, func(t *testing.T) {
				var mu sync.Mutex
				var calls []progressCall
				o := SftpOptions{Progress: func(name string, off, size int64) {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, progressCall{name, off, size})
				}}
				lp, rp := filepath.Join(local, name), path.Join(root, name)
				var err error
				if dir == "put" {
					err = c.Put(context.Background(), lp, rp, o)
				} else {
					lp = filepath.Join(local, "got-"+name)
					err = c.Get(context.Background(), rp, lp, o)
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(calls) == 0 {
					t.Fatal("no progress calls")
				}
				if n == 0 && len(calls) != 1 {
					t.Errorf("%d calls for an empty file, want 1", len(calls))
				}
				last := calls[len(calls)-1]
				if last != (progressCall{lp, int64(n), int64(n)}) {
					t.Errorf("last call = %+v, want %s %d %d", last, lp, n, n)
				}
				for i := 1; i < len(calls); i++ {
					if calls[i].offset <= calls[i-1].offset {
						t.Errorf("offsets not increasing: %+v", calls)
						break
					}
				}
			})
		}
	}
}

func TestSftpGetCancel(t *testing.T) {
	c, root := newTestSftp(t)
	for _, name := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(root, name), randomBytes(t, 3<<20), 0o644)
	}

	// Already cancelled: nothing happens.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	local := filepath.Join(t.TempDir(), "out")
	err := c.Get(ctx, root, local, SftpOptions{Recursive: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled ctx: %v", err)
	}
	if _, err := os.Stat(local); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cancelled Get created %s", local)
	}

	// Cancelled during the first file: it stops there.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	o := SftpOptions{Recursive: true, Progress: func(string, int64, int64) {
		calls++
		if calls == 2 {
			cancel()
		}
	}}
	err = c.Get(ctx, root, local, o)
	if !errors.Is(err, context.Canceled) || KindOf(err) != KindSftp {
		t.Fatalf("Get cancelled midway: %v", err)
	}
	if calls > 10 {
		t.Errorf("%d progress calls after cancel", calls)
	}
	if fi, err := os.Stat(filepath.Join(local, "a")); err != nil || fi.Size() >= 3<<20 {
		t.Errorf("first file: %v, %v; want a partial file", fi, err)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := os.Stat(filepath.Join(local, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was copied after cancel", name)
		}
	}

	// Put stops too.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := c.Put(ctx, filepath.Join(root, "a"), path.Join(root, "z"), SftpOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled ctx: %v", err)
	}
}

func TestSftpSafeName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"with space", true},
		{"日本語", true},
		{"..a", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"/", false},
		{"../x", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		if got := safeName(tt.name); got != tt.ok {
			t.Errorf("safeName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// evilFS is a request-server file system whose listing holds names a
// client must not write.
type evilFS struct{}

type fakeInfo struct {
	name string
	dir  bool
	size int64
}

func (f fakeInfo) Name() string { return f.name }
func (f fakeInfo) Size() int64  { return f.size }
func (f fakeInfo) Mode() os.FileMode {
	if f.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}
func (f fakeInfo) ModTime() time.Time { return treeTime }
func (f fakeInfo) IsDir() bool        { return f.dir }
func (f fakeInfo) Sys() any           { return nil }

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n+int(off) == len(l) {
		return n, io.EOF
	}
	return n, nil
}

func (evilFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	return strings.NewReader("good"), nil
}
func (evilFS) Filewrite(r *sftp.Request) (io.WriterAt, error) { return nil, os.ErrPermission }
func (evilFS) Filecmd(r *sftp.Request) error                  { return os.ErrPermission }
func (evilFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		if r.Filepath != "/evil" {
			return nil, os.ErrNotExist
		}
		// pkg/sftp's client drops "." and ".." and keeps only the base
		// name of the rest, so "/" and "" ("." after that) are what get
		// through to Get.
		return listerAt{
			fakeInfo{name: "good.txt", size: 4},
			fakeInfo{name: "..", dir: true},
			fakeInfo{name: "/", dir: true},
			fakeInfo{name: "", dir: true},
			fakeInfo{name: "../escape.txt", size: 4},
		}, nil
	case "Stat", "Lstat":
		dir := r.Filepath == "/evil" || r.Filepath == "/"
		return listerAt{fakeInfo{name: path.Base(r.Filepath), dir: dir, size: 4}}, nil
	}
	return nil, os.ErrInvalid
}

func TestSftpGetUnsafeNames(t *testing.T) {
	c := newTestSftpHandlers(t, sftp.Handlers{FileGet: evilFS{}, FilePut: evilFS{}, FileCmd: evilFS{}, FileList: evilFS{}})
	base := t.TempDir()
	local := filepath.Join(base, "a", "b")
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		t.Fatal(err)
	}
	err := c.Get(context.Background(), "/evil", local, SftpOptions{Recursive: true})
	if KindOf(err) != KindSftp || !strings.Contains(err.Error(), `skipped 2 unsafe names: ["/evil/." "/evil//"]`) {
		t.Fatalf("Get = %v; want an error naming the skipped entry", err)
	}
	var got []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(base, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	if want := []string{"a/b/escape.txt", "a/b/good.txt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("files written = %q, want %q", got, want)
	}
	// The root has no base name to put inside a directory.
	if err := c.Get(context.Background(), "/", base, SftpOptions{Recursive: true}); KindOf(err) != KindBadOption {
		t.Errorf("Get of / into a dir: %v", err)
	}
}

// TestSftpOverSSH runs NewSftpClient against an in-process SSH server
// (x/crypto/ssh over a socket pair) that serves the sftp subsystem, and one
// that refuses it.
func TestSftpOverSSH(t *testing.T) {
	for _, serve := range []bool{true, false} {
		t.Run(fmt.Sprint("subsystem=", serve), func(t *testing.T) {
			root := t.TempDir()
			client := newTestSSHClient(t, root, serve)
			c, err := NewSftpClient(client)
			if !serve {
				if KindOf(err) != KindSftp {
					t.Fatalf("NewSftpClient = %v, want kind %q", err, KindSftp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, "f")
			if err := c.WriteFile(p, []byte("over ssh"), 0o600); err != nil {
				t.Fatal(err)
			}
			if b, err := c.ReadAll(p, 100); err != nil || string(b) != "over ssh" {
				t.Errorf("ReadAll = %q, %v", b, err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	if _, err := NewSftpClient(nil); KindOf(err) != KindBadOption {
		t.Errorf("NewSftpClient(nil) = %v", err)
	}
}

// newTestSSHClient returns an SSH client connected over a socket pair to an
// in-process server that serves sftp rooted at root when sftpOK.
func newTestSSHClient(t *testing.T, root string, sftpOK bool) *ssh.Client {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	scfg := &ssh.ServerConfig{NoClientAuth: true}
	scfg.AddHostKey(signer)
	cconn, sconn := socketPair(t)
	go func() {
		_, chans, reqs, err := ssh.NewServerConn(sconn, scfg)
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		for nc := range chans {
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go func() {
				defer ch.Close()
				for req := range creqs {
					ok := req.Type == "subsystem" && sftpOK &&
						len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
					req.Reply(ok, nil)
					if !ok {
						continue
					}
					go func() {
						defer ch.Close()
						srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(root))
						if err == nil {
							srv.Serve()
						}
					}()
				}
			}()
		}
	}()
	ccfg := &ssh.ClientConfig{User: "test", HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	conn, chans, reqs, err := ssh.NewClientConn(cconn, "pipe", ccfg)
	if err != nil {
		t.Fatal(err)
	}
	client := ssh.NewClient(conn, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return client
}

// socketPair returns the two ends of a unix socket pair: unlike net.Pipe
// it buffers, which the SSH version exchange (both sides write first)
// needs.
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conns[i].Close() })
	}
	return conns[0], conns[1]
}
