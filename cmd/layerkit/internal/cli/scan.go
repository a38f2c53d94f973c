package cli

import (
	"context"
	"errors"

	"github.com/layerkit/layerkit/kv"
)

// scanPageSize is how many rows one transaction of a scan reads: far below what five seconds
// allow, so that a scan of any size never meets transaction_too_old.
const scanPageSize = 1000

// errStopScan ends a scan early without an error.
var errStopScan = errors.New("stop scan")

// scanRange reads every row of r in key order (reverse: backwards), in pages of at most
// pageSize rows, each page in a read transaction of its own that resumes after the last row of
// the one before, and calls fn with each row. fn returns errStopScan to stop. Rows of different
// pages are read at different versions: the scan is not a snapshot of the whole range, which
// is what lets it read more than one transaction can.
func scanRange(ctx context.Context, db kv.ReadTransactor, r kv.Range, reverse bool, pageSize int, fn func(kv.KeyValue) error) error {
	begin, end := r.Begin, r.End
	for {
		rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
			return tr.Snapshot().GetRange(kv.Range{Begin: begin, End: end}, kv.RangeOptions{Limit: pageSize, Reverse: reverse}).GetSlice()
		})
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := fn(row); err != nil {
				if errors.Is(err, errStopScan) {
					return nil
				}
				return err
			}
		}
		if len(rows) < pageSize {
			return nil
		}
		last := rows[len(rows)-1].Key
		if reverse {
			end = last
		} else {
			begin = kv.KeyAfter(last)
		}
	}
}
