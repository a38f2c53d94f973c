package record

import (
	"context"
	"errors"
	"fmt"

	"github.com/layerkit/layerkit/kv"
)

// maxCheckProblems bounds how many problems a check reports.
const maxCheckProblems = 20

// CheckConsistency verifies the store in its transaction: every record decodes (chunks complete
// and in order), every index that is not DISABLED has exactly the entries its records call for
// (each record's entries exist, and each entry points to a record with those values), and
// DISABLED indexes hold no entries. It reads the whole store, so it is meant for tests and
// repair tools. The error lists up to 20 problems.
func (s *Store) CheckConsistency() error {
	expected := make(map[string]map[string]bool, len(s.md.indexes))
	for _, ix := range s.md.indexes {
		expected[ix.Name] = map[string]bool{}
	}
	var problems []error
	add := func(err error) bool {
		problems = append(problems, err)
		return len(problems) < maxCheckProblems
	}
	err := s.scanAllRecords(func(rec *Record) error {
		pk, err := evaluateSingle(rec.Type.primaryKey, rec.Message.ProtoReflect(), rec.Type)
		if err != nil {
			return err
		}
		if tuple0 := pk; len(tuple0) != len(rec.PrimaryKey) || string(tuple0.Pack()) != string(rec.PrimaryKey.Pack()) {
			if !add(fmt.Errorf("record %s stored under %v has primary key %v", rec.Type.name, rec.PrimaryKey, pk)) {
				return errStop
			}
		}
		for _, ix := range rec.Type.indexes {
			if s.states[ix.Name] == Disabled {
				continue
			}
			es, err := maintainerFor(ix).entries(nil, s, ix, rec)
			if err != nil {
				return err
			}
			for _, w := range es {
				expected[ix.Name][string(w.key)] = true
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("record: check: %w", err)
	}
	for _, ix := range s.md.indexes {
		if len(problems) >= maxCheckProblems {
			break
		}
		want := expected[ix.Name]
		it := s.tr.GetRange(s.indexRange(ix), kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
		for it.Next() && len(problems) < maxCheckProblems {
			k := it.KeyValue().Key
			if s.states[ix.Name] == Disabled {
				add(fmt.Errorf("disabled index %q has entry %s", ix.Name, kv.Printable(k)))
				continue
			}
			if !want[string(k)] {
				e, derr := s.decodeEntry(ix, k)
				if derr != nil {
					add(derr)
				} else {
					add(fmt.Errorf("index %q entry %v → %v has no record with those values", ix.Name, e.Values, e.PrimaryKey))
				}
				continue
			}
			delete(want, string(k))
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("record: check: %w", err)
		}
		for k := range want {
			if len(problems) >= maxCheckProblems {
				break
			}
			e, _ := s.decodeEntry(ix, []byte(k))
			add(fmt.Errorf("index %q lacks entry %v → %v", ix.Name, e.Values, e.PrimaryKey))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("record: store at %s is inconsistent: %w", kv.Printable(s.prefix), errors.Join(problems...))
	}
	return nil
}

var errStop = errors.New("stop")

// Check opens the store at prefix in a read transaction of db and runs CheckConsistency. Its
// signature fits testdb.Check: testdb.Check(t, db, "record", record.Check(md, prefix)). It does
// not create the store: an empty prefix passes.
func Check(md *MetaData, prefix Prefix) func(ctx context.Context, db kv.Database) error {
	return func(ctx context.Context, db kv.Database) error {
		return db.Transact(ctx, func(tr kv.Transaction) error {
			raw, err := tr.Get(append(append([]byte(nil), prefix.Bytes()...), 0x14)).Get()
			if err != nil || raw == nil {
				return err
			}
			s, err := Open(ctx, tr, md, prefix)
			if err != nil {
				return err
			}
			return s.CheckConsistency()
		})
	}
}
