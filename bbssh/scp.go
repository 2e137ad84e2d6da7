package bbssh

// This file speaks the classic scp protocol, the one OpenSSH's scp uses
// with the remote "scp -t" (sink, receiving) and "scp -f" (source,
// sending). It works on any pair of streams, so the caller decides how the
// bytes reach the remote: usually the stdin and stdout of an exec channel
// running ScpSendCommand or ScpReceiveCommand.
//
// The protocol is line based. The source sends records
//
//	T<mtime> <usec> <atime> <usec>\n   times of the next C or D record
//	C<mode> <size> <name>\n            a file, followed by size bytes and \0
//	D<mode> 0 <name>\n                 enter a directory
//	E\n                                leave it
//
// and the sink answers each with a status byte: 0 (ok), or 1 (error) or 2
// (fatal) followed by a message up to '\n'. The sink speaks first, with a 0.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	scpDefaultBuffer = 256 << 10
	// scpMaxLine bounds a protocol line, so that a hostile remote cannot
	// make us buffer without limit.
	scpMaxLine = 64 << 10
	// scpMaxSize rejects absurd file sizes (1 PiB) from a remote source.
	scpMaxSize = 1 << 50
)

// ScpError is an error reported by the remote scp (a 1 or 2 status byte and
// its message), or a broken protocol.
type ScpError struct {
	// Code is 1 for an error, 2 for a fatal error, -1 when the stream
	// ended (disconnected, EOF) and 0 for unexpected bytes.
	Code int
	// Msg is the remote's message as sent (usually "scp: ..."), or what
	// went wrong with the protocol.
	Msg string
}

func (e *ScpError) Error() string {
	switch e.Code {
	case 1:
		return "remote scp: " + e.Msg
	case 2:
		return "remote scp (fatal): " + e.Msg
	case -1:
		if e.Msg == "" {
			return "scp: connection closed"
		}
		return "scp: connection closed " + e.Msg
	default:
		return "scp: protocol error: " + e.Msg
	}
}

// ScpSource is one thing to send. Exactly one of Path (a local file or
// directory) or Data/Reader is set; a source with only a Name sends an
// empty file.
type ScpSource struct {
	// Path is a local file or directory (a directory needs Recursive).
	// Symbolic links given here are followed.
	Path string
	// Name is the remote name: required for Data and Reader, for Path it
	// defaults to the base name of Path. It may not contain '/' or a
	// newline, nor be "." or "..".
	Name string
	// Data is the content of a file to send.
	Data []byte
	// Reader supplies exactly Size bytes of a file to send.
	Reader io.Reader
	Size   int64
	// Mode is the remote mode; 0 means the default (ScpOptions.FileMode or
	// DirMode, or the file's own mode with PreserveMode).
	Mode os.FileMode
	// ModTime and AccessTime are sent with PreserveTimes; zero means none
	// (for Path they are taken from the file). When only one is set it is
	// used for both.
	ModTime, AccessTime time.Time
}

// ScpOptions are scp's options.
type ScpOptions struct {
	// Recursive allows directories: sending a Path that is a directory,
	// and accepting directories from the remote.
	Recursive bool
	// PreserveTimes sends or applies modification and access times.
	PreserveTimes bool
	// PreserveMode sends the local files' modes, or applies the remote's
	// modes (permission bits, setuid, setgid and sticky: mode & 07777,
	// as OpenSSH's scp -p does).
	PreserveMode bool
	// FileMode and DirMode are used when !PreserveMode, and for Data and
	// Reader sources; 0 means 0644 and 0755. When receiving, an existing
	// file or directory is only chmod-ed with PreserveMode or an explicit
	// FileMode or DirMode, so that overwriting a private file does not
	// make it readable by others.
	FileMode, DirMode os.FileMode
	// BufferSize is the size of the copy buffer; 0 means 256 KiB.
	BufferSize int
	// Progress, when set, is called after each buffer and once for an
	// empty file: name is the local path (sending Path sources, or the
	// local destination when receiving) or the Name of a data source;
	// offset is the number of bytes done so far for that file and size
	// its size.
	Progress func(name string, offset, size int64)
}

func (o *ScpOptions) check() error {
	if o.BufferSize < 0 {
		return errorf(KindBadOption, nil, "scp: negative buffer size %d", o.BufferSize)
	}
	return nil
}

func (o *ScpOptions) bufferSize() int {
	if o.BufferSize == 0 {
		return scpDefaultBuffer
	}
	return o.BufferSize
}

func (o *ScpOptions) fileMode() os.FileMode {
	if o.FileMode == 0 {
		return 0o644
	}
	return o.FileMode
}

func (o *ScpOptions) dirMode() os.FileMode {
	if o.DirMode == 0 {
		return 0o755
	}
	return o.DirMode
}

func (o *ScpOptions) progress(name string, offset, size int64) {
	if o.Progress != nil {
		o.Progress(name, offset, size)
	}
}

// ScpSendCommand returns the remote command that receives what ScpSend
// sends into remotePath: scp [-r] [-p] -t -- 'remotePath'. The remote scp
// runs in the home directory, so a relative path is relative to it; the
// whole path is single-quoted for a POSIX shell, so "~" is not expanded and
// spaces, quotes, $ and backquotes arrive intact. An empty path means ".".
// -p is given with PreserveTimes or PreserveMode.
func ScpSendCommand(remotePath string, o ScpOptions) string {
	return scpCommand("-t", remotePath, o)
}

// ScpReceiveCommand returns the remote command that sends remotePath to
// ScpReceive: scp [-r] [-p] -f -- 'remotePath'. Quoting is as for
// ScpSendCommand, so remotePath is one file name, not a glob.
func ScpReceiveCommand(remotePath string, o ScpOptions) string {
	return scpCommand("-f", remotePath, o)
}

func scpCommand(mode, path string, o ScpOptions) string {
	if path == "" {
		path = "."
	}
	var b strings.Builder
	b.WriteString("scp")
	if o.Recursive {
		b.WriteString(" -r")
	}
	if o.PreserveTimes || o.PreserveMode {
		b.WriteString(" -p")
	}
	b.WriteString(" " + mode + " -- ")
	b.WriteString(shellQuote(path))
	return b.String()
}

// shellQuote quotes s for a POSIX shell: inside single quotes every byte
// is literal, and a single quote closes the quotes, is escaped with a
// backslash and reopens them.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scpUnixMode converts m to the octal mode sent on the wire.
func scpUnixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// scpFileMode converts a mode from the wire to an os.FileMode.
func scpFileMode(u uint32) os.FileMode {
	m := os.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// scpTimes are the times of a T record.
type scpTimes struct {
	mtime, atime time.Time
}

// line formats a T record. Like OpenSSH, it sends whole seconds and
// clamps times before 1970 to 0.
func (t scpTimes) line() string {
	return fmt.Sprintf("T%d 0 %d 0\n", max(t.mtime.Unix(), 0), max(t.atime.Unix(), 0))
}

// readScpLine reads the rest of a record up to '\n', which it drops. On a
// read error it returns what it has with the error.
func readScpLine(r *bufio.Reader) (string, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		n := len(line)
		if err == nil {
			n--
		}
		if n > scpMaxLine {
			return "", &ScpError{Code: 0, Msg: "line longer than 64 KiB"}
		}
		if err == nil {
			return string(line[:n]), nil
		}
		if err != bufio.ErrBufferFull {
			return string(line), err
		}
	}
}

// scpClosed turns the end of the stream into an ScpError with code -1;
// other errors (a closed channel) are returned as they are.
func scpClosed(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ScpError{Code: -1, Msg: where}
	}
	return err
}

// readScpAck reads a status byte and, for 1 and 2, its message.
func readScpAck(r *bufio.Reader) error {
	b, err := r.ReadByte()
	if err != nil {
		return scpClosed(err, "while waiting for a reply")
	}
	if b == 0 {
		return nil
	}
	msg, err := readScpLine(r)
	var se *ScpError
	if errors.As(err, &se) {
		return err
	}
	switch b {
	case 1, 2:
		// A message cut short by the end of the stream is still the
		// best explanation there is.
		return &ScpError{Code: int(b), Msg: msg}
	default:
		// OpenSSH reads such a byte as the start of a message.
		return &ScpError{Code: 0, Msg: fmt.Sprintf("unexpected reply %q", string(b)+msg)}
	}
}

// scpAbort tells the remote, best effort, that we give up: a 2 status and
// a message on one line. It is only used between records, when the remote
// is reading records or waiting for a status.
func scpAbort(w io.Writer, err error) {
	msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n", " "), "bbssh: ")
	if !strings.HasPrefix(msg, "scp: ") {
		msg = "scp: " + msg
	}
	io.WriteString(w, "\x02"+msg+"\n")
}

// checkScpName reports whether name may be a single path element on the
// wire: not empty, ".", "..", and without '/', NUL or newline (which would
// end the record). Locally it also may not hold a path separator or a
// volume name (Windows).
func checkScpName(name string) error {
	switch {
	case name == "":
		return errors.New("empty file name")
	case name == "." || name == "..":
		return fmt.Errorf("file name %q is not allowed", name)
	case strings.ContainsAny(name, "/\x00\n"), strings.ContainsRune(name, os.PathSeparator),
		filepath.VolumeName(name) != "":
		return fmt.Errorf("file name %q is not a single path element", name)
	}
	return nil
}

// scpItem is a validated ScpSource.
type scpItem struct {
	src  *ScpSource
	name string
	info fs.FileInfo // Path sources only
}

func prepareScpSource(src *ScpSource, o *ScpOptions) (scpItem, error) {
	hasData := src.Data != nil || src.Reader != nil
	switch {
	case src.Path != "" && hasData:
		return scpItem{}, errorf(KindBadOption, nil, "scp source %s: set Path or Data/Reader, not both", src.Path)
	case src.Data != nil && src.Reader != nil:
		return scpItem{}, errorf(KindBadOption, nil, "scp source %q: set Data or Reader, not both", src.Name)
	case src.Path == "" && src.Name == "":
		return scpItem{}, errorf(KindBadOption, nil, "scp source needs a Path, or a Name for Data or Reader")
	case src.Reader != nil && src.Size < 0:
		return scpItem{}, errorf(KindBadOption, nil, "scp source %q: negative size %d", src.Name, src.Size)
	}
	it := scpItem{src: src, name: src.Name}
	if src.Path != "" {
		fi, err := os.Stat(src.Path)
		if err != nil {
			return scpItem{}, errorf(KindBadOption, err, "scp source")
		}
		switch {
		case fi.Mode().IsRegular():
		case fi.IsDir():
			if !o.Recursive {
				return scpItem{}, errorf(KindBadOption, nil, "scp source %s is a directory (set Recursive)", src.Path)
			}
		default:
			return scpItem{}, errorf(KindBadOption, nil, "scp source %s is not a regular file or directory", src.Path)
		}
		if it.name == "" {
			abs, err := filepath.Abs(src.Path)
			if err != nil {
				return scpItem{}, errorf(KindBadOption, err, "scp source %s", src.Path)
			}
			it.name = filepath.Base(abs)
		}
		it.info = fi
	}
	if err := checkScpName(it.name); err != nil {
		return scpItem{}, errorf(KindBadOption, err, "scp source")
	}
	return it, nil
}

// ScpSend speaks the source side of scp over the remote scp's stdin (w)
// and stdout (r): the remote runs ScpSendCommand. All sources are checked
// before anything is sent; a bad one is a KindBadOption error. Directories
// are sent with their regular files and subdirectories, sorted by name;
// other entries (devices, sockets, dangling symbolic links and, to avoid
// cycles, symbolic links to directories) are skipped.
//
// An error reported by the remote is a KindExec error wrapping an
// *ScpError. When ctx ends, ScpSend returns ctx.Err(); a read or write in
// progress only ends when the caller closes the streams (the channel).
// After an error the stream is not usable: close it.
func ScpSend(ctx context.Context, w io.Writer, r io.Reader, sources []ScpSource, o ScpOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	items := make([]scpItem, 0, len(sources))
	for i := range sources {
		it, err := prepareScpSource(&sources[i], &o)
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &scpSender{ctx: ctx, w: w, r: bufio.NewReaderSize(r, 4096), o: &o, buf: make([]byte, o.bufferSize())}
	err := s.run(items)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// scpSender is the state of one ScpSend.
type scpSender struct {
	ctx context.Context
	w   io.Writer
	r   *bufio.Reader
	o   *ScpOptions
	buf []byte
}

func (s *scpSender) run(items []scpItem) error {
	if err := readScpAck(s.r); err != nil {
		var se *ScpError
		if errors.As(err, &se) && se.Code == 0 {
			return errorf(KindExec, err, "scp: remote did not start: the server ran something other than scp (a ForceCommand, or a login script that prints)")
		}
		return errorf(KindExec, err, "scp: remote did not start")
	}
	for _, it := range items {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		src := it.src
		var err error
		switch {
		case src.Path == "":
			err = s.sendData(it)
		case it.info.IsDir():
			err = s.sendDir(src.Path, it.name, it.info, src.Mode, src.ModTime, src.AccessTime)
		default:
			err = s.sendPathFile(src.Path, it.name, src.Mode, src.ModTime, src.AccessTime)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// times returns the times to send, or nil.
func (s *scpSender) times(mtime, atime time.Time) *scpTimes {
	if !s.o.PreserveTimes || (mtime.IsZero() && atime.IsZero()) {
		return nil
	}
	if mtime.IsZero() {
		mtime = atime
	}
	if atime.IsZero() {
		atime = mtime
	}
	return &scpTimes{mtime: mtime, atime: atime}
}

// record sends one record line and waits for its status.
func (s *scpSender) record(line, name string) error {
	if _, err := io.WriteString(s.w, line); err != nil {
		return errorf(KindExec, err, "scp: sending %s", name)
	}
	if err := readScpAck(s.r); err != nil {
		return errorf(KindExec, err, "scp: sending %s", name)
	}
	return nil
}

// fail aborts the remote for a local error between records.
func (s *scpSender) fail(err error) error {
	scpAbort(s.w, err)
	return err
}

func (s *scpSender) sendData(it scpItem) error {
	src := it.src
	mode := src.Mode
	if mode == 0 {
		mode = s.o.fileMode()
	}
	body, size := src.Reader, src.Size
	if body == nil {
		body, size = bytes.NewReader(src.Data), int64(len(src.Data))
	}
	return s.sendFile(it.name, it.name, mode, size, s.times(src.ModTime, src.AccessTime), body, KindBadOption)
}

// sendPathFile sends the local file path as name. mode and the times
// override the file's own when set.
func (s *scpSender) sendPathFile(path, name string, mode os.FileMode, mtime, atime time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return s.fail(errorf(KindExec, err, "scp"))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s.fail(errorf(KindExec, err, "scp"))
	}
	if !fi.Mode().IsRegular() {
		return s.fail(errorf(KindExec, nil, "scp: %s is not a regular file", path))
	}
	if mode == 0 {
		mode = s.o.fileMode()
		if s.o.PreserveMode {
			mode = fi.Mode()
		}
	}
	if mtime.IsZero() {
		// Go has no portable access time: the file's mtime stands in.
		mtime = fi.ModTime()
	}
	return s.sendFile(path, name, mode, fi.Size(), s.times(mtime, atime), f, KindExec)
}

// sendFile sends one C record and size bytes of body. A body shorter than
// size is an error of kind readKind; the remote then waits for the rest,
// so the stream must be closed.
func (s *scpSender) sendFile(local, name string, mode os.FileMode, size int64, t *scpTimes, body io.Reader, readKind Kind) error {
	if t != nil {
		if err := s.record(t.line(), local); err != nil {
			return err
		}
	}
	if err := s.record(fmt.Sprintf("C%04o %d %s\n", scpUnixMode(mode), size, name), local); err != nil {
		return err
	}
	var done int64
	for done < size {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(body, s.buf[:min(int64(len(s.buf)), size-done)])
		if n > 0 {
			if _, werr := s.w.Write(s.buf[:n]); werr != nil {
				return errorf(KindExec, werr, "scp: sending %s", local)
			}
			done += int64(n)
			s.o.progress(local, done, size)
		}
		if err != nil {
			return errorf(readKind, err, "scp: reading %s: got %d of %d bytes", local, done, size)
		}
	}
	if size == 0 {
		s.o.progress(local, 0, 0)
	}
	return s.record("\x00", local)
}

// sendDir sends the local directory path as name, with its entries.
func (s *scpSender) sendDir(path, name string, fi fs.FileInfo, mode os.FileMode, mtime, atime time.Time) error {
	if mode == 0 {
		mode = s.o.dirMode()
		if s.o.PreserveMode {
			mode = fi.Mode()
		}
	}
	if mtime.IsZero() {
		mtime = fi.ModTime()
	}
	if t := s.times(mtime, atime); t != nil {
		if err := s.record(t.line(), path); err != nil {
			return err
		}
	}
	if err := s.record(fmt.Sprintf("D%04o 0 %s\n", scpUnixMode(mode), name), path); err != nil {
		return err
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return s.fail(errorf(KindExec, err, "scp"))
	}
	for _, e := range entries {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		child := filepath.Join(path, e.Name())
		var info fs.FileInfo
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			info, err = os.Stat(child)
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
		case t.IsRegular() || t.IsDir():
			if info, err = e.Info(); err != nil {
				return s.fail(errorf(KindExec, err, "scp"))
			}
		default:
			continue
		}
		if err := checkScpName(e.Name()); err != nil {
			return s.fail(errorf(KindBadOption, err, "scp: cannot send %s", child))
		}
		if info.IsDir() {
			err = s.sendDir(child, e.Name(), info, 0, time.Time{}, time.Time{})
		} else {
			err = s.sendPathFile(child, e.Name(), 0, time.Time{}, time.Time{})
		}
		if err != nil {
			return err
		}
	}
	return s.record("E\n", path)
}

// ScpReceive speaks the sink side of scp over the remote scp's stdin (w)
// and stdout (r): the remote runs ScpReceiveCommand. When localPath is an
// existing directory the entries go inside it; otherwise the single file or
// directory sent is created as localPath, and a second one is an error.
//
// Nothing is written outside localPath: names that are empty, ".", "..",
// or hold a '/' or NUL are refused, as are directories without Recursive,
// symbolic links below localPath, sizes over 1 PiB and malformed lines.
// Such a refusal is a KindExec error wrapping an *ScpError with Code 0; the
// remote is told with a fatal status. A file cut short may be left partly
// written. Each record is answered before it arrives (okAhead), which
// saves a round trip per file; a refused record's data may then already
// be on its way, and is dropped with the channel.
//
// An error or warning from the remote (status 1, such as "scp: x: No such
// file or directory") is returned as a KindExec error wrapping an *ScpError
// once the remote has finished; a fatal one (status 2) at once. When ctx
// ends, ScpReceive returns ctx.Err(); a read in progress only ends when the
// caller closes the streams (the channel).
func ScpReceive(ctx context.Context, w io.Writer, r io.Reader, localPath string, o ScpOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if localPath == "" {
		return errorf(KindBadOption, nil, "scp: empty local path")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	size := o.bufferSize()
	s := &scpSink{ctx: ctx, w: w, r: bufio.NewReaderSize(r, size), o: &o, buf: make([]byte, size), root: localPath}
	if fi, err := os.Stat(localPath); err == nil && fi.IsDir() {
		s.rootIsDir = true
	}
	err := s.run()
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// scpSink is the state of one ScpReceive.
type scpSink struct {
	ctx       context.Context
	w         io.Writer
	r         *bufio.Reader
	o         *ScpOptions
	buf       []byte
	root      string
	rootIsDir bool
	stack     []*scpSinkDir // directories entered, innermost last
	times     *scpTimes     // from a T record, for the next C or D
	entries   int           // top-level entries received
	warning   *ScpError     // the first status 1 message
	// ahead is set while the remote holds a 0 status for a record
	// header it has not sent yet (okAhead).
	ahead bool
}

// scpSinkDir is a directory being received; its mode and times are
// applied when it is left, after its entries were written.
type scpSinkDir struct {
	path  string
	mode  os.FileMode
	chmod bool
	times *scpTimes
}

// ok answers the record or the file data just received with a 0 status,
// unless that status was sent ahead of the record.
func (s *scpSink) ok() error {
	if s.ahead {
		s.ahead = false
		return nil
	}
	return s.write([]byte{0})
}

// okAhead answers like ok and also sends the 0 status of the next record
// header (T, C, D or E) before it arrives: the remote, which reads one
// status after each record header and after each file's data, then sends
// a file's data without waiting a round trip for its C record's answer. A
// status for the end of a file's data is never sent ahead: it says that
// the data was written. When the next record is refused (a bad name, a
// file that cannot be created) the remote, told it could go on, reads
// the refusal as its next status, and the channel is closed.
func (s *scpSink) okAhead() error {
	if s.ahead {
		// The answer went ahead; this is only the next one. The remote
		// may have finished and gone already, so a failed write is no
		// error: a remote that is still there and needed it fails the
		// next read.
		s.w.Write([]byte{0})
		return nil
	}
	s.ahead = true
	return s.write([]byte{0, 0})
}

func (s *scpSink) write(status []byte) error {
	if _, err := s.w.Write(status); err != nil {
		return errorf(KindExec, err, "scp: receiving into %s", s.root)
	}
	return nil
}

// protocol refuses what the remote sent: it aborts the remote and returns
// an *ScpError with code 0.
func (s *scpSink) protocol(format string, args ...any) error {
	se := &ScpError{Code: 0, Msg: fmt.Sprintf(format, args...)}
	scpAbort(s.w, se)
	return errorf(KindExec, se, "scp: receiving into %s", s.root)
}

// local reports a local failure to the remote and returns it.
func (s *scpSink) local(err error, path string) error {
	scpAbort(s.w, err)
	return errorf(KindExec, err, "scp: receiving %s", path)
}

func (s *scpSink) closed(err error, where string) error {
	return errorf(KindExec, scpClosed(err, where), "scp: receiving into %s", s.root)
}

func (s *scpSink) run() error {
	// The remote waits for a first status before its first record.
	if err := s.okAhead(); err != nil {
		return err
	}
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		b, err := s.r.ReadByte()
		if err == io.EOF {
			return s.end()
		}
		if err != nil {
			return s.closed(err, "")
		}
		line, err := readScpLine(s.r)
		if err != nil {
			var se *ScpError
			switch {
			case errors.As(err, &se):
				return s.protocol("%s", se.Msg)
			case (b == 1 || b == 2) && errors.Is(err, io.EOF):
				// a message without its newline: still the message
			default:
				return s.closed(err, "in the middle of a record")
			}
		}
		switch b {
		case 1:
			// A warning (a file that could not be sent): the remote
			// goes on with the next one.
			if s.warning == nil {
				s.warning = &ScpError{Code: 1, Msg: line}
			}
			continue
		case 2:
			return errorf(KindExec, &ScpError{Code: 2, Msg: line}, "scp: receiving into %s", s.root)
		case 'T':
			err = s.timesRecord(line)
		case 'C':
			err = s.file(line)
		case 'D':
			err = s.dir(line)
		case 'E':
			err = s.leave(line)
		default:
			return s.protocol("unexpected record %q", truncate(string(b)+line, 64))
		}
		if err != nil {
			return err
		}
	}
}

// end handles the end of the stream.
func (s *scpSink) end() error {
	switch {
	case len(s.stack) > 0:
		return s.closed(io.EOF, "inside directory "+s.stack[len(s.stack)-1].path)
	case s.times != nil:
		return s.closed(io.EOF, "after a T record")
	case s.warning != nil:
		return errorf(KindExec, s.warning, "scp: receiving into %s", s.root)
	case s.entries == 0:
		return s.closed(io.EOF, "before anything was sent")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// scpDigits parses a non-negative decimal number of at most 19 digits.
func scpDigits(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (s *scpSink) timesRecord(line string) error {
	f := strings.Split(line, " ")
	if len(f) != 4 {
		return s.protocol("malformed times %q", truncate(line, 64))
	}
	var v [4]int64
	for i := range f {
		n, ok := scpDigits(f[i])
		if !ok || (i%2 == 1 && n > 999999) {
			return s.protocol("malformed times %q", truncate(line, 64))
		}
		v[i] = n
	}
	s.times = &scpTimes{mtime: time.Unix(v[0], v[1]*1000), atime: time.Unix(v[2], v[3]*1000)}
	return s.okAhead()
}

// entry parses the rest of a C or D record: "<octal mode> <size> <name>".
func (s *scpSink) entry(line string) (mode os.FileMode, size int64, name string, err error) {
	m, rest, ok := strings.Cut(line, " ")
	u, perr := strconv.ParseUint(m, 8, 32)
	if !ok || len(m) > 6 || perr != nil {
		return 0, 0, "", s.protocol("malformed mode in %q", truncate(line, 64))
	}
	sz, name, ok := strings.Cut(rest, " ")
	size, okSize := scpDigits(sz)
	if !ok || !okSize || size > scpMaxSize {
		return 0, 0, "", s.protocol("invalid size in %q", truncate(line, 64))
	}
	if err := checkScpName(name); err != nil {
		return 0, 0, "", s.protocol("refusing %v", err)
	}
	return scpFileMode(uint32(u) & 0o7777), size, name, nil
}

// target returns where the entry name goes.
func (s *scpSink) target(name string) (string, error) {
	if n := len(s.stack); n > 0 {
		return filepath.Join(s.stack[n-1].path, name), nil
	}
	s.entries++
	if s.rootIsDir {
		return filepath.Join(s.root, name), nil
	}
	if s.entries > 1 {
		return "", s.protocol("more than one entry sent, but %s is not a directory", s.root)
	}
	return s.root, nil
}

// takeTimes returns the pending times if they are to be applied.
func (s *scpSink) takeTimes() *scpTimes {
	t := s.times
	s.times = nil
	if !s.o.PreserveTimes {
		return nil
	}
	return t
}

// lstat returns the entry at path below the root, refusing symbolic links.
// The root itself, named by the caller, may be one.
func (s *scpSink) lstat(path string) (fs.FileInfo, error) {
	if path == s.root {
		return os.Stat(path)
	}
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, s.protocol("refusing to write through the symbolic link %s", path)
	}
	return fi, err
}

func (s *scpSink) file(line string) error {
	mode, size, name, err := s.entry(line)
	if err != nil {
		return err
	}
	path, err := s.target(name)
	if err != nil {
		return err
	}
	t := s.takeTimes()
	chmod := s.o.PreserveMode || s.o.FileMode != 0
	if !s.o.PreserveMode {
		mode = s.o.fileMode()
	}
	fi, err := s.lstat(path)
	var se *Error
	switch {
	case errors.As(err, &se):
		return err
	case err == nil && fi.IsDir():
		return s.local(fmt.Errorf("%s is a directory", path), path)
	case err != nil:
		chmod = true // a new file
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return s.local(err, path)
	}
	defer f.Close()
	if err := s.ok(); err != nil {
		return err
	}
	// The remote sends size bytes whatever happens here: after a local
	// write error keep reading them, then report it.
	var done int64
	var werr error
	for done < size {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(s.r, s.buf[:min(int64(len(s.buf)), size-done)])
		if werr == nil && n > 0 {
			_, werr = f.Write(s.buf[:n])
		}
		done += int64(n)
		if err != nil {
			return s.closed(err, fmt.Sprintf("after %d of %d bytes of %s", done, size, path))
		}
		if werr == nil {
			s.o.progress(path, done, size)
		}
	}
	if size == 0 {
		s.o.progress(path, 0, 0)
	}
	if err := readScpAck(s.r); err != nil {
		return errorf(KindExec, err, "scp: receiving %s", path)
	}
	if werr == nil && chmod {
		werr = f.Chmod(mode) // after creating, so the umask does not apply
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil && t != nil {
		werr = os.Chtimes(path, t.atime, t.mtime)
	}
	if werr != nil {
		return s.local(werr, path)
	}
	return s.okAhead()
}

func (s *scpSink) dir(line string) error {
	if !s.o.Recursive {
		return s.protocol("refusing directory %q: Recursive is not set", truncate(line, 64))
	}
	mode, _, name, err := s.entry(line)
	if err != nil {
		return err
	}
	path, err := s.target(name)
	if err != nil {
		return err
	}
	d := &scpSinkDir{path: path, mode: mode, chmod: s.o.PreserveMode || s.o.DirMode != 0, times: s.takeTimes()}
	if !s.o.PreserveMode {
		d.mode = s.o.dirMode()
	}
	fi, err := s.lstat(path)
	var se *Error
	switch {
	case errors.As(err, &se):
		return err
	case err == nil && !fi.IsDir():
		return s.local(fmt.Errorf("%s exists and is not a directory", path), path)
	case errors.Is(err, fs.ErrNotExist):
		// Writable by us while its entries arrive; the mode is set on E.
		if err := os.Mkdir(path, 0o700); err != nil {
			return s.local(err, path)
		}
		d.chmod = true
	case err != nil:
		return s.local(err, path)
	}
	s.stack = append(s.stack, d)
	return s.okAhead()
}

func (s *scpSink) leave(line string) error {
	if line != "" {
		return s.protocol("malformed end of directory %q", truncate("E"+line, 64))
	}
	if s.times != nil {
		return s.protocol("times not followed by a file or directory")
	}
	n := len(s.stack)
	if n == 0 {
		return s.protocol("end of directory at top level")
	}
	d := s.stack[n-1]
	s.stack = s.stack[:n-1]
	if d.chmod {
		if err := os.Chmod(d.path, d.mode); err != nil {
			return s.local(err, d.path)
		}
	}
	if d.times != nil {
		if err := os.Chtimes(d.path, d.times.atime, d.times.mtime); err != nil {
			return s.local(err, d.path)
		}
	}
	return s.okAhead()
}
