package directory

import (
	"encoding/binary"
	"fmt"

	"github.com/layerkit/layerkit/kv"
)

// checkVersion checks the stored version read by f (spec §1). With tr nil the check is for a
// read-only operation; with tr set it is for a write, which also writes the version key when it
// is absent. Versions are read as unsigned, so a stored major of 0xffffffff is refused rather
// than read as -1.
func (l *Layer) checkVersion(f kv.Future[[]byte], tr kv.Transaction) error {
	v, err := f.Get()
	if err != nil {
		return err
	}
	if v == nil {
		if tr != nil {
			tr.Set(l.versionKey(), versionValue)
		}
		return nil
	}
	if len(v) < 12 {
		return fmt.Errorf("%w (value %x is %d bytes, want 12)", ErrInvalidVersion, v, len(v))
	}
	major := binary.LittleEndian.Uint32(v[0:])
	minor := binary.LittleEndian.Uint32(v[4:])
	micro := binary.LittleEndian.Uint32(v[8:])
	if major > majorVersion {
		return fmt.Errorf("%w: cannot load directory with version %d.%d.%d using directory layer %d.%d.%d",
			ErrVersionTooNew, major, minor, micro, majorVersion, minorVersion, microVersion)
	}
	if minor > minorVersion && tr != nil {
		return fmt.Errorf("%w: directory with version %d.%d.%d is read-only when opened using directory layer %d.%d.%d",
			ErrVersionTooNew, major, minor, micro, majorVersion, minorVersion, microVersion)
	}
	return nil
}
