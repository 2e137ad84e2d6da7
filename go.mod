module bbssh

go 1.26.8

require (
	github.com/creack/pty v1.1.24
	github.com/jackpal/bencode-go v1.0.2
	github.com/kevinburke/ssh_config v1.6.0
	github.com/pkg/sftp v1.13.12
	github.com/russross/blackfriday/v2 v2.1.0
	github.com/skeema/knownhosts v1.3.3
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
	olympos.io/encoding/edn v0.0.0-20201019073823-d3554ca0b0a3
)

require github.com/kr/fs v0.1.0 // indirect

// golang.org/x/crypto is carried openly with a small patch series:
// third_party/PATCHES.md.
replace golang.org/x/crypto => ./third_party/golang.org/x/crypto
