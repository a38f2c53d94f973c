package record

import (
	"context"
	"errors"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// maxCheckProblems bounds how many problems a check reports.
const maxCheckProblems = 20

// CheckConsistency verifies the store in its transaction: every record decodes (chunks complete
// and in order), every index that is not DISABLED has exactly the entries its records call for
// (each record's entries exist, and each entry points to a record with those values), and
// DISABLED indexes hold no entries. It reads the whole store, so it is meant for tests and
// repair tools. The error lists up to 20 problems.
func (s *Store) CheckConsistency() error {
	var problems []error
	add := func(err error) bool {
		problems = append(problems, err)
		return len(problems) < maxCheckProblems
	}
	checkers := make(map[*Index]indexChecker, len(s.md.indexes))
	for _, ix := range s.md.indexes {
		if s.maintained(ix) {
			checkers[ix] = ix.kind.maintainer.checker(s, ix)
		}
	}
	err := s.scanAllRecords(func(rec *Record) error {
		pk, err := evaluateSingle(rec.Type.primaryKey, rec.Message.ProtoReflect(), rec.Type)
		if err != nil {
			return err
		}
		if tuple.Compare(pk, rec.PrimaryKey) != 0 {
			if !add(fmt.Errorf("record %s stored under %v has primary key %v", rec.Type.name, rec.PrimaryKey, pk)) {
				return errStop
			}
		}
		for _, ix := range rec.Type.indexes {
			if c := checkers[ix]; c != nil {
				if err := c.add(rec); err != nil {
					return err
				}
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
		if !s.maintained(ix) {
			// A DISABLED index holds nothing.
			rows, err := s.tr.GetRange(s.indexRange(ix), kv.RangeOptions{Limit: 1}).GetSlice()
			if err != nil {
				return fmt.Errorf("record: check: %w", err)
			}
			if len(rows) > 0 {
				add(fmt.Errorf("disabled index %q has entry %s", ix.Name, kv.Printable(rows[0].Key)))
			}
			continue
		}
		ps, err := checkers[ix].finish(maxCheckProblems - len(problems))
		if err != nil {
			return fmt.Errorf("record: check: %w", err)
		}
		problems = append(problems, ps...)
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
