package pod

import "fmt"

// Limits of an invoke's EDN arguments. The EDN decoder recurses once per
// level of nesting, per tagged literal and per #_ discard in a row, and
// running out of goroutine stack is a fatal error that recover cannot
// catch: arguments some tens of millions of brackets deep would kill the
// pod. Within these limits the decoder recurses at most some ten thousand
// times, a few megabytes of stack. Real arguments nest a handful of levels
// (a vector of source maps, an option map holding a proxy map) and carry
// no tags.
const (
	// MaxArgsDepth bounds the nesting of lists, vectors, maps and sets.
	MaxArgsDepth = 1000
	// MaxArgsDispatch bounds the # dispatches other than sets (tagged
	// literals and #_ discards) in one invoke's arguments.
	MaxArgsDispatch = 10000
)

// checkEDNLimits reports an error when src nests collections deeper than
// maxDepth or holds more than maxDispatch tags and discards. It follows
// just enough of EDN's syntax to count: brackets and # in strings,
// character literals and comments do not count. It may count more than
// the decoder sees, never less.
func checkEDNLimits(src string, maxDepth, maxDispatch int) error {
	depth, dispatch := 0, 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '(', '[', '{':
			depth++
			if depth > maxDepth {
				return fmt.Errorf("arguments nested deeper than %d levels", maxDepth)
			}
		case ')', ']', '}':
			depth--
		case '#':
			if i+1 < len(src) && src[i+1] == '{' {
				continue // a set: counted by its bracket
			}
			dispatch++
			if dispatch > maxDispatch {
				return fmt.Errorf("arguments hold more than %d tagged literals and #_ discards", maxDispatch)
			}
		case '"':
			// Skip the string, with its escapes.
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case '\\':
			i++ // a character literal such as \( or \#
		case ';':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		}
	}
	return nil
}
