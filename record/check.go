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
// and in order, a version only next to a record), every index that is not DISABLED agrees with
// the records (a value or version index has exactly the entries its records call for; an
// aggregate index holds what recounting the records gives), DISABLED indexes hold no entries,
// and the record count key's counts match a recount. It reads the whole store, so it is meant
// for tests and repair tools. The error lists up to 20 problems.
func (s *Store) CheckConsistency() error {
	var problems []error
	add := func(err error) bool {
		problems = append(problems, err)
		return len(problems) < maxCheckProblems
	}
	counts := map[string]int64{}
	checkers := make(map[*Index]indexChecker, len(s.md.indexes))
	built := map[*Index]func([]byte) bool{} // WRITE_ONLY indexes being built (indexer.go)
	for _, ix := range s.md.indexes {
		if s.maintained(ix) {
			checkers[ix] = ix.kind.maintainer.checker(s, ix)
			f, err := s.builtPredicate(ix)
			if err != nil {
				return fmt.Errorf("record: check: %w", err)
			}
			if f != nil {
				built[ix] = f
			}
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
		if s.countKey != nil {
			v, err := evaluateSingle(s.countKey, rec.Message.ProtoReflect(), rec.Type)
			if err != nil {
				return err
			}
			counts[string(v.Pack())]++
		}
		for _, ix := range rec.Type.indexes {
			c := checkers[ix]
			if c == nil {
				continue
			}
			if f := built[ix]; f != nil && !f(rec.PrimaryKey.Pack()) {
				// Not built yet: saves may have indexed it (idempotent types) or not.
				if o, ok := c.(optionalChecker); ok && isIdempotent(ix) {
					if err := o.addOptional(rec); err != nil {
						return err
					}
				}
				continue
			}
			if err := c.add(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("record: check: %w", err)
	}
	ps, err := s.checkVersionsAndCounts(counts, maxCheckProblems-len(problems))
	if err != nil {
		return fmt.Errorf("record: check: %w", err)
	}
	problems = append(problems, ps...)
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

// checkVersionsAndCounts reports version keys without a record (next to the records, or in the
// old version space) and record counts that differ from counts, the recount of the records.
func (s *Store) checkVersionsAndCounts(counts map[string]int64, max int) ([]error, error) {
	var problems []error
	if !s.omitsUnsplitSuffix() {
		// Rows of one primary key are adjacent and the version (suffix -1) comes first.
		var pending []byte
		it := s.tr.GetRange(s.subRange(keyRecord), kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
		for it.Next() && len(problems) < max {
			pkPrefix, pk, last, err := splitRecordKey(s.records, it.KeyValue().Key)
			if err != nil {
				return nil, err
			}
			suffix, _ := suffixValue(it.KeyValue().Key, last)
			if pending != nil && string(pending) != string(pkPrefix) {
				problems = append(problems, fmt.Errorf("record %v has a version but no data", pk))
			}
			pending = nil
			if suffix == versionSuffix {
				pending = pkPrefix
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		if pending != nil && len(problems) < max {
			problems = append(problems, fmt.Errorf("a record has a version but no data: %s", kv.Printable(pending)))
		}
	}
	base := s.key(keyRecordVersion)
	rows, err := s.tr.GetRange(prefixRange(base), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if len(problems) >= max {
			break
		}
		pk, err := tuple.Unpack(r.Key[len(base):])
		if err != nil {
			problems = append(problems, fmt.Errorf("old-format version key %s: %w", kv.Printable(r.Key), ErrCorruptStore))
			continue
		}
		if !s.md.storeRecordVersions || !s.usesOldVersionFormat() {
			problems = append(problems, fmt.Errorf("record %v has an old-format version, which this store does not keep", pk))
			continue
		}
		ok, err := s.Exists(pk)
		if err != nil {
			return nil, err
		}
		if !ok {
			problems = append(problems, fmt.Errorf("record %v has an old-format version but no data", pk))
		}
	}
	if s.countKey == nil {
		return problems, nil
	}
	base = s.key(keyRecordCount)
	rows, err = s.tr.GetRange(kv.Range{Begin: base, End: strincOrEnd(base)}, kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		n, err := decodeInt64(r.Value)
		if err != nil {
			return nil, err
		}
		k := string(r.Key[len(base):])
		if want := counts[k]; n != want && len(problems) < max {
			v, _ := tuple.Unpack([]byte(k))
			problems = append(problems, fmt.Errorf("record count of %v is %d, the records number %d", v, n, want))
		}
		delete(counts, k)
	}
	for k, n := range counts {
		if len(problems) >= max {
			break
		}
		v, _ := tuple.Unpack([]byte(k))
		problems = append(problems, fmt.Errorf("record count of %v is missing, the records number %d", v, n))
	}
	return problems, nil
}

// Check opens the store at prefix read-only (OpenReadOnly) in a read transaction of db and runs
// CheckConsistency. Its signature fits testdb.Check: testdb.Check(t, db, "record",
// record.Check(md, prefix)). A prefix without a store passes.
func Check(md *MetaData, prefix Prefix) func(ctx context.Context, db kv.Database) error {
	return func(ctx context.Context, db kv.Database) error {
		return db.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
			s, err := OpenReadOnly(ctx, tr, md, prefix)
			if err != nil {
				return err
			}
			return s.CheckConsistency()
		})
	}
}
