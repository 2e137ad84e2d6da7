package bbssh

import (
	"os"
	"path/filepath"
)

// replaceFile replaces file with data, with the given mode, through a
// temporary file in the same directory that is synced and then renamed
// into place: a crash never leaves half a file, and a reader sees the old
// content or the new, never a mix. Key files and known_hosts are written
// this way.
func replaceFile(file string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync() // on disk before the rename makes it the file
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	return err
}
