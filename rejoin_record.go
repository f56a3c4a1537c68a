package rollbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const (
	// rejoinMaxFileSize bounds what is read from a record file; a bigger
	// file is not a record this code wrote.
	rejoinMaxFileSize = 4 << 10
	// rejoinMaxField bounds the match identity and the key.
	rejoinMaxField = 64
	// rejoinMaxHandle bounds a player handle in a record.
	rejoinMaxHandle = 1 << 16
	// rejoinDefaultMaxAge is how long a record not touched stays claimable:
	// long enough to notice a crash and start the game again by hand, short
	// enough that the match it names is likely still playing.
	rejoinDefaultMaxAge = 2 * time.Minute
)

// rejoinRecord is what a player peer keeps on disk while its match plays, so
// that the same command line started again after a crash comes back as the
// same player.
type rejoinRecord struct {
	Match  string `json:"match"`  // the match's identity (opaque string, <= 64 bytes)
	Handle int    `json:"handle"` // the first local player handle
	Key    string `json:"key"`    // secret proving the identity (opaque, <= 64 bytes)
	Frame  int    `json:"frame"`  // informative: the last frame the process reached
}

// validate reports whether r is a record this code would write.
func (r rejoinRecord) validate() error {
	switch {
	case r.Match == "" || len(r.Match) > rejoinMaxField:
		return fmt.Errorf("rollbox: rejoin record: match identity of %d bytes, want 1..%d", len(r.Match), rejoinMaxField)
	case len(r.Key) > rejoinMaxField:
		return fmt.Errorf("rollbox: rejoin record: key of %d bytes, above %d", len(r.Key), rejoinMaxField)
	case r.Handle < 0 || r.Handle >= rejoinMaxHandle:
		return fmt.Errorf("rollbox: rejoin record: handle %d out of range", r.Handle)
	case r.Frame < 0:
		return fmt.Errorf("rollbox: rejoin record: negative frame %d", r.Frame)
	}
	return nil
}

// rejoinFile is a record file's content: the record, the full scope hash (the
// file name has only its first 16 hex digits, so a record of another scope
// whose name collides is still never returned), and when it was last touched.
type rejoinFile struct {
	Scope   string       `json:"scope"`   // hex sha256 of the scope
	Touched int64        `json:"touched"` // Unix milliseconds
	Record  rejoinRecord `json:"record"`
}

// decodeRejoinFile decodes and validates a record file. Any input that is not
// exactly a file this code writes is an error; it never panics.
func decodeRejoinFile(b []byte) (rejoinFile, error) {
	var f rejoinFile
	if len(b) > rejoinMaxFileSize {
		return f, fmt.Errorf("rollbox: rejoin record: file of %d bytes, above %d", len(b), rejoinMaxFileSize)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		return rejoinFile{}, fmt.Errorf("rollbox: rejoin record: %w", err)
	}
	if d.More() {
		return rejoinFile{}, errors.New("rollbox: rejoin record: data after the record")
	}
	if len(f.Scope) != 2*sha256.Size {
		return rejoinFile{}, errors.New("rollbox: rejoin record: bad scope hash")
	}
	if _, err := hex.DecodeString(f.Scope); err != nil {
		return rejoinFile{}, errors.New("rollbox: rejoin record: bad scope hash")
	}
	if err := f.Record.validate(); err != nil {
		return rejoinFile{}, err
	}
	return f, nil
}
