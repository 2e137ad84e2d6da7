package pod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits of one request frame. The bencode decoder allocates a string's
// declared length before reading it and recurses once per nesting level,
// so a frame such as "d2:op999999999999:" or a million "l"s would exhaust
// memory or the goroutine stack (a fatal error recover cannot catch). The
// reader therefore scans each frame itself first, without recursion and
// allocating only for bytes that arrive, and hands the decoder a frame
// that is within these limits.
const (
	// MaxFrame bounds the bytes of one request frame. The largest
	// legitimate requests carry data as base64 in their arguments: sftp
	// write and scp data given as a string or bytes (4/3 of the data), and
	// the 256 KiB chunks of the stream pumps. 256 MiB leaves room for
	// 190 MiB of data in one call; larger data belongs in a file or an
	// InputStream, which travel in chunks.
	MaxFrame = 256 << 20
	// MaxFrameDepth bounds the nesting of lists and dictionaries. Requests
	// are flat dictionaries of strings.
	MaxFrameDepth = 32
	// maxNumberLen bounds the digits of an integer or a string length.
	maxNumberLen = 32
	// structureSlack is how far past the frame limit the bytes of lists,
	// dictionaries and integers may take a frame before it is refused as
	// garbage: a frame whose strings just fit still gets its closing bytes.
	structureSlack = 64 << 10
)

// ErrTooLarge reports a frame beyond MaxFrame or MaxFrameDepth. The frame
// was read to its end, so the stream stays in step: the Message returned
// with this error holds the fields that fitted (its id), and the server
// answers it with an error and goes on serving.
var ErrTooLarge = errors.New("pod: request too large")

// errSyntax reports bytes that are not bencode; the stream cannot be
// resynchronised after it.
var errSyntax = errors.New("pod: bencode syntax error")

// scanFrame reads one bencode value from br and returns its bytes. A
// string that would take the frame past maxFrame is read and dropped, and
// a list or dictionary nested deeper than maxDepth is dropped whole; each
// is replaced by an empty string and reported, once the frame's end has
// been read, by an error wrapping ErrTooLarge.
func scanFrame(br *bufio.Reader, maxFrame, maxDepth int) ([]byte, error) {
	var (
		out      bytes.Buffer
		depth    int   // current nesting
		dropAt   int   // nesting of the container being dropped, 0 if none
		tooLarge error // the first limit exceeded
	)
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, eofInFrame(err)
		}
		keep := dropAt == 0
		switch {
		case c == 'l' || c == 'd':
			depth++
			if keep && depth > maxDepth {
				dropAt, keep = depth, false
				tooLarge = firstErr(tooLarge, fmt.Errorf("%w: lists and dictionaries nested deeper than %d levels", ErrTooLarge, maxDepth))
			}
			if keep {
				out.WriteByte(c)
			}
		case c == 'e':
			if depth == 0 {
				return nil, fmt.Errorf("%w: 'e' outside a list or dictionary", errSyntax)
			}
			if keep {
				out.WriteByte(c)
			} else if depth == dropAt {
				dropAt = 0
				out.WriteString("0:")
			}
			depth--
		case c == 'i':
			digits, err := readNumber(br, 'e')
			if err != nil {
				return nil, err
			}
			if keep {
				out.WriteByte('i')
				out.Write(digits)
				out.WriteByte('e')
			}
		case c >= '0' && c <= '9':
			br.UnreadByte()
			digits, err := readNumber(br, ':')
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(string(digits), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: bad string length %q", errSyntax, digits)
			}
			if keep && int64(out.Len())+int64(len(digits))+1+n > int64(maxFrame) {
				keep = false
				tooLarge = firstErr(tooLarge, fmt.Errorf("%w: a string of %d bytes takes the request past the pod's limit of %d bytes; send large data as a file or an InputStream", ErrTooLarge, n, maxFrame))
				if dropAt == 0 {
					out.WriteString("0:")
				}
			}
			if keep {
				out.Write(digits)
				out.WriteByte(':')
				_, err = io.CopyN(&out, br, n) // grows as bytes arrive
			} else {
				_, err = io.CopyN(io.Discard, br, n)
			}
			if err != nil {
				return nil, eofInFrame(err)
			}
		default:
			return nil, fmt.Errorf("%w: unexpected byte %q", errSyntax, c)
		}
		if out.Len() > maxFrame+structureSlack {
			// Only lists, dictionaries and integers get here: no
			// legitimate request has megabytes of those.
			return nil, fmt.Errorf("%w: more than %d bytes of lists, dictionaries and integers", errSyntax, maxFrame)
		}
		if depth == 0 {
			return out.Bytes(), tooLarge
		}
	}
}

// readNumber reads the digits (and sign) of a number up to delim, which it
// consumes.
func readNumber(br *bufio.Reader, delim byte) ([]byte, error) {
	var digits []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, eofInFrame(err)
		}
		if c == delim {
			return digits, nil
		}
		if len(digits) >= maxNumberLen {
			return nil, fmt.Errorf("%w: number longer than %d characters", errSyntax, maxNumberLen)
		}
		digits = append(digits, c)
	}
}

// eofInFrame reports the end of the stream inside a frame as
// io.ErrUnexpectedEOF.
func eofInFrame(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func firstErr(have, err error) error {
	if have != nil {
		return have
	}
	return err
}
